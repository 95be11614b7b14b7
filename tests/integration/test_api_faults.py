"""Failures of Chime and DynamoDB reach the client as 429/502/503 with Retry-After, never 500,
and leave nothing half done. Chime faults come from the emulator's fault injection."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from meetings.adapters import aws_clients

from tests.integration.conftest import ApiAnswer, Caller, forget_cached_state

Api = Callable[..., ApiAnswer]
ALICE = Caller("alice")
BOB = Caller("bob")


@pytest.fixture
def single_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """One attempt per call, so an injected fault reaches the service without retry pauses."""
    monkeypatch.setattr(aws_clients, "MAX_ATTEMPTS", 1)
    forget_cached_state()


def create(api: Api, **body: Any) -> str:
    answer = api("POST", "/meetings", caller=ALICE, body=body)
    assert answer.status == 201, answer.body
    return str(answer.body["meeting"]["meetingId"])


@pytest.mark.usefixtures("single_attempt")
@pytest.mark.parametrize(
    ("operation", "error", "status", "code", "retry_after"),
    [
        ("CreateMeeting", "ThrottlingException", 429, "THROTTLED", "1"),
        ("CreateMeeting", "ServiceUnavailableException", 503, "UPSTREAM_UNAVAILABLE", "7"),
        ("CreateMeeting", "ServiceFailureException", 502, "UPSTREAM_ERROR", None),
        ("CreateMeeting", "LimitExceededException", 503, "ACCOUNT_MEETING_LIMIT", "60"),
        ("CreateMeeting", "ForbiddenException", 502, "UPSTREAM_ERROR", None),
        ("CreateMeetingWithAttendees", "ThrottlingException", 429, "THROTTLED", "1"),
    ],
)
def test_create_maps_chime_failures(
    api: Api,
    chime: Any,
    operation: str,
    error: str,
    status: int,
    code: str,
    retry_after: str | None,
) -> None:
    chime.inject_fault(operation, error, count=None, retry_after_seconds=7)
    join = operation == "CreateMeetingWithAttendees"
    answer = api("POST", "/meetings", caller=ALICE, body={"join": join})
    assert (answer.status, answer.error_code) == (status, code), answer.body
    assert answer.headers.get("retry-after") == retry_after
    chime.clear_faults()
    listed = api("GET", "/meetings", caller=ALICE).body["meetings"]
    assert listed == [] and chime.open_meeting_ids() == set()


@pytest.mark.usefixtures("single_attempt")
@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        ("ThrottlingException", 429, "THROTTLED"),
        ("ServiceUnavailableException", 503, "UPSTREAM_UNAVAILABLE"),
        ("ServiceFailureException", 502, "UPSTREAM_ERROR"),
        ("UnauthorizedException", 502, "UPSTREAM_ERROR"),
    ],
)
def test_join_maps_chime_failures_and_records_nothing(
    api: Api, chime: Any, error: str, status: int, code: str
) -> None:
    meeting_id = create(api)
    chime.inject_fault("CreateAttendee", error, count=1)
    answer = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert (answer.status, answer.error_code) == (status, code)
    roster = api("GET", f"/meetings/{meeting_id}/attendees", caller=ALICE).body["attendees"]
    assert roster == []
    # The next try works.
    assert api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB).status == 201


@pytest.mark.usefixtures("single_attempt")
def test_end_that_chime_throttles_can_be_retried(api: Api, chime: Any) -> None:
    meeting_id = create(api)
    chime.inject_fault("DeleteMeeting", "ThrottlingException", count=1)
    refused = api("DELETE", f"/meetings/{meeting_id}", caller=ALICE)
    assert (refused.status, refused.error_code) == (429, "THROTTLED")
    still = api("GET", f"/meetings/{meeting_id}", caller=ALICE).body["meeting"]
    assert still["status"] == "CREATED"
    ended = api("DELETE", f"/meetings/{meeting_id}", caller=ALICE).body["meeting"]
    assert (ended["status"], ended["endReason"]) == ("ENDED", "host_ended")


@pytest.mark.usefixtures("single_attempt")
def test_slow_chime_times_out_as_unavailable(
    api: Api, chime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id = create(api)
    monkeypatch.setattr(aws_clients, "READ_TIMEOUT_SECONDS", 0.2)
    forget_cached_state()
    # A slow DeleteMeeting (its late completion cannot disturb later tests: the emulator is
    # reset before each one, and deleting an unknown meeting changes nothing).
    chime.inject_fault("DeleteMeeting", None, count=1, latency_ms=1000)
    answer = api("DELETE", f"/meetings/{meeting_id}", caller=ALICE)
    assert (answer.status, answer.error_code) == (503, "UPSTREAM_UNAVAILABLE")
    assert answer.headers["retry-after"] == "1"
    still = api("GET", f"/meetings/{meeting_id}", caller=ALICE).body["meeting"]
    assert still["status"] == "CREATED"


def test_transient_chime_failures_are_retried(api: Api, chime: Any) -> None:
    chime.inject_fault("CreateMeeting", "ServiceUnavailableException", count=2)
    answer = api("POST", "/meetings", caller=ALICE, body={})
    assert answer.status == 201
    assert len(chime.open_meeting_ids()) == 1


def test_record_write_failure_undoes_the_chime_meeting(api: Api, chime: Any) -> None:
    with dynamodb_fails("TransactWriteItems", "InternalServerError", status=500):
        answer = api("POST", "/meetings", caller=ALICE, body={"join": True})
    assert (answer.status, answer.error_code) == (503, "UPSTREAM_UNAVAILABLE")
    assert chime.open_meeting_ids() == set()


def test_record_write_failure_undoes_the_chime_attendee(api: Api, chime_client: Any) -> None:
    meeting_id = create(api)
    with dynamodb_fails("TransactWriteItems", "ProvisionedThroughputExceededException"):
        answer = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert (answer.status, answer.error_code) == (503, "UPSTREAM_UNAVAILABLE")
    assert chime_client.list_attendees(MeetingId=meeting_id)["Attendees"] == []


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_dynamodb_throttling_is_503(api: Api, code: str) -> None:
    meeting_id = create(api)
    with dynamodb_fails("BatchGetItem", code):
        answer = api("GET", f"/meetings/{meeting_id}", caller=ALICE)
    assert (answer.status, answer.error_code, answer.headers["retry-after"]) == (
        503,
        "UPSTREAM_UNAVAILABLE",
        "1",
    )


class dynamodb_fails:
    """Every call of one DynamoDB operation answers with an AWS error (ahead of moto)."""

    def __init__(self, operation: str, code: str, status: int = 400) -> None:
        self.event = f"before-send.dynamodb.{operation}"
        self.body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code}
        )
        self.status = status

    def _answer(self, request: Any, **_: Any) -> Any:
        # botocore hands the request to moto's mock as well: make it a read-only call there,
        # so that a refused write really changes nothing.
        request.headers["X-Amz-Target"] = "DynamoDB_20120810.DescribeLimits"
        return AWSResponse(request.url, self.status, HTTPHeaders(), _Raw(self.body.encode()))

    def __enter__(self) -> None:
        aws_clients.dynamodb_client().meta.events.register_first(self.event, self._answer)

    def __exit__(self, *_: object) -> None:
        aws_clients.dynamodb_client().meta.events.unregister(self.event, self._answer)


class _Raw:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content
