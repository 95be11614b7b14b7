"""DynamoDB failing under the API: throttling, server errors and unreadable answers, injected
ahead of moto on the handlers' own botocore client. Brief trouble is absorbed by botocore's
retries; lasting trouble is a 503 with Retry-After, never a 500; and afterwards the open Chime
meetings are exactly the open records (no orphan in Chime, no ghost in the table)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from meetings.adapters import aws_clients

from tests.integration.conftest import ApiAnswer, Caller

Api = Callable[..., ApiAnswer]
ALICE = Caller("alice")
BOB = Caller("bob")
ADMIN = Caller("root", groups=["admins"])

# (HTTP status, body) as DynamoDB — or a proxy in front of it — may answer.
THROTTLED = (400, {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException"})
OVER_CAPACITY = (
    400,
    {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"},
)
INTERNAL = (500, {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError"})
UNAVAILABLE = (503, None)  # an empty 503, as a load balancer answers
CRASHED = (500, "<!doctype html><title>500 Internal Server Error</title>")  # not JSON at all


# moto's in-process mock answers on the generic "before-send" event, ahead of handlers for the
# operation's own event name: a fault must sit in front of it on the same event.
_BEFORE_SEND = "before-send"


class DynamoDBFault:
    """The next `times` calls of `operation` (None: every call) answer with `answer`.

    `committed=False`: DynamoDB refused the call (nothing written). `committed=True`: the
    call took effect but its answer was lost on the way back — the ambiguous failure."""

    def __init__(
        self,
        operation: str,
        answer: tuple[int, Any],
        times: int | None = None,
        *,
        committed: bool = False,
    ) -> None:
        self.committed = committed
        self.target = f"DynamoDB_20120810.{operation}".encode()
        status, body = answer
        self.status = status
        self.body = body if isinstance(body, str) or body is None else json.dumps(body)
        self.remaining = times
        self.calls = 0

    def _answer(self, request: Any, **_: Any) -> Any:
        if request.headers.get("X-Amz-Target") != self.target:
            return None
        if self.remaining is not None and self.remaining <= 0:
            return None  # let the call through to moto
        if self.remaining is not None:
            self.remaining -= 1
        self.calls += 1
        if not self.committed:
            # botocore hands the request to every before-send handler, moto's mock included:
            # turn it into a read-only call there, so that a refused write changes nothing.
            request.headers["X-Amz-Target"] = "DynamoDB_20120810.DescribeLimits"
        raw = _Raw((self.body or "").encode())
        return AWSResponse(request.url, self.status, HTTPHeaders(), raw)

    def __enter__(self) -> DynamoDBFault:
        aws_clients.dynamodb_client().meta.events.register_first(_BEFORE_SEND, self._answer)
        return self

    def __exit__(self, *_: object) -> None:
        aws_clients.dynamodb_client().meta.events.unregister(_BEFORE_SEND, self._answer)


class _Raw:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def _open_records(api: Api) -> set[str]:
    answer = api("GET", "/meetings", caller=ADMIN, query={"status": "open", "limit": "100"})
    assert answer.status == 200, answer.body
    return {meeting["meetingId"] for meeting in answer.body["meetings"]}


def _assert_no_orphans_no_ghosts(api: Api, chime: Any) -> None:
    assert chime.open_meeting_ids() == _open_records(api)


def _create(api: Api) -> str:
    answer = api("POST", "/meetings", caller=ALICE, body={})
    assert answer.status == 201, answer.body
    return str(answer.body["meeting"]["meetingId"])


LASTING = [THROTTLED, OVER_CAPACITY, INTERNAL, UNAVAILABLE, CRASHED]


@pytest.mark.parametrize("committed", [False, True], ids=["refused", "answer-lost"])
@pytest.mark.parametrize("answer", LASTING, ids=lambda a: f"{a[0]}-{str(a[1])[:40]}")
@pytest.mark.parametrize(
    "operation", ["TransactWriteItems", "PutItem", "Query", "GetItem", "UpdateItem"]
)
def test_lasting_fault_while_creating_is_503_and_leaves_no_orphan(
    api: Api, chime: Any, operation: str, answer: tuple[int, Any], committed: bool
) -> None:
    with DynamoDBFault(operation, answer, committed=committed):
        created = api("POST", "/meetings", caller=ALICE, body={"join": True})
    assert created.status != 500, created.body
    if created.status != 201:  # the operation lay on the create path
        assert (created.status, created.error_code) == (503, "UPSTREAM_UNAVAILABLE")
        assert created.headers["retry-after"] == "1"
    _assert_no_orphans_no_ghosts(api, chime)


@pytest.mark.parametrize("answer", LASTING, ids=lambda a: f"{a[0]}-{str(a[1])[:40]}")
@pytest.mark.parametrize(
    ("method", "suffix", "caller"),
    [
        ("POST", "/attendees", BOB),
        ("DELETE", "", ALICE),
        ("GET", "", ALICE),
        ("GET", "/attendees", ALICE),
    ],
)
def test_lasting_fault_on_a_meeting_is_503_never_500(
    api: Api, chime: Any, method: str, suffix: str, caller: Caller, answer: tuple[int, Any]
) -> None:
    meeting_id = _create(api)
    for operation in ("TransactWriteItems", "BatchGetItem", "Query", "GetItem", "UpdateItem"):
        with DynamoDBFault(operation, answer):
            result = api(method, f"/meetings/{meeting_id}{suffix}", caller=caller)
        assert result.status != 500, (operation, result.body)
        if result.status >= 500:
            assert (result.status, result.error_code) == (503, "UPSTREAM_UNAVAILABLE")
            assert result.headers["retry-after"] == "1"
            # An end cannot be one atomic step across Chime and the table: the client's retry
            # after Retry-After (or the cleanup, for a recorded end request) completes it.
            retried = api(method, f"/meetings/{meeting_id}{suffix}", caller=caller)
            assert retried.status < 500, (operation, retried.body)
        _assert_no_orphans_no_ghosts(api, chime)


@pytest.mark.parametrize("answer", [THROTTLED, OVER_CAPACITY, INTERNAL, CRASHED])
def test_brief_fault_is_absorbed_by_retries(api: Api, chime: Any, answer: tuple[int, Any]) -> None:
    # One failed attempt per call: botocore's standard retry mode tries again.
    with DynamoDBFault("TransactWriteItems", answer, times=1) as fault:
        created = api("POST", "/meetings", caller=ALICE, body={"join": True})
    assert fault.calls == 1
    assert created.status == 201, created.body
    _assert_no_orphans_no_ghosts(api, chime)


def _chime_attendee_ids(chime: Any, meeting_id: str) -> set[str]:
    listed = chime.call("ListAttendees", {"MeetingId": meeting_id, "MaxResults": 100})
    return {attendee["AttendeeId"] for attendee in listed["Attendees"]}


def _roster_ids(api: Api, meeting_id: str) -> set[str]:
    roster = api("GET", f"/meetings/{meeting_id}/attendees", caller=ALICE)
    assert roster.status == 200, roster.body
    return {attendee["attendeeId"] for attendee in roster.body["attendees"]}


@pytest.mark.parametrize("committed", [False, True], ids=["refused", "answer-lost"])
@pytest.mark.parametrize("answer", [INTERNAL, UNAVAILABLE, CRASHED], ids=["500", "503", "html"])
def test_join_whose_write_failed_keeps_chime_and_roster_equal(
    api: Api, chime: Any, answer: tuple[int, Any], committed: bool
) -> None:
    """A join undoes its Chime attendee only when the record surely is absent: a committed
    write whose answer was lost keeps its attendee (no ghost seat) and answers 201."""
    meeting_id = _create(api)
    with DynamoDBFault("TransactWriteItems", answer, committed=committed):
        joined = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    if committed:
        assert joined.status == 201, joined.body
    else:
        assert (joined.status, joined.error_code) == (503, "UPSTREAM_UNAVAILABLE")
    assert _chime_attendee_ids(chime, meeting_id) == _roster_ids(api, meeting_id)
    again = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert again.status in (200, 201), again.body
    assert _chime_attendee_ids(chime, meeting_id) == _roster_ids(api, meeting_id)


@pytest.mark.parametrize("committed", [False, True], ids=["refused", "answer-lost"])
def test_provision_whose_write_failed_keeps_chime_and_roster_equal(
    api: Api, chime: Any, committed: bool
) -> None:
    meeting_id = _create(api)
    with DynamoDBFault("TransactWriteItems", INTERNAL, committed=committed):
        provisioned = api(
            "POST",
            f"/meetings/{meeting_id}/attendees/batch",
            caller=ALICE,
            body={"attendees": [{"userId": "carol"}]},
        )
    assert provisioned.status == 200, provisioned.body
    recorded = [attendee["userId"] for attendee in provisioned.body["attendees"]]
    failed = [error["code"] for error in provisioned.body["errors"]]
    assert (recorded, failed) == ((["carol"], []) if committed else ([], ["UPSTREAM_UNAVAILABLE"]))
    assert _chime_attendee_ids(chime, meeting_id) == _roster_ids(api, meeting_id)
