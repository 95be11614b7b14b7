"""Chime's auto-end rules, fast-forwarded with the emulator's clock: the meeting ends in Chime,
the event flows through the rule, the queue and the events handler, and the record shows why."""

from __future__ import annotations

from typing import Any

import pytest

from local.stack import LocalStack
from tests.localstack_support import events_in, settle_end_reasons


def _meeting_with(api: Any, unique: Any, audio_attendees: int) -> tuple[str, str]:
    host = api.token(unique("host"))
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]
    for index in range(audio_attendees):
        token = api.token(unique(f"user{index}"))
        join = api.request("POST", f"/meetings/{meeting_id}/attendees", token=token)
        attendee_id = join.json["Attendee"]["AttendeeId"]
        connect = f"/_local/meetings/{meeting_id}/attendees/{attendee_id}/connect"
        assert api.request("POST", connect, body={"audio": True}).status == 200
    return host, meeting_id


def _view(api: Any, host: str, meeting_id: str) -> Any:
    return api.request("GET", f"/meetings/{meeting_id}", token=host).json["meeting"]


def _ended_view(api: Any, stack: LocalStack, wait: Any, host: str, meeting_id: str) -> Any:
    """The meeting once its inferred reason is final. It reads ENDED with `unknown` as soon as
    MeetingEnded is applied (`endReasonFinal` false); the reason is stated once, by the cleanup,
    past the settle window (docs/events.md, "Settlement") — so a developer lets the events in
    flight land, advances the world clock past that window and lets the cleanup run."""
    ended = wait(lambda: _view(api, host, meeting_id)["status"] == "ENDED")
    assert ended, "the MeetingEnded event never reached the record"
    assert _view(api, host, meeting_id)["endReason"] == "unknown", "stated before settlement"
    settle_end_reasons(api, stack)
    return _view(api, host, meeting_id)


@pytest.mark.parametrize(
    ("audio_attendees", "advance_seconds", "reason"),
    [
        (0, 301, "no_audio_5min"),
        (1, 1801, "single_attendee_30min"),
        (2, 86_401, "chime_24h_limit"),
    ],
)
def test_auto_end_rule_reaches_the_record(
    api: Any,
    local_stack: LocalStack,
    unique: Any,
    wait: Any,
    audio_attendees: int,
    advance_seconds: int,
    reason: str,
) -> None:
    host, meeting_id = _meeting_with(api, unique, audio_attendees)
    advanced = api.request("POST", "/_local/clock/advance", body={"seconds": advance_seconds})
    assert advanced.status == 200
    view = _ended_view(api, local_stack, wait, host, meeting_id)
    assert view["status"] == "ENDED"
    assert view["endReason"] == reason
    assert view["attendees"]["connected"] == 0


def test_lost_meeting_ended_is_repaired_by_reconciliation(
    api: Any, local_stack: LocalStack, unique: Any, wait: Any
) -> None:
    host, meeting_id = _meeting_with(api, unique, 0)
    # chime:MeetingStarted overtakes the record's write, is refused, and comes back after the
    # queue's 2 s visibility timeout: let it land before the chaos starts, so that the timeline
    # holds the creation instant the inference needs.
    assert events_in(local_stack)
    dropped_before = api.request("GET", "/_local/chaos").json["deliveries"]["dropped"]
    api.request("POST", "/_local/chaos", body={"dropRate": 1.0, "seed": 7})
    api.request("POST", "/_local/clock/advance", body={"seconds": 301})

    def meeting_ended_lost() -> bool:
        # Chaos applies when the queue is drained: wait until the MeetingEnded was dropped.
        return api.request("GET", "/_local/chaos").json["deliveries"]["dropped"] > dropped_before

    assert wait(meeting_ended_lost)
    view = api.request("GET", f"/meetings/{meeting_id}", token=host).json["meeting"]
    assert view["status"] != "ENDED"

    summary = api.request("POST", "/_local/cleanup", body={"reconcile": "all"})
    assert summary.status == 200 and summary.json["ended"] >= 1, summary.json
    # The timeline predicts no_audio_5min at creation + 300 s; Chime and the backend share the
    # world clock, so that instant lies in the backend's past too, and the record says why once
    # the end settles (until then it reads `unknown`).
    view = _ended_view(api, local_stack, wait, host, meeting_id)
    assert view["status"] == "ENDED" and view["endReason"] == "no_audio_5min"
