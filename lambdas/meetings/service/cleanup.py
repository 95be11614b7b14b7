"""The scheduled cleanup: end meetings past their maximum duration, reconcile open meetings
with Chime (whose MeetingEnded may never arrive), keep every open meeting on schedule, and
settle the inferred reason of ended meetings once their settle window passed.

Every open meeting it touches is first claimed by moving its due instant on, conditioned on
the instant it read: two overlapping runs never work on the same meeting, and a meeting whose
Chime call fails is simply due again one interval later. An ended meeting waiting for its
reason sits in the same due index (due at `endSettlesAt`); settling it is one write
conditioned on the meeting being as read, so of two runs one settles it. Wall-clock decisions
use the injected clock — it decides when to settle, never what; the work stops while the
Lambda still has time to answer.

A full reconciliation (`reconcile_all`) pages the open index (by creation, a sort key no
claim moves) so each open meeting is visited exactly once, then settles what is due.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

from meetings.domain.end_reason import settled_end
from meetings.domain.errors import DomainError
from meetings.domain.instants import rfc3339
from meetings.domain.records import EndNoticer, EndReason, EndSource, MeetingRecord
from meetings.service.ports import (
    ChimeMeetingLookup,
    CleanupPage,
    CleanupQueries,
    Clock,
    MeetingClosing,
    OpenMeeting,
)

PAGE_SIZE: Final = 25
# Stop starting new work when less than this is left of the invocation (a Chime call with
# retries, and the answer, must still fit).
TIME_RESERVE_MS: Final = 20_000


@dataclass
class CleanupSummary:
    ended: int = 0
    reconciled: int = 0
    settled: int = 0  # ended meetings whose reason became final
    skipped: int = 0
    complete: bool = True  # False: time ran out with meetings still due
    ended_meetings: list[MeetingRecord] = field(default_factory=list, repr=False)
    settled_meetings: list[MeetingRecord] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        summary = asdict(self)
        summary.pop("ended_meetings")
        summary.pop("settled_meetings")
        return summary


class CleanupService:
    def __init__(
        self,
        queries: CleanupQueries,
        meetings: MeetingClosing,
        chime: ChimeMeetingLookup,
        *,
        clock: Clock,
        reconcile_interval_seconds: int,
    ) -> None:
        self._queries = queries
        self._meetings = meetings
        self._chime = chime
        self._clock = clock
        self._interval_ms = reconcile_interval_seconds * 1000

    def run(self, *, reconcile_all: bool, time_left_ms: Callable[[], int]) -> CleanupSummary:
        summary = CleanupSummary()
        due_by = rfc3339(self._clock())

        def due(start_key: dict[str, Any] | None) -> CleanupPage:
            return self._queries.page(due_by=due_by, limit=PAGE_SIZE, start_key=start_key)

        def every_open(start_key: dict[str, Any] | None) -> CleanupPage:
            return self._queries.page_open(limit=PAGE_SIZE, start_key=start_key)

        if reconcile_all:
            # Open meetings from the open index; then the due index for the ended ones only
            # (the open ones it lists were just seen).
            if self._visit(every_open, summary, time_left_ms, ended=False):
                self._visit(due, summary, time_left_ms, opened=False)
        else:
            self._visit(due, summary, time_left_ms)
        return summary

    def _visit(
        self,
        pages: Callable[[dict[str, Any] | None], CleanupPage],
        summary: CleanupSummary,
        time_left_ms: Callable[[], int],
        *,
        opened: bool = True,
        ended: bool = True,
    ) -> bool:
        """Attend each meeting of the pages; False if time ran out first."""
        start_key: dict[str, Any] | None = None
        while True:
            page, start_key = pages(start_key)
            for listed in page:
                is_open = listed.meeting.status.is_open
                if (is_open and not opened) or (not is_open and not ended):
                    continue
                if time_left_ms() < TIME_RESERVE_MS:
                    summary.complete = False
                    return False
                if is_open:
                    self._attend(listed, self._clock(), summary)
                else:
                    self._settle_reason(listed.meeting, summary)
            if not start_key:
                return True

    def _settle_reason(self, listed: MeetingRecord, summary: CleanupSummary) -> None:
        """Make an ended meeting's reason final, from a consistent read of it and its log."""
        snapshot = self._queries.read_ended(listed.meetingId)
        meeting = None if snapshot is None else snapshot.meeting
        if snapshot is None or meeting is None or meeting.endSettlesAt is None:
            return  # settled meanwhile (or gone)
        if meeting.endSettlesAt > self._clock() or meeting.endedAt is None:
            return  # a late MeetingEnded moved nothing, but the index lagged: not due yet
        reason, ended_at, source = settled_end(
            snapshot.log,
            meeting.endReason or EndReason.UNKNOWN,
            meeting.endedAt,
            meeting.endedAtSource or EndSource.BACKEND,
            meeting.endNoticedBy,
        )
        if self._meetings.settle_end(meeting, reason, ended_at, source):
            summary.settled += 1
            summary.settled_meetings.append(
                replace(meeting, endReason=reason, endedAt=ended_at, endSettlesAt=None)
            )
        else:
            summary.skipped += 1  # it changed meanwhile: due again, settled by a later run

    def _attend(self, open_meeting: OpenMeeting, now: int, summary: CleanupSummary) -> None:
        meeting = open_meeting.meeting
        if not self._queries.claim(
            meeting.meetingId, open_meeting.due, self._next_due(meeting, now)
        ):
            summary.skipped += 1  # another run has it
            return
        try:
            ended = self._settle(open_meeting, now)
        except DomainError:
            summary.skipped += 1  # Chime is busy or failing: due again in one interval
            return
        if ended is None:
            summary.reconciled += 1
        else:
            summary.ended += 1
            summary.ended_meetings.append(ended)

    def _next_due(self, meeting: MeetingRecord, now: int) -> str:
        due = now + self._interval_ms
        deadline = _deadline(meeting)
        if deadline is not None and deadline > now:
            due = min(due, deadline)
        return rfc3339(due)

    def _settle(self, open_meeting: OpenMeeting, now: int) -> MeetingRecord | None:
        """End the meeting if its time is up or Chime no longer has it; None if it stays open."""
        meeting = open_meeting.meeting
        deadline = _deadline(meeting)
        if meeting.requestedEndReason is not None or (deadline is not None and now >= deadline):
            return self._end_ourselves(meeting, now)
        if self._chime.get_meeting(meeting.meetingId) is not None:
            return None
        return self._end_noticed(meeting, now, drop_request=False)

    def _end_noticed(
        self, meeting: MeetingRecord, now: int, *, drop_request: bool
    ) -> MeetingRecord | None:
        """Chime no longer has it and never told us: ended by our clock, its reason settled
        later (a late MeetingEnded's instant, else the timeline's prediction, else vanished).
        A reason requested meanwhile (a host's DELETE in flight) is kept unless `drop_request`:
        our own request whose DeleteMeeting found the meeting already gone."""
        origin = self._meetings.pending_end(EndSource.BACKEND, now, EndNoticer.RECONCILIATION)
        return self._meetings.end_meeting(
            meeting.meetingId,
            EndReason.UNKNOWN,
            now,
            origin=origin,
            honour_requested=not drop_request,
            known=meeting,
        )

    def _end_ourselves(self, meeting: MeetingRecord, now: int) -> MeetingRecord | None:
        # The reason is recorded before DeleteMeeting, so that the chime:MeetingEnded it causes
        # finds it; an end someone else asked for first (the host) keeps theirs. If the
        # DeleteMeeting fails, our request is taken back: no end happened.
        ours = meeting.requestedEndReason is None
        if ours:
            self._meetings.request_end(meeting.meetingId, EndReason.MAX_DURATION)
        try:
            deleted = self._chime.delete_meeting(meeting.meetingId)
        except DomainError:
            if ours:
                self._meetings.withdraw_end_request(meeting.meetingId, EndReason.MAX_DURATION)
            raise
        if not deleted and ours:
            # Chime had ended it: not by its deadline.
            return self._end_noticed(meeting, now, drop_request=True)
        return self._meetings.end_meeting(
            meeting.meetingId,
            EndReason.MAX_DURATION,
            now,
            origin=self._meetings.final_end(),
            known=meeting,
        )


def _deadline(meeting: MeetingRecord) -> int | None:
    if meeting.maxDurationSeconds is None:
        return None
    return meeting.createdAt + meeting.maxDurationSeconds * 1000
