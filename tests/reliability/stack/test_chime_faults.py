"""Chime in trouble (the emulator's fault injection), over HTTP: brief throttling is absorbed by
retries, lasting throttling is 429 + Retry-After, outages 503 + Retry-After, failures 502 —
never 500 — and after every fault the open Chime meetings are exactly the open records."""

from __future__ import annotations

from typing import Any

import pytest

from local.stack import LocalStack
from tests.localstack_support import Api
from tests.reliability.stack.conftest import records_match_chime

LASTING = [
    ("ThrottlingException", 429, "THROTTLED"),
    ("ServiceUnavailableException", 503, "UPSTREAM_UNAVAILABLE"),
    ("ServiceFailureException", 502, "UPSTREAM_ERROR"),
]
OPERATIONS = ["CreateMeeting", "CreateMeetingWithAttendees", "CreateAttendee", "DeleteMeeting"]


def _call(api: Api, operation: str, host: str, guest: str, meeting_id: str) -> Any:
    if operation == "CreateMeeting":
        return api.request("POST", "/meetings", token=host, body={})
    if operation == "CreateMeetingWithAttendees":
        return api.request("POST", "/meetings", token=host, body={"join": True})
    if operation == "CreateAttendee":
        return api.request("POST", f"/meetings/{meeting_id}/attendees", token=guest)
    return api.request("DELETE", f"/meetings/{meeting_id}", token=host)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("error", "status", "code"), LASTING)
def test_lasting_chime_fault_is_answered_and_leaves_no_orphan_or_ghost(
    api: Api,
    local_stack: LocalStack,
    unique: Any,
    operation: str,
    error: str,
    status: int,
    code: str,
) -> None:
    host, guest, admin = (
        api.token(unique("host")),
        api.token(unique("guest")),
        api.token(unique("admin"), groups=["admins"]),
    )
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]
    fault = {"operation": operation, "error": error, "count": 50}
    assert api.request("POST", "/_local/faults", body=fault).status == 200

    answer = _call(api, operation, host, guest, meeting_id)

    api.request("DELETE", "/_local/faults")
    assert (answer.status, answer.json["error"]["code"]) == (status, code), answer.body
    if status in (429, 503):
        assert int(answer.headers["retry-after"]) >= 1
    assert records_match_chime(api, local_stack, admin) == (set(), set())


@pytest.mark.parametrize("operation", OPERATIONS)
def test_brief_throttling_is_absorbed_by_retries(
    api: Api, local_stack: LocalStack, unique: Any, operation: str
) -> None:
    host, guest, admin = (
        api.token(unique("host")),
        api.token(unique("guest")),
        api.token(unique("admin"), groups=["admins"]),
    )
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]
    fault = {"operation": operation, "error": "ThrottlingException", "count": 1}
    assert api.request("POST", "/_local/faults", body=fault).status == 200

    answer = _call(api, operation, host, guest, meeting_id)

    assert answer.status in (200, 201), answer.body
    assert records_match_chime(api, local_stack, admin) == (set(), set())
