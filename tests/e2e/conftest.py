"""The local stack, started once for the e2e suite on ephemeral ports, driven over HTTP only."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.stack import LocalStack
from tests.localstack_support import Api, stack_config_for_tests, wait_until


# Package scope: the stack must be gone before other suites run, or its pollers would drain
# the queues of suites that patch botocore in-process (moto's mock_aws).
@pytest.fixture(scope="package")
def local_stack() -> Iterator[LocalStack]:
    with LocalStack(stack_config_for_tests()) as stack:
        yield stack


@pytest.fixture
def api(local_stack: LocalStack) -> Iterator[Api]:
    client = Api(local_stack.api_url)
    yield client
    client.request("DELETE", "/_local/faults")
    client.request("POST", "/_local/chaos", body={})


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names no other test uses (the stack is shared by the whole session)."""
    run = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{run}"


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_until
