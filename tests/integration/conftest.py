"""Fixtures for tests running the real handlers against moto (DynamoDB, ...) and the emulator.

- `aws_env`: the functions' environment (Settings' variables, fake credentials, Powertools
  switches), with every cached setting, client and service of `meetings` forgotten before and
  after the test.
- `table`: moto (in-process) with the table created from `meetings.deployment`; yields the
  DynamoDB client. Loopback traffic (the emulator) passes through moto untouched.
- `chime_endpoint`: points boto3 at the emulator (`chime_server`/`chime` from tests/conftest.py,
  reset before the test).
- `backend`: both of the above: what a handler test needs.
- `api_event(...)`: an API Gateway HTTP API payload v2 event as API Gateway sends it after its
  JWT authorizer accepted the token; `lambda_context()`: a Lambda context.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from meetings import deployment
from meetings.settings import Settings
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from local.chime import ChimeEmulator, EmulatorServer
from local.lambda_runtime import forget_cached_state

TABLE_NAME = "meetings-test"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

# moto answers every AWS URL it knows; the emulator listens on loopback and must be reached.
_MOTO_CONFIG: Any = {"core": {"passthrough": {"urls": [r"http://127\.0\.0\.1:\d+/.*"]}}}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    environment = {
        "TABLE_NAME": TABLE_NAME,
        "EVENT_BUS_NAME": "meetings-test-bus",
        "DEFAULT_MEDIA_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_SERVICE_NAME": "meetings",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ChimeMeetings",
        "POWERTOOLS_IDEMPOTENCY_DISABLED": "false",
    }
    for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(variable, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    Settings.from_environ()  # fail here, not in a handler, if the test environment is wrong
    forget_cached_state()
    yield environment
    forget_cached_state()


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process moto is not safe under threads (a transaction deep-copies the table while
    another thread's write changes it; a failed one restores that copy, undoing other writes):
    its requests are serialized, as DynamoDB's own per-request atomicity would have them. The
    code under test (provision's parallel writes, joins racing) still runs concurrently."""
    lock = threading.Lock()
    unlocked = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return unlocked(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)


@pytest.fixture
def table(aws_env: dict[str, str], atomic_moto: None) -> Iterator[Any]:
    """moto with the service table (TTL enabled as deployed); yields a DynamoDB client."""
    with mock_aws(config=_MOTO_CONFIG):
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(**deployment.table_definition(TABLE_NAME))
        client.update_time_to_live(
            TableName=TABLE_NAME,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": deployment.TTL_ATTRIBUTE},
        )
        yield client


@pytest.fixture
def chime_endpoint(
    chime: ChimeEmulator,
    chime_server: EmulatorServer,
    aws_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """The (freshly reset) emulator's URL, set as boto3's Chime endpoint for the code under test."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS", chime_server.endpoint_url)
    forget_cached_state()
    return chime_server.endpoint_url


@pytest.fixture
def backend(table: Any, chime_endpoint: str) -> Any:
    """moto's table and the emulator together; yields the DynamoDB client."""
    return table


# --- API Gateway HTTP API (payload v2) events ---------------------------------------------------

_ROUTE_PATTERNS = [
    (method, template, re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"))
    for method, template, _ in deployment.API_ROUTES
]


def _route_key(method: str, path: str) -> str:
    for route_method, template, pattern in _ROUTE_PATTERNS:
        if route_method == method and pattern.match(path):
            return f"{method} {template}"
    return "$default"


@dataclass(frozen=True)
class Caller:
    """Who calls: the JWT claims API Gateway's authorizer passes on (None: no authorizer)."""

    sub: str | None
    groups: list[str] = field(default_factory=list)
    # API Gateway flattens array claims into "[a b]"; tests use both forms.
    groups_as_string: bool = True

    def claims(self) -> dict[str, Any] | None:
        if self.sub is None:
            return None
        claims: dict[str, Any] = {
            "sub": self.sub,
            "iss": "https://issuer.example",
            "token_use": "access",
            "client_id": "test-client",
        }
        if self.groups:
            claims["cognito:groups"] = (
                "[" + " ".join(self.groups) + "]" if self.groups_as_string else list(self.groups)
            )
        return claims


def api_event(
    method: str,
    path: str,
    *,
    caller: Caller | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2 event (what the Lambda integration delivers)."""
    request_id = str(uuid.uuid4())
    all_headers = {"host": "api.example", "user-agent": "pytest", **(headers or {})}
    if caller is not None and caller.sub is not None:
        all_headers.setdefault("authorization", "Bearer header.payload.signature")
    if body is not None or raw_body is not None:
        all_headers.setdefault("content-type", "application/json")
    query_string = "&".join(f"{name}={value}" for name, value in (query or {}).items())
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": "api1234567",
        "domainName": "api.example",
        "domainPrefix": "api",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "pytest",
        },
        "requestId": request_id,
        "routeKey": _route_key(method, path),
        "stage": "$default",
        "time": "25/Nov/2026:19:00:00 +0000",
        "timeEpoch": 1_764_097_200_000,
    }
    claims = caller.claims() if caller is not None else None
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": request_context["routeKey"],
        "rawPath": path,
        "rawQueryString": query_string,
        "headers": all_headers,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not None:
        event["body"] = json.dumps(body)
    return event


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "meetings-api"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:meetings-api"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/meetings-api"
    log_stream_name: str = "2026/11/25/[$LATEST]0123456789abcdef"
    remaining_millis: int = 29_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def lambda_context(**overrides: Any) -> FakeLambdaContext:
    return FakeLambdaContext(**overrides)


@pytest.fixture
def make_api_event() -> Callable[..., dict[str, Any]]:
    return api_event


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def error_code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("code"))
        return None


def invoke_api(
    method: str,
    path: str,
    *,
    caller: Caller | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> ApiAnswer:
    """Run `meetings.handlers.api.handler` on one payload v2 event, as Lambda would."""
    from meetings.handlers.api import handler  # noqa: PLC0415 - after the environment is set

    event = api_event(
        method, path, caller=caller, body=body, headers=headers, query=query, raw_body=raw_body
    )
    answer = handler(event, lambda_context())
    text = answer.get("body") or ""
    return ApiAnswer(
        status=int(answer["statusCode"]),
        headers={name.lower(): value for name, value in (answer.get("headers") or {}).items()},
        body=json.loads(text) if text else None,
    )


@pytest.fixture
def api(backend: Any) -> Callable[..., ApiAnswer]:
    """`api(method, path, caller=..., body=...)` against moto and the emulator."""
    return invoke_api
