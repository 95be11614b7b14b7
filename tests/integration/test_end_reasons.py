"""End reasons through the real handlers (API, events, cleanup, publisher) against moto and the
emulator: a stated reason is never replaced, inference uses Chime's instants only, a DELETE
after an auto-end and a failed DeleteMeeting leave no wrong reason, and a full reconciliation
visits each open meeting once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from meetings import deployment
from meetings.adapters.table.store import MeetingTable
from meetings.domain.instants import rfc3339

from tests.integration.conftest import TABLE_NAME, Caller, FakeLambdaContext
from tests.integration.test_events_lifecycle import (
    SETTLED_LATER_MS,
    apply_events,
    chime_events,
    meeting_view,
    open_meeting,
    run_cleanup,
    settle_ends,
)
from tests.integration.test_publisher_stream import StreamTap, bus_queue, publish

__all__ = ["bus_queue", "chime_events"]  # the fixtures, shared
Api = Callable[..., Any]
BOB, CAROL = Caller("bob"), Caller("carol")
ENDED = "chime:MeetingEnded"


def share_chime_s_clock(chime: Any) -> None:
    """The API decides by Chime's (virtual) clock, as one world clock would have it."""
    from meetings import wiring  # noqa: PLC0415 - environment first

    wiring.container().clock = chime.now_ms


def stored(meeting_id: str) -> Any:
    record = MeetingTable(TABLE_NAME).get_meeting(meeting_id)
    assert record is not None
    return record


def ended_instant(envelopes: list[dict[str, Any]]) -> int:
    return int(
        next(e["detail"]["timestamp"] for e in envelopes if e["detail"]["eventType"] == ENDED)
    )


def test_a_late_meeting_ended_dates_an_end_a_join_noticed_and_settles_its_reason(
    api: Api,
    chime: Any,
    chime_events: list[dict[str, Any]],
    backend: Any,
    bus_queue: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    share_chime_s_clock(chime)
    tap = StreamTap(backend)
    meeting_id, (bob,) = open_meeting(api, BOB)
    chime.connect(meeting_id, bob)
    apply_events(chime_events)
    chime_events.clear()
    chime.advance(1801)  # Chime ends it by its single-attendee rule; the events are late
    late = list(chime_events)
    chime_end = ended_instant(late)
    chime.advance(600)
    # A join ten minutes later finds it gone: the backend's clock dates the end for now.
    assert api("POST", f"/meetings/{meeting_id}/attendees", caller=CAROL).status == 410
    view = meeting_view(api, meeting_id)
    assert (view["status"], view["endReason"]) == ("ENDED", "unknown")
    assert view["endedAt"] == rfc3339(chime.now_ms())
    tap.step()
    apply_events(late)
    view = meeting_view(api, meeting_id)
    assert (view["endReason"], view["endedAt"]) == ("unknown", rfc3339(chime_end))
    assert settle_ends(monkeypatch)["settled"] == 1
    view = meeting_view(api, meeting_id)
    assert (view["endReason"], view["endedAt"]) == ("single_attendee_30min", rfc3339(chime_end))
    tap.step()
    assert publish(tap.records) == {"batchItemFailures": []}
    published = {e["detail-type"]: e["detail"] for e in bus_queue()}
    assert (
        published["meeting.ended"]["endReasonFinal"],
        published["meeting.ended"]["endReason"],
    ) == (
        False,
        "unknown",
    )
    settled = published["meeting.end_settled"]
    assert settled["endReason"] == "single_attendee_30min"
    assert settled["durationSeconds"] == (chime_end - stored(meeting_id).createdAt) // 1000


def test_a_meeting_ended_overtaking_a_join_states_no_reason_until_settled(
    api: Api,
    chime: Any,
    chime_events: list[dict[str, Any]],
    backend: Any,
    bus_queue: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tap = StreamTap(backend)
    meeting_id, (bob,) = open_meeting(api, BOB)
    chime.connect(meeting_id, bob)
    chime.advance(1801)  # alone for 30 minutes
    bobs = [e for e in chime_events if e["detail"].get("attendeeId") == bob]
    apply_events([e for e in chime_events if e not in bobs])  # bob's join and leave are late
    tap.step()
    # The log says nobody ever had audio — no_audio_5min by a naive reading. Never stated.
    assert meeting_view(api, meeting_id)["endReason"] == "unknown"
    apply_events(bobs)
    assert meeting_view(api, meeting_id)["endReason"] == "unknown"
    tap.step()
    settle_ends(monkeypatch)
    assert meeting_view(api, meeting_id)["endReason"] == "single_attendee_30min"
    settle_ends(monkeypatch)  # a second run finds nothing to settle
    tap.step()
    assert publish(tap.records) == {"batchItemFailures": []}
    ends = [
        (e["detail-type"], e["detail"]["endReason"], e["detail"].get("endReasonFinal"))
        for e in bus_queue()
        if e["detail-type"].startswith("meeting.end")
    ]
    assert ends == [
        ("meeting.ended", "unknown", False),
        ("meeting.end_settled", "single_attendee_30min", None),
    ]


@pytest.mark.parametrize("meeting_ended_arrives", [True, False])
def test_delete_after_an_auto_end_settles_on_what_the_timeline_explains(
    api: Api,
    chime: Any,
    chime_events: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    meeting_ended_arrives: bool,
) -> None:
    share_chime_s_clock(chime)
    meeting_id, (bob,) = open_meeting(api, BOB)
    chime.connect(meeting_id, bob)
    chime.advance(60)
    chime.leave(meeting_id, bob)
    chime.advance(400)  # Chime ended it 300 s after bob left; no event reached us yet
    chime_end = ended_instant(chime_events)
    answer = api("DELETE", f"/meetings/{meeting_id}", caller=Caller("alice"))
    assert answer.status == 200
    assert (answer.body["meeting"]["status"], answer.body["meeting"]["endReason"]) == (
        "ENDED",
        "unknown",
    )
    delivered = [
        e for e in chime_events if meeting_ended_arrives or e["detail"]["eventType"] != ENDED
    ]
    apply_events(delivered)
    run_cleanup(monkeypatch, chime.now_ms() + SETTLED_LATER_MS, {})
    view = meeting_view(api, meeting_id)
    # Chime's instant, or the one the timeline predicts: the same here.
    assert (view["endReason"], view["endedAt"]) == ("no_audio_5min", rfc3339(chime_end))
    assert stored(meeting_id).requestedEndReason is None


def test_a_throttled_delete_meeting_leaves_no_host_ended_behind(
    api: Api, chime: Any, chime_events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, (bob,) = open_meeting(api, BOB)
    chime.connect(meeting_id, bob)
    chime.inject_fault("DeleteMeeting", "ThrottlingException", count=None)
    answer = api("DELETE", f"/meetings/{meeting_id}", caller=Caller("alice"))
    assert answer.status >= 400
    assert stored(meeting_id).requestedEndReason is None
    chime.clear_faults()
    chime.leave(meeting_id, bob)
    chime.advance(301)  # then Chime ends it by itself
    apply_events(chime_events)
    settle_ends(monkeypatch)
    assert meeting_view(api, meeting_id)["endReason"] == "no_audio_5min"


def test_a_failed_delete_meeting_at_the_max_duration_leaves_no_reason_behind(
    api: Api, chime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, _ = open_meeting(api, maxDurationSeconds=60)
    created_at = stored(meeting_id).createdAt
    chime.inject_fault("DeleteMeeting", "ThrottlingException", count=None)
    summary = run_cleanup(monkeypatch, created_at + 61_000, {})
    assert (summary["ended"], summary["skipped"]) == (0, 1)
    record = stored(meeting_id)
    assert (record.status.is_open, record.requestedEndReason) == (True, None)
    chime.clear_faults()
    summary = run_cleanup(monkeypatch, created_at + 61_000 + 180_000, {})
    assert summary["ended"] == 1
    assert meeting_view(api, meeting_id)["endReason"] == "max_duration"


class ShrinkingContext(FakeLambdaContext):
    """A Lambda context whose remaining time shrinks by 200 ms at each look: a run that
    visits meetings again and again runs out of it instead of looping for ever."""

    def get_remaining_time_in_millis(self) -> int:
        self.remaining_millis -= 200
        return self.remaining_millis


def test_reconcile_all_visits_each_open_meeting_once(
    api: Api, chime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_ids = [
        api("POST", "/meetings", caller=Caller(f"host-{number}"), body={}).body["meeting"][
            "meetingId"
        ]
        for number in range(32)
    ]
    calls: Counter[str] = Counter()
    call = chime.call

    def counted(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        calls[operation] += 1
        result: dict[str, Any] = call(operation, params)
        return result

    monkeypatch.setattr(chime, "call", counted)
    clock = iter(range(int(time.time() * 1000), 2**62, 1000))  # every reading a second later
    from meetings import wiring  # noqa: PLC0415
    from meetings.handlers import cleanup  # noqa: PLC0415

    monkeypatch.setattr(wiring.container(), "clock", lambda: next(clock))
    summary = cleanup.handler(deployment.RECONCILE_ALL_INPUT, ShrinkingContext())
    assert (summary["reconciled"], summary["complete"]) == (len(meeting_ids), True)
    assert calls["GetMeeting"] == len(meeting_ids)
