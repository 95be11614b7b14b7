"""The integration harness (real handlers in-process, moto, the emulator over HTTP), so that
DynamoDB faults can be injected at botocore's level into the very client the handlers use."""

from __future__ import annotations

from tests.integration.conftest import api as api  # noqa: PLC0414 - re-exported fixture
from tests.integration.conftest import atomic_moto, aws_env, backend, chime_endpoint, table

__all__ = ["api", "atomic_moto", "aws_env", "backend", "chime_endpoint", "table"]
