"""The pure domain: models, state machine, end-reason inference, validation rules. No I/O."""
