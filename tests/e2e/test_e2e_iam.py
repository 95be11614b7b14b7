"""IAM enforced over the local stack: each function's calls are authorized by its role as
synthesized, and removing any single permission a function's code needs makes a test fail.

A tour drives every function through the API (a recorded, transcribed meeting with a roster
changed every way, webhooks registered, pinged and delivered, the cleanup reconciling) while
each role traces its decisions. Then, for every action a role is granted:
- `test_each_granted_action_is_needed`: the role without that one action is evaluated
  against the tour's own calls, as made. The code is deterministic up to the first call that
  role would refuse, so at least one refused call means the tour — run with that role — meets
  AccessDenied there; the test names the call.
- `NOT_EXERCISED`: the grants the tour's code does not use, each with its reason (Lambda's
  own use, or a path the tour does not take every time); a grant unused without a reason here
  fails `test_every_unused_grant_has_its_reason`, and so does a reason for a grant gone.
- `test_removing_a_permission_fails_the_call_that_needs_it`: a representative set, removed
  for real from the running role: the request that needs it fails, and the refusal is the
  one the evaluation predicted.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from meetings import deployment

from local.iam.policy import Policy, Request
from local.stack import LocalStack
from tests.localstack_support import Api, events_in, wait_until

# Granted, and not used by the functions' code; why.
_LAMBDA_RUNTIME = "Lambda's runtime writes the function's logs, not the code"
_XRAY = "Lambda's active tracing sends segments, not the code (tracing is off locally)"
_ESM = "Lambda's event source mapping calls it (granted by the mapping), not the code"
_STREAM_ESM = (
    "Lambda's stream event source mapping lists the table's streams; the local one starts "
    "from the stream's ARN"
)
_RUNTIME: dict[str, str] = {
    "logs:CreateLogStream": _LAMBDA_RUNTIME,
    "logs:PutLogEvents": _LAMBDA_RUNTIME,
    "xray:PutTraceSegments": _XRAY,
    "xray:PutTelemetryRecords": _XRAY,
}
_SQS_ESM = {
    "sqs:ChangeMessageVisibility": _ESM,
    "sqs:GetQueueUrl": _ESM,
    "sqs:GetQueueAttributes": _ESM,
}
_OFF_TOUR = "a path the tour does not take on every run"
NOT_EXERCISED: dict[str, dict[str, str]] = {
    "api": {
        **_RUNTIME,
        "dynamodb:DeleteItem": "Powertools' idempotency deletes the record of a request that "
        "failed; the tour's requests succeed",
        "dynamodb:ConditionCheckItem": "transactions that check another item: not on the "
        "tour's paths",
        "chime:CreateMediaConcatenationPipeline": "a recording stopped by hand is concatenated "
        "by the api or by the events function, whichever applies the stop first: a race the "
        "tour does not force",
        "s3:ListBucket": "finds a concatenation's files when the api advances a recording "
        "whose concatenation finished; in the tour the events function does",
    },
    "events": {
        **_RUNTIME,
        **_SQS_ESM,
        "dynamodb:PutItem": _OFF_TOUR,
        "dynamodb:GetItem": _OFF_TOUR,
        "chime:DeleteMediaPipeline": "a capture still running when its meeting's end event "
        "arrives; the api stopped the tour's",
    },
    "cleanup": {
        **_RUNTIME,
        "dynamodb:PutItem": _OFF_TOUR,
        "dynamodb:BatchGetItem": _OFF_TOUR,
        "dynamodb:ConditionCheckItem": _OFF_TOUR,
        "chime:DeleteMeeting": "ends meetings past their maximum duration (hours)",
        "chime:GetMediaPipeline": "recordings whose pipeline events were lost",
        "chime:DeleteMediaPipeline": "captures of meetings the cleanup ends",
        "chime:CreateMediaConcatenationPipeline": "recordings whose end events were lost",
        "dynamodb:GetItem": _OFF_TOUR,
        "s3:ListBucket": "recordings whose pipeline events were lost",
        "s3:GetBucketPolicy": "recordings whose pipeline events were lost",
    },
    "publisher": {
        **_RUNTIME,
        "dynamodb:ListStreams": _STREAM_ESM,
        # Needed all the same: without it the stream is never read, no domain event is
        # published, and every test that waits for one fails.
        "dynamodb:GetShardIterator": "the local stream poller takes its iterator when the "
        "stack starts, which the package's stack did before the tour (then it follows "
        "NextShardIterator)",
        "sqs:SendMessage": "the stream mapping's on-failure destination: Lambda writes it",
        "sqs:GetQueueAttributes": "the stream mapping's on-failure destination",
        "sqs:GetQueueUrl": "the stream mapping's on-failure destination",
    },
    "webhook_fanout": {
        **_RUNTIME,
        **_SQS_ESM,
        "dynamodb:GetItem": _OFF_TOUR,
        "dynamodb:BatchGetItem": _OFF_TOUR,
    },
    "webhook_delivery": {
        **_RUNTIME,
        **_SQS_ESM,
        "dynamodb:BatchGetItem": _OFF_TOUR,
        "dynamodb:Query": _OFF_TOUR,
        "dynamodb:ConditionCheckItem": _OFF_TOUR,
        "dynamodb:UpdateItem": "a failed attempt or a disabled subscription; the tour's "
        "receiver accepts every delivery",
    },
}


class _Receiver(http.server.BaseHTTPRequestHandler):
    """Accepts every delivery, except the first one to /flaky (a failed attempt: retried)."""

    received: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.received.append(self.path)
        self.rfile.read(int(self.headers["content-length"]))
        first_flaky = self.path == "/flaky" and self.received.count("/flaky") == 1
        self.send_response(500 if first_flaky else 204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _traced(trace: Path) -> list[dict[str, Any]]:
    if not trace.exists():
        return []
    return [json.loads(line) for line in trace.read_text().splitlines()]


def _requests(lines: list[dict[str, Any]]) -> list[Request]:
    return [
        Request(r["action"], r["resource"], {k: tuple(v) for k, v in r["context"].items()})
        for r in lines
        if r["decision"] == "allow"
    ]


@pytest.fixture(scope="module")
def tour(
    local_stack: LocalStack,
    receiver: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, list[Request]]:
    """Every function's allowed calls during the tour, as each role traced them."""
    traces = tmp_path_factory.mktemp("iam-trace")
    for function in deployment.HANDLERS:
        local_stack.roles.set_policy(function, trace=traces / f"{function}.jsonl")
    try:
        _drive(Api(local_stack.api_url), local_stack, receiver, wait_until)
    finally:
        for function in deployment.HANDLERS:
            local_stack.roles.set_policy(function)
    made = {f: _traced(traces / f"{f}.jsonl") for f in deployment.HANDLERS}
    refused = [line for lines in made.values() for line in lines if line["decision"] != "allow"]
    assert not refused, f"the synthesized roles refused calls of the tour: {refused}"
    return {function: _requests(lines) for function, lines in made.items()}


def _drive(api: Api, stack: LocalStack, receiver: str, wait: Callable[..., Any]) -> None:
    admin = api.token("iam-admin", groups=["admins"])
    host, guest = api.token("iam-host"), api.token("iam-guest")
    hooks = []
    for url in (f"{receiver}/hook", f"{receiver}/flaky"):
        body = {"url": url, "eventTypes": ["meeting.created", "meeting.ended"]}
        hook = api.request("POST", "/webhooks", token=admin, body=body)
        assert hook.status == 201, hook.body
        hooks.append(hook.json["webhook"]["webhookId"])
    webhook_id = hooks[0]
    assert api.request("POST", f"/webhooks/{webhook_id}/ping", token=admin).status == 202

    body = {"recording": {"auto": True}, "transcription": {"languageCode": "en-US"}}
    created = api.request("POST", "/meetings", token=host, body=body)
    assert created.status == 201, created.body
    path = f"/meetings/{created.json['meeting']['meetingId']}"
    meeting_id = created.json["meeting"]["meetingId"]
    attendees = [
        api.request("POST", f"{path}/attendees", token=token).json["Attendee"]["AttendeeId"]
        for token in (host, guest)
    ]
    batch = {"attendees": [{"userId": "iam-carol"}, {"userId": "iam-dave"}]}
    assert api.request("POST", f"{path}/attendees/batch", token=host, body=batch).status == 200
    for attendee_id in attendees:
        connect = f"/_local/meetings/{meeting_id}/attendees/{attendee_id}/connect"
        assert api.request("POST", connect, body={"audio": True}).status == 200
    assert api.request("GET", "/meetings", token=host).status == 200
    assert api.request("GET", "/meetings?status=open", token=admin).status == 200
    assert api.request("GET", f"{path}/attendees", token=host).status == 200
    capabilities = {"audio": "Receive", "video": "SendReceive", "content": "SendReceive"}
    changed = api.request(
        "PUT", f"{path}/attendees/{attendees[1]}/capabilities", token=host, body=capabilities
    )
    assert changed.status == 200, changed.body
    assert api.request("POST", f"{path}/mute-all", token=host, body={}).status == 200

    def running() -> bool:
        view = api.request("GET", path, token=host).json["meeting"]
        return bool(view["recording"]) and (view["transcription"] or {}).get("status") == "STARTED"

    assert wait(running, timeout=30), "recording and transcription did not start"
    said = f"/_local/meetings/{meeting_id}/attendees/{attendees[1]}/say"
    assert api.request("POST", said, body={"text": "Least privilege."}).status == 200
    assert api.request("DELETE", f"{path}/transcription", token=host).status == 200
    assert api.request(
        "POST", f"{path}/transcription", token=host, body={"languageCode": "en-US"}
    ).status in (200, 202)
    assert api.request("POST", "/_local/clock/advance", body={"seconds": 6}).status == 200
    assert api.request("DELETE", f"{path}/attendees/{attendees[1]}", token=host).status == 204
    assert api.request("DELETE", path, token=host).status == 200

    def available() -> Any:
        listed = api.request("GET", f"{path}/recordings", token=host).json["recordings"]
        return listed if listed and listed[0]["status"] == "AVAILABLE" else None

    listed = wait(available, timeout=60)
    assert listed, "the recording did not become AVAILABLE"
    one = api.request("GET", f"{path}/recordings/{listed[0]['recordingId']}", token=host)
    assert one.status == 200, one.body
    for artifact in one.json["recording"]["artifacts"][:1]:
        with urllib.request.urlopen(artifact["url"]) as download:
            assert download.status == 200
    assert api.request("GET", f"{path}/transcript", token=host).status == 200
    _record_by_hand(api, stack, host, wait)
    delivered = {"/hook": 2, "/flaky": 2}  # the ping and meeting.created; flaky's retried
    assert wait(
        lambda: all(_Receiver.received.count(p) >= n for p, n in delivered.items()), timeout=30
    ), f"webhooks not delivered: {_Receiver.received}"
    log = api.request("GET", f"/webhooks/{webhook_id}/deliveries", token=admin)
    assert log.status == 200
    for hook_id in hooks:  # the rest of the suite's meetings are none of their business
        assert api.request("DELETE", f"/webhooks/{hook_id}", token=admin).status == 204


def _record_by_hand(api: Api, stack: LocalStack, host: str, wait: Callable[..., Any]) -> None:
    """A second meeting, joined and tagged at creation, recorded from the API, reconciled by
    the cleanup while open."""
    room = {"externalMeetingId": f"iam-room-{uuid.uuid4().hex[:8]}"}
    # Joined in the same call (CreateMeetingWithAttendees), tagged (TagResource).
    body = {**room, "join": True, "tags": {"team": "iam"}}
    created = api.request("POST", "/meetings", token=host, body=body)
    assert created.status == 201, created.body
    meeting_id = created.json["meeting"]["meetingId"]
    # The room's open meeting, checked against Chime (GetMeeting).
    assert api.request("POST", "/meetings", token=host, body=room).status == 200
    path = f"/meetings/{meeting_id}"
    attendee = api.request("POST", f"{path}/attendees", token=host).json["Attendee"]["AttendeeId"]
    connect = f"/_local/meetings/{meeting_id}/attendees/{attendee}/connect"
    assert api.request("POST", connect, body={"audio": True}).status == 200
    started = api.request("POST", f"{path}/recording", token=host, body={})
    assert started.status in (200, 202), started.body
    assert events_in(stack)
    assert api.request("POST", "/_local/cleanup", body={"reconcile": "all"}).status == 200
    assert api.request("POST", "/_local/clock/advance", body={"seconds": 6}).status == 200
    stopped = api.request("DELETE", f"{path}/recording", token=host)
    assert stopped.status == 200, stopped.body

    def available() -> Any:
        listed = api.request("GET", f"{path}/recordings", token=host).json["recordings"]
        return listed and listed[0]["status"] == "AVAILABLE"

    assert wait(available, timeout=60), "the recording stopped by hand did not become AVAILABLE"
    assert api.request("DELETE", path, token=host).status == 200
    assert events_in(stack)


def _granted(stack: LocalStack, function: str) -> Policy:
    return Policy.from_documents(stack.deployed.policy_documents(function))


def _actions(stack: LocalStack, function: str) -> list[str]:
    policy = _granted(stack, function)
    return sorted({a for s in policy.statements if s.effect == "Allow" for a in s.actions})


@pytest.fixture(scope="module")
def granted(local_stack: LocalStack) -> dict[str, list[str]]:
    return {function: _actions(local_stack, function) for function in deployment.HANDLERS}


def _cases() -> list[Any]:
    # The synthesized roles decide the parameters; known before any stack starts from the
    # template the local stack reads.
    from local.template.binding import BoundTemplate  # noqa: PLC0415 - collection time only

    bound = BoundTemplate.load(account="123456789012", region="us-east-1")
    cases = []
    for function in deployment.HANDLERS:
        policy = Policy.from_documents(bound.policy_documents(function))
        actions = sorted({a for s in policy.statements if s.effect == "Allow" for a in s.actions})
        cases += [
            pytest.param(function, action, id=f"{function}-{action}")
            for action in actions
            if action not in NOT_EXERCISED.get(function, {})
        ]
    return cases


@pytest.mark.parametrize(("function", "action"), _cases())
def test_each_granted_action_is_needed(
    local_stack: LocalStack, tour: dict[str, list[Request]], function: str, action: str
) -> None:
    without = _granted(local_stack, function).without_action(action)
    refused = [r.described() for r in tour[function] if without.decide(r) != "allow"]
    assert refused, (
        f"{function} without {action} still makes every call of the tour: the grant is not "
        "needed (remove it) or the tour misses the code that needs it (extend it)"
    )


def test_every_unused_grant_has_its_reason(
    local_stack: LocalStack, tour: dict[str, list[Request]], granted: dict[str, list[str]]
) -> None:
    for function, actions in granted.items():
        policy = _granted(local_stack, function)
        used = {a for a in actions if any(_needs(policy, a, r) for r in tour[function])}
        explained = set(NOT_EXERCISED.get(function, {}))
        assert explained <= set(actions), f"{function}: reasons for grants it no longer has"
        assert set(actions) - explained <= used, f"{function}: unused, no reason given"


def _needs(policy: Policy, action: str, request: Request) -> bool:
    return policy.without_action(action).decide(request) != "allow"


@pytest.mark.parametrize(
    ("function", "action", "request_line", "status"),
    [
        ("api", "dynamodb:PutItem", ("POST", "/meetings"), 500),
        ("api", "chime:CreateMeeting", ("POST", "/meetings"), 502),
        ("api", "dynamodb:Query", ("GET", "/meetings"), 500),
        ("api", "kms:Encrypt", ("POST", "/webhooks"), 503),
    ],
)
def test_removing_a_permission_fails_the_call_that_needs_it(
    local_stack: LocalStack,
    tmp_path: Path,
    function: str,
    action: str,
    request_line: tuple[str, str],
    status: int,
    receiver: str,
) -> None:
    api = Api(local_stack.api_url)
    token = api.token("iam-drop", groups=["admins"])
    body = (
        {"url": f"{receiver}/hook", "eventTypes": ["meeting.created"]}
        if request_line[1] == "/webhooks"
        else {}
    )
    trace = tmp_path / "trace.jsonl"
    without = _granted(local_stack, function).without_action(action)
    local_stack.roles.set_policy(function, without.to_documents(), trace=trace)
    try:
        answer = api.request(*request_line, token=token, body=body)
    finally:
        local_stack.roles.set_policy(function)
    assert answer.status == status, answer.body
    refused = [line for line in _traced(trace) if line["decision"] != "allow"]
    assert [line["action"] for line in refused] == [action]
    again = api.request(*request_line, token=token, body=body)
    assert again.status < 300, again.body
    if request_line == ("POST", "/webhooks"):
        webhook_id = again.json["webhook"]["webhookId"]
        assert api.request("DELETE", f"/webhooks/{webhook_id}", token=token).status == 204
