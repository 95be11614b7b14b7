"""The local stack, started once for the e2e suite on ephemeral ports, driven over HTTP only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack
from tests.localstack_support import api, stack_config_for_tests, unique, wait  # noqa: F401


# Package scope: the stack must be gone before other suites run, or its pollers would drain
# the queues of suites that patch botocore in-process (moto's mock_aws).
@pytest.fixture(scope="package")
def local_stack() -> Iterator[LocalStack]:
    with LocalStack(stack_config_for_tests()) as stack:
        yield stack
