"""The use cases (create, join, end, provision, apply_event, reconcile), orchestrating ports."""
