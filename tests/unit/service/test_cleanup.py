"""The cleanup use case against in-memory fakes of its ports (no moto, no emulator): which
meetings it ends, with what reason and origin, which it leaves open, and what it does when
Chime fails, another run holds a meeting, or time runs out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from meetings.domain.activity_plan import ActivitySnapshot
from meetings.domain.errors import ThrottledError
from meetings.domain.instants import rfc3339
from meetings.domain.presence import ActivityLog, EntryKind, LogEntry, attendee_ref
from meetings.domain.records import (
    EndNoticer,
    EndReason,
    EndSource,
    MeetingRecord,
    MeetingStatus,
)
from meetings.service.cleanup import TIME_RESERVE_MS, CleanupService, CleanupSummary
from meetings.service.ports import (
    ChimeMeetingLookup,
    CleanupPage,
    CleanupQueries,
    EndOrigin,
    MeetingClosing,
    OpenMeeting,
)

NOW = 1_796_000_000_000
INTERVAL_S = 300
SETTLE_MS = 120_000


def meeting(meeting_id: str, **fields: Any) -> MeetingRecord:
    base = MeetingRecord(
        meetingId=meeting_id,
        externalMeetingId=f"room-{meeting_id}",
        mediaRegion="us-east-1",
        hostUserId="alice",
        createdAt=NOW - 600_000,
        status=MeetingStatus.STARTED,
    )
    return replace(base, **fields)


@dataclass
class FakeQueries:
    due: list[OpenMeeting] = field(default_factory=list)
    ended: dict[str, ActivitySnapshot] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)
    held_by_another_run: set[str] = field(default_factory=set)

    def page(
        self, *, due_by: str | None, limit: int, start_key: dict[str, Any] | None
    ) -> CleanupPage:
        listed = [m for m in self.due if due_by is None or (m.due or "") <= due_by]
        return self._slice(listed, limit, start_key)

    def page_open(self, *, limit: int, start_key: dict[str, Any] | None) -> CleanupPage:
        return self._slice([m for m in self.due if m.meeting.status.is_open], limit, start_key)

    @staticmethod
    def _slice(
        listed: list[OpenMeeting], limit: int, start_key: dict[str, Any] | None
    ) -> CleanupPage:
        start = int(start_key["at"]) if start_key else 0
        rest = listed[start + limit :]
        return listed[start : start + limit], ({"at": start + limit} if rest else None)

    def read_ended(self, meeting_id: str) -> ActivitySnapshot | None:
        return self.ended.get(meeting_id)

    def claim(self, meeting_id: str, seen_due: str | None, next_due: str) -> bool:
        if meeting_id in self.held_by_another_run:
            return False
        self.claims[meeting_id] = next_due
        return True


@dataclass
class FakeMeetings:
    calls: list[tuple[str, Any]] = field(default_factory=list)
    ended: dict[str, tuple[EndReason, int, EndOrigin | None]] = field(default_factory=dict)
    settled: dict[str, tuple[EndReason, int, EndSource]] = field(default_factory=dict)

    def final_end(self, source: EndSource = EndSource.BACKEND) -> EndOrigin:
        return EndOrigin(source)

    def pending_end(
        self, source: EndSource, now_ms: int, noticed_by: EndNoticer | None = None
    ) -> EndOrigin:
        return EndOrigin(source, noticed_by, now_ms + SETTLE_MS)

    def end_meeting(
        self,
        meeting_id: str,
        reason: EndReason,
        ended_at_ms: int,
        *,
        origin: EndOrigin | None = None,
        honour_requested: bool = True,
        known: MeetingRecord | None = None,
    ) -> MeetingRecord | None:
        self.calls.append(("end_meeting", meeting_id))
        self.ended[meeting_id] = (reason, ended_at_ms, origin)
        assert known is not None
        return replace(known, status=MeetingStatus.ENDED, endReason=reason, endedAt=ended_at_ms)

    def request_end(self, meeting_id: str, reason: EndReason) -> MeetingRecord | None:
        self.calls.append(("request_end", (meeting_id, reason)))
        return None

    def withdraw_end_request(self, meeting_id: str, reason: EndReason) -> None:
        self.calls.append(("withdraw_end_request", (meeting_id, reason)))

    def settle_end(
        self, seen: MeetingRecord, reason: EndReason, ended_at_ms: int, source: EndSource
    ) -> bool:
        self.settled[seen.meetingId] = (reason, ended_at_ms, source)
        return True


@dataclass
class FakeChime:
    open_meetings: set[str] = field(default_factory=set)
    failing: bool = False
    deleted: list[str] = field(default_factory=list)

    def get_meeting(self, meeting_id: str) -> dict[str, Any] | None:
        if self.failing:
            raise ThrottledError()
        return {"MeetingId": meeting_id} if meeting_id in self.open_meetings else None

    def delete_meeting(self, meeting_id: str) -> bool:
        if self.failing:
            raise ThrottledError()
        self.deleted.append(meeting_id)
        was_open = meeting_id in self.open_meetings
        self.open_meetings.discard(meeting_id)
        return was_open


def cleanup(
    queries: CleanupQueries, meetings: MeetingClosing, chime: ChimeMeetingLookup
) -> CleanupService:
    return CleanupService(
        queries, meetings, chime, clock=lambda: NOW, reconcile_interval_seconds=INTERVAL_S
    )


def plenty_of_time() -> int:
    return 900_000


def scheduled_run(queries: FakeQueries, meetings: FakeMeetings, chime: FakeChime) -> CleanupSummary:
    return cleanup(queries, meetings, chime).run(reconcile_all=False, time_left_ms=plenty_of_time)


@pytest.fixture
def parts() -> tuple[FakeQueries, FakeMeetings, FakeChime]:
    return FakeQueries(), FakeMeetings(), FakeChime()


def due(record: MeetingRecord) -> OpenMeeting:
    return OpenMeeting(record, rfc3339(NOW - 1_000))


def test_a_meeting_chime_still_has_stays_open_and_is_due_one_interval_later(
    parts: tuple[FakeQueries, FakeMeetings, FakeChime],
) -> None:
    queries, meetings, chime = parts
    queries.due.append(due(meeting("m1")))
    chime.open_meetings.add("m1")
    summary = cleanup(queries, meetings, chime).run(
        reconcile_all=False, time_left_ms=plenty_of_time
    )
    assert (summary.reconciled, summary.ended, summary.complete) == (1, 0, True)
    assert queries.claims["m1"] == rfc3339(NOW + INTERVAL_S * 1000)
    assert meetings.calls == []


def test_an_open_meeting_is_due_again_at_its_deadline_when_that_comes_first(
    parts: tuple[FakeQueries, FakeMeetings, FakeChime],
) -> None:
    queries, meetings, chime = parts
    deadline = NOW + 60_000
    record = meeting("m1", createdAt=deadline - 3_600_000, maxDurationSeconds=3_600)
    queries.due.append(due(record))
    chime.open_meetings.add("m1")
    scheduled_run(queries, meetings, chime)
    assert queries.claims["m1"] == rfc3339(deadline)


def test_a_meeting_chime_no_longer_has_ends_with_its_reason_left_to_settle(
    parts: tuple[FakeQueries, FakeMeetings, FakeChime],
) -> None:
    queries, meetings, chime = parts
    queries.due.append(due(meeting("m1")))
    summary = cleanup(queries, meetings, chime).run(
        reconcile_all=False, time_left_ms=plenty_of_time
    )
    assert summary.ended == 1
    reason, ended_at, origin = meetings.ended["m1"]
    assert (reason, ended_at) == (EndReason.UNKNOWN, NOW)
    assert origin == EndOrigin(EndSource.BACKEND, EndNoticer.RECONCILIATION, NOW + SETTLE_MS)


def test_a_meeting_past_its_maximum_duration_is_deleted_with_its_reason_recorded_first(
    parts: tuple[FakeQueries, FakeMeetings, FakeChime],
) -> None:
    queries, meetings, chime = parts
    queries.due.append(due(meeting("m1", createdAt=NOW - 3_601_000, maxDurationSeconds=3_600)))
    chime.open_meetings.add("m1")
    summary = cleanup(queries, meetings, chime).run(
        reconcile_all=False, time_left_ms=plenty_of_time
    )
    assert summary.ended == 1
    assert chime.deleted == ["m1"]
    assert meetings.calls[0] == ("request_end", ("m1", EndReason.MAX_DURATION))
    assert meetings.ended["m1"] == (EndReason.MAX_DURATION, NOW, EndOrigin(EndSource.BACKEND))


def test_a_failed_delete_takes_the_request_back_and_leaves_the_meeting_due(
    parts: tuple[FakeQueries, FakeMeetings, FakeChime],
) -> None:
    queries, meetings, chime = parts
    queries.due.append(due(meeting("m1", createdAt=NOW - 3_601_000, maxDurationSeconds=3_600)))
    chime.open_meetings.add("m1")
    chime.failing = True
    summary = cleanup(queries, meetings, chime).run(
        reconcile_all=False, time_left_ms=plenty_of_time
    )
    assert (summary.ended, summary.skipped) == (0, 1)
    assert meetings.calls == [
        ("request_end", ("m1", EndReason.MAX_DURATION)),
        ("withdraw_end_request", ("m1", EndReason.MAX_DURATION)),
    ]


def test_a_meeting_another_run_holds_is_skipped_untouched(
    parts: tuple[FakeQueries, FakeMeetings, FakeChime],
) -> None:
    queries, meetings, chime = parts
    queries.due.append(due(meeting("m1")))
    queries.held_by_another_run.add("m1")
    summary = cleanup(queries, meetings, chime).run(
        reconcile_all=False, time_left_ms=plenty_of_time
    )
    assert (summary.skipped, summary.ended, summary.reconciled) == (1, 0, 0)
    assert meetings.calls == []


def test_the_run_stops_before_time_runs_out_and_says_it_is_incomplete(
    parts: tuple[FakeQueries, FakeMeetings, FakeChime],
) -> None:
    queries, meetings, chime = parts
    queries.due.extend(due(meeting(f"m{n}")) for n in range(3))
    chime.open_meetings.update(f"m{n}" for n in range(3))
    left = iter([900_000, TIME_RESERVE_MS - 1])
    summary = cleanup(queries, meetings, chime).run(
        reconcile_all=False, time_left_ms=lambda: next(left)
    )
    assert (summary.reconciled, summary.complete) == (1, False)


def test_reconcile_all_visits_every_open_meeting_across_pages(
    parts: tuple[FakeQueries, FakeMeetings, FakeChime],
) -> None:
    queries, meetings, chime = parts
    records = [meeting(f"m{n}") for n in range(60)]  # more than two pages
    queries.due.extend(OpenMeeting(r, rfc3339(NOW + 3_600_000)) for r in records)  # none due
    chime.open_meetings.update(r.meetingId for r in records)
    summary = cleanup(queries, meetings, chime).run(reconcile_all=True, time_left_ms=plenty_of_time)
    assert (summary.reconciled, summary.complete) == (60, True)


def test_an_ended_meeting_past_its_settle_instant_gets_the_reason_its_log_explains(
    parts: tuple[FakeQueries, FakeMeetings, FakeChime],
) -> None:
    queries, meetings, chime = parts
    created, joined, left = NOW - 3_600_000, NOW - 3_500_000, NOW - 3_000_000
    ended_at = left + 300_001  # Chime's no-audio rule: 5 minutes after the last one left
    log: Callable[..., LogEntry] = LogEntry.of
    activity = ActivityLog(
        frozenset(
            {
                log(created, EntryKind.MEETING_STARTED),
                log(joined, EntryKind.JOINED, attendee_ref("a1")),
                log(left, EntryKind.LEFT, attendee_ref("a1")),
            }
        )
    )
    record = meeting(
        "m1",
        createdAt=created,
        status=MeetingStatus.ENDED,
        endReason=EndReason.UNKNOWN,
        endedAt=ended_at,
        endedAtSource=EndSource.CHIME,
        endSettlesAt=NOW - 1,
    )
    queries.due.append(OpenMeeting(record, rfc3339(NOW - 1)))
    queries.ended["m1"] = ActivitySnapshot(record, activity)
    summary = cleanup(queries, meetings, chime).run(
        reconcile_all=False, time_left_ms=plenty_of_time
    )
    assert summary.settled == 1
    assert meetings.settled["m1"] == (EndReason.NO_AUDIO_5MIN, ended_at, EndSource.CHIME)


def test_an_ended_meeting_not_yet_due_to_settle_is_left_alone(
    parts: tuple[FakeQueries, FakeMeetings, FakeChime],
) -> None:
    queries, meetings, chime = parts
    record = meeting(
        "m1",
        status=MeetingStatus.ENDED,
        endReason=EndReason.UNKNOWN,
        endedAt=NOW - 10_000,
        endedAtSource=EndSource.CHIME,
        endSettlesAt=NOW + 60_000,
    )
    queries.due.append(OpenMeeting(record, rfc3339(NOW - 1)))  # the index lags behind
    queries.ended["m1"] = ActivitySnapshot(record, ActivityLog())
    summary = cleanup(queries, meetings, chime).run(
        reconcile_all=False, time_left_ms=plenty_of_time
    )
    assert (summary.settled, meetings.settled) == (0, {})
