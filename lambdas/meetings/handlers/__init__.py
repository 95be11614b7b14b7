"""Thin Lambda entry points: Powertools wiring only. A handler never talks to boto3 directly."""
