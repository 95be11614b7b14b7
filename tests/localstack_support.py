"""What the suites that drive the local stack over HTTP share: an HTTP client as a mobile or
web app would use it, a poll-until helper, the stack's test configuration, and the fixtures
`api`, `unique` and `wait` (a suite's conftest imports them next to its own `local_stack`).

The stack is started once per package (a package-scoped fixture in a folder with an
`__init__.py`): it must be gone before other suites run, or its pollers would drain the queues
of suites that patch botocore in-process (moto's mock_aws); `LocalStack.stop()` also resets
moto's process-wide state.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack, LocalStackConfig

# Every local stack of a test session records its functions' IAM decisions here; the session
# writes the used/granted table beside it (tests/conftest.py, docs/deploy.md).
IAM_USAGE_DIR = Path(__file__).resolve().parents[1] / "build" / "iam-usage"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Api:
    base_url: str

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"content-type": "application/json", **(headers or {})}
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return Response(answer.status, _lower(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, _lower(error.headers.items()), error.read())

    def token(self, sub: str, **claims: Any) -> str:
        answer = self.request("POST", "/_local/token", body={"sub": sub, **claims})
        assert answer.status == 200, answer.body
        token: str = answer.json["token"]
        return token


def _lower(items: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


def wait_until(check: Callable[[], Any], *, timeout: float = 15.0, every: float = 0.1) -> Any:
    """The first truthy result of `check`, polling as a client app would (events take a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)


END_SETTLE_SECONDS = 120  # the functions' default (docs/events.md, "Settlement")


def events_in(stack: LocalStack, *, timeout: float = 60.0) -> bool:
    """Until the Chime events queue is empty, in flight included: a Chime event refused because
    it overtook its record's write comes back after the queue's visibility timeout, in real
    time, whatever the world clock says."""
    sqs = stack.client("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    def empty() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.events_poller.queue_url, AttributeNames=names
        )["Attributes"]
        return sum(int(attributes[name]) for name in names) == 0

    return bool(wait_until(empty, timeout=timeout, every=0.2))


def settle_end_reasons(
    api: Api, stack: LocalStack, *, reconcile: bool = False, attempts: int = 5
) -> dict[str, Any]:
    """What a developer does to see an inferred end reason: let the events in flight land (the
    settle window stands for their latency, which the world clock does not shorten), move the
    world clock past the settle window, then run the cleanup as its schedule would (`reconcile`
    adds a full reconciliation). A run that finds a meeting changed meanwhile leaves it due
    (`skipped`), so it runs again until nothing is left; the last run's summary."""
    assert events_in(stack), "Chime events still queued"
    advance = {"seconds": END_SETTLE_SECONDS + 1}
    advanced = api.request("POST", "/_local/clock/advance", body=advance)
    assert advanced.status == 200, advanced.body
    body = {"reconcile": "all"} if reconcile else {}
    summary: dict[str, Any] = {}
    for _ in range(attempts):
        answer = api.request("POST", "/_local/cleanup", body=body)
        assert answer.status == 200, answer.body
        summary = answer.json
        if summary.get("complete", True) and not summary.get("skipped"):
            break
    return summary


def stack_config_for_tests(**overrides: Any) -> LocalStackConfig:
    """Ephemeral ports; the scheduled cleanup would race the tests' own runs, which invoke it
    explicitly, so it is pushed an hour away; webhook retries come seconds apart."""
    settings: dict[str, Any] = {
        "api_port": 0,
        "aws_port": 0,
        "chime_port": 0,
        "api_workers": 2,
        "events_workers": 1,
        "cleanup_every_seconds": 3600,
        "log_level": "WARNING",
        "iam_usage_dir": str(IAM_USAGE_DIR),
        # Webhook retries in seconds, not hours: 3 attempts about 1 s and 4 s apart.
        "extra_environment": {
            "WEBHOOK_RETRY_BASE_SECONDS": "1",
            "WEBHOOK_RETRY_HORIZON_SECONDS": "4",
        },
    }
    settings.update(overrides)
    return LocalStackConfig(**settings)


@pytest.fixture
def api(local_stack: LocalStack) -> Iterator[Api]:
    """A client of the suite's stack; faults and chaos are cleared after each test."""
    client = Api(local_stack.api_url)
    yield client
    client.request("DELETE", "/_local/faults")
    client.request("POST", "/_local/chaos", body={})


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names no other test uses (the stack is shared by a whole package)."""
    run = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{run}"


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_until
