"""The events and cleanup handlers on real event shapes, against moto and the Chime emulator:
auto-end with each inferable reason, a lost MeetingEnded, the max duration, and duplicated,
reordered batches — plus a check that the table's writes match the in-memory model."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from meetings.adapters.table.store import MeetingTable
from meetings.service.ports import PageRequest

from tests.integration.conftest import TABLE_NAME, Caller, lambda_context
from tests.unit.service.fakes import MemoryTable, deliver, service_for, settle

HOST = Caller("alice")
BOB, CAROL = Caller("bob"), Caller("carol")
Api = Callable[..., Any]


def sqs_event(envelopes: list[dict[str, Any]], receive_count: int = 1) -> dict[str, Any]:
    """An SQS → Lambda event as the event source mapping delivers it."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": json.dumps(envelope),
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": "1764097200000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1764097200000",
                },
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:chime-events",
                "awsRegion": "us-east-1",
            }
            for envelope in envelopes
        ]
    }


def apply_events(envelopes: list[dict[str, Any]], batch_size: int = 10) -> None:
    from meetings.handlers.events import handler  # noqa: PLC0415 - after the environment is set

    for start in range(0, len(envelopes), batch_size):
        answer = handler(sqs_event(envelopes[start : start + batch_size]), lambda_context())
        assert answer == {"batchItemFailures": []}


@pytest.fixture
def chime_events(api: Api, chime: Any) -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []
    unsubscribe = chime.subscribe(received.append)
    yield received
    unsubscribe()


def open_meeting(api: Api, *callers: Caller, **body: Any) -> tuple[str, list[str]]:
    meeting_id = api("POST", "/meetings", caller=HOST, body=body).body["meeting"]["meetingId"]
    attendees = [
        api("POST", f"/meetings/{meeting_id}/attendees", caller=caller).body["Attendee"][
            "AttendeeId"
        ]
        for caller in callers
    ]
    return meeting_id, attendees


def meeting_view(api: Api, meeting_id: str) -> dict[str, Any]:
    return api("GET", f"/meetings/{meeting_id}", caller=HOST).body["meeting"]


def run_cleanup(monkeypatch: pytest.MonkeyPatch, now_ms: int, event: Any) -> dict[str, Any]:
    from meetings import wiring  # noqa: PLC0415 - after the environment is set
    from meetings.handlers import cleanup  # noqa: PLC0415

    monkeypatch.setattr(wiring.container(), "clock", lambda: now_ms)
    summary: dict[str, Any] = cleanup.handler(event, lambda_context())
    return summary


# Past every settle instant the events handler gave (its clock plus the settle window).
SETTLED_LATER_MS = 3_600_000


def settle_ends(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The scheduled cleanup once the settle window passed: inferred reasons become final."""
    return run_cleanup(monkeypatch, int(time.time() * 1000) + SETTLED_LATER_MS, {})


def ended_by_no_audio(api: Api, chime: Any, chime_events: list[dict[str, Any]]) -> tuple[str, int]:
    """Bob connects for a minute and leaves; past 5 minutes without audio Chime ends the
    meeting, and its events are applied. The meeting's id and the instant Bob left."""
    meeting_id, (bob,) = open_meeting(api, BOB)
    chime.connect(meeting_id, bob)
    chime.advance(60)
    chime.leave(meeting_id, bob)
    left_at: int = chime.now_ms()
    chime.advance(301)
    apply_events(chime_events)
    return meeting_id, left_at


def test_no_audio_for_five_minutes(
    api: Api, chime: Any, chime_events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, _ = ended_by_no_audio(api, chime, chime_events)
    view = meeting_view(api, meeting_id)
    assert (view["status"], view["endReason"]) == ("ENDED", "unknown")  # until settled
    assert settle_ends(monkeypatch)["settled"] == 1
    view = meeting_view(api, meeting_id)
    assert (view["status"], view["endReason"]) == ("ENDED", "no_audio_5min")
    assert view["attendees"]["peakConnected"] == 1 and view["startedAt"] is not None
    roster = api("GET", f"/meetings/{meeting_id}/attendees", caller=HOST).body["attendees"]
    assert [a["presence"] for a in roster] == ["LEFT"]


def test_single_attendee_for_thirty_minutes(
    api: Api, chime: Any, chime_events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, (bob,) = open_meeting(api, BOB)
    chime.connect(meeting_id, bob, video=True)
    apply_events(chime_events)
    view = meeting_view(api, meeting_id)
    assert (view["status"], view["attendees"]["connected"]) == ("STARTED", 1)
    bob_view = api("GET", f"/meetings/{meeting_id}/attendees/{bob}", caller=HOST).body["attendee"]
    assert (bob_view["presence"], bob_view["video"]) == ("CONNECTED", True)
    chime.advance(1801)
    apply_events(chime_events)
    settle_ends(monkeypatch)
    view = meeting_view(api, meeting_id)
    assert (view["status"], view["endReason"], view["attendees"]["connected"]) == (
        "ENDED",
        "single_attendee_30min",
        0,
    )
    bob_view = api("GET", f"/meetings/{meeting_id}/attendees/{bob}", caller=HOST).body["attendee"]
    assert (bob_view["presence"], bob_view["video"]) == ("LEFT", False)


def test_twenty_four_hours(
    api: Api, chime: Any, chime_events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, (bob, carol) = open_meeting(api, BOB, CAROL)
    chime.connect(meeting_id, bob)
    chime.connect(meeting_id, carol)
    chime.advance(86_401)
    apply_events(chime_events, batch_size=3)
    settle_ends(monkeypatch)
    view = meeting_view(api, meeting_id)
    assert (view["endReason"], view["attendees"]["peakConnected"]) == ("chime_24h_limit", 2)


def test_host_end_keeps_its_recorded_reason(
    api: Api, chime: Any, chime_events: list[dict[str, Any]]
) -> None:
    meeting_id, (bob,) = open_meeting(api, BOB)
    chime.connect(meeting_id, bob)
    assert api("DELETE", f"/meetings/{meeting_id}", caller=HOST).status == 200
    apply_events(chime_events)
    assert meeting_view(api, meeting_id)["endReason"] == "host_ended"


def model_from_table(meeting_id: str) -> MemoryTable:
    """The in-memory model, starting from what the table holds now."""
    store = MeetingTable(TABLE_NAME)
    meeting = store.get_meeting(meeting_id)
    assert meeting is not None
    model = MemoryTable(meeting)
    for attendee in store.list_roster(
        meeting_id, page=PageRequest(limit=50, token=None, binding="", now=0)
    )[0]:
        model.attendees[attendee.attendeeId] = attendee
    return model


def test_duplicated_reordered_batches_match_order_and_the_model(
    api: Api, chime: Any, chime_events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, (bob, carol) = open_meeting(api, BOB, CAROL)
    model = model_from_table(meeting_id)
    chime.connect(meeting_id, bob, content=True)
    chime.connect(meeting_id, carol, video=True)
    chime.advance(30)
    chime.drop(meeting_id, carol)
    chime.advance(1801)
    envelopes = list(chime_events)
    disordered = envelopes[::-1] + envelopes[:4]
    apply_events(disordered, batch_size=4)
    apply_events(disordered, batch_size=3)
    settle_ends(monkeypatch)
    view = meeting_view(api, meeting_id)
    assert (view["endReason"], view["attendees"]["peakConnected"], view["contentShareActive"]) == (
        "single_attendee_30min",
        2,
        False,
    )
    # The in-memory model of the writes, fed the same events in order, ends alike.
    deliver(service_for(model), envelopes)
    settle(model)
    table_now = model_from_table(meeting_id)
    for name in MEETING_FIELDS:
        assert getattr(table_now.meeting, name) == getattr(model.meeting, name), name
    for attendee_id, expected in model.attendees.items():
        stored = table_now.attendees[attendee_id]
        for name in ATTENDEE_FIELDS:
            assert getattr(stored, name) == getattr(expected, name), (attendee_id, name)


MEETING_FIELDS = (
    "status",
    "startedAt",
    "endedAt",
    "endReason",
    "connected",
    "peakConnected",
    "contentShareActive",
    "attendeeTotal",
)
ATTENDEE_FIELDS = ("presence", "joinedAt", "leftAt", "video", "contentShare")
