"""The scheduled cleanup: end meetings past their maximum duration, reconcile open meetings
with Chime (whose MeetingEnded may never arrive), and keep every open meeting on schedule.

Every meeting it touches is first claimed by moving its due instant on, conditioned on the
instant it read: two overlapping runs never work on the same meeting, and a meeting whose
Chime call fails is simply due again one interval later. Wall-clock decisions use the
injected clock; the work stops while the Lambda still has time to answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from meetings.adapters.chime import ChimeGateway
from meetings.adapters.presence_store import CleanupQueries, OpenMeeting
from meetings.adapters.store import MeetingStore
from meetings.domain.end_reason import predict_end
from meetings.domain.errors import DomainError
from meetings.domain.records import EndReason, MeetingRecord
from meetings.domain.views import rfc3339

PAGE_SIZE: Final = 25
# Stop starting new work when less than this is left of the invocation (a Chime call with
# retries, and the answer, must still fit).
TIME_RESERVE_MS: Final = 20_000


@dataclass
class CleanupSummary:
    ended: int = 0
    reconciled: int = 0
    skipped: int = 0
    complete: bool = True  # False: time ran out with meetings still due
    ended_meetings: list[MeetingRecord] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        summary = asdict(self)
        summary.pop("ended_meetings")
        return summary


class CleanupService:
    def __init__(
        self,
        queries: CleanupQueries,
        meetings: MeetingStore,
        chime: ChimeGateway,
        *,
        clock: Callable[[], int],
        reconcile_interval_seconds: int,
    ) -> None:
        self._queries = queries
        self._meetings = meetings
        self._chime = chime
        self._clock = clock
        self._interval_ms = reconcile_interval_seconds * 1000

    def run(self, *, reconcile_all: bool, time_left_ms: Callable[[], int]) -> CleanupSummary:
        summary = CleanupSummary()
        now = self._clock()
        due_by = None if reconcile_all else rfc3339(now)
        start_key: dict[str, Any] | None = None
        while True:
            page, start_key = self._queries.page(
                due_by=due_by, limit=PAGE_SIZE, start_key=start_key
            )
            for open_meeting in page:
                if time_left_ms() < TIME_RESERVE_MS:
                    summary.complete = False
                    return summary
                self._attend(open_meeting, self._clock(), summary)
            if not start_key:
                return summary

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
        # The activity log is read only now, for a meeting Chime no longer has.
        log = self._queries.activity(meeting.meetingId)
        reason, ended_at = predict_end(log, now) or (
            EndReason.VANISHED,
            now,
        )
        return self._meetings.end_meeting(meeting.meetingId, reason, ended_at, known=meeting)

    def _end_ourselves(self, meeting: MeetingRecord, now: int) -> MeetingRecord | None:
        # The reason is recorded before DeleteMeeting, so that the chime:MeetingEnded it causes
        # finds it; an end someone else asked for first (the host) keeps theirs.
        if meeting.requestedEndReason is None:
            self._meetings.request_end(meeting.meetingId, EndReason.MAX_DURATION)
        self._chime.delete_meeting(meeting.meetingId)
        return self._meetings.end_meeting(
            meeting.meetingId, EndReason.MAX_DURATION, now, known=meeting
        )


def _deadline(meeting: MeetingRecord) -> int | None:
    if meeting.maxDurationSeconds is None:
        return None
    return meeting.createdAt + meeting.maxDurationSeconds * 1000
