"""Amazon Chime SDK meetings backend: the one deployable package shared by every function."""
