"""Applying Chime's meeting events to the table: the events handler's use case.

Each batch is grouped by meeting; a meeting's events are applied together as one derived
change (read the meeting, its activity log and the attendees concerned, add the new log
entries, compact the log when it is long, store what the whole log now says, conditioned on
what was read — see adapters/table/activity.py).
A duplicate adds no entry and changes nothing; a late event adds its entry and the derived
state comes out as if it had arrived in order. `chime:MeetingEnded` then ends the meeting
at its timestamp with the reason the backend recorded itself (final at once); otherwise the
reason reads `unknown` until the cleanup settles it (service/cleanup.py) one settle window
later, so reordered events can still complete the log first. A MeetingEnded for a meeting
the backend already ended by its own clock (it noticed the end first) gives it Chime's
instant, while the reason is not settled. These events never write a reason themselves.

Cost: events that add no entry (AttendeeAdded, AttendeeAuthorized, ...) cost no request. A
container remembers each meeting's snapshot as its last successful write left it, so the next
batch of that meeting is one TransactWriteItems without a read: the write's conditions (the
status and activity version it was derived from, attendees not REMOVED) fail if anyone else changed
the meeting meanwhile, and the batch then reads and derives again. The memory is a
shortcut, never a source of truth.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from meetings.domain.activity_plan import (
    ActivitySnapshot,
    ActivityWrite,
    SeenAttendee,
    plan_activity_write,
    seen_attendees,
    snapshot_after,
    split_write,
    subjects_of,
)
from meetings.domain.chime_events import ChimeEvent, ChimeEventType
from meetings.domain.presence import LogEntry, entry_for
from meetings.domain.records import EndReason, EndSource, MeetingRecord
from meetings.service.ports import ActivityConflictError, ActivityStore, Clock, MeetingEnding

# Conflicting writers of one meeting are rare; past this many rounds the batch is retried.
MAX_ATTEMPTS: Final = 5
# Meetings whose last written snapshot one container remembers (a few hundred KB at most).
REMEMBERED_MEETINGS: Final = 512


class MeetingNotRecordedError(Exception):
    """Events of a meeting the table does not (yet) hold: retried by SQS for a while."""


class ConflictPersistedError(Exception):
    """Other writers kept changing the meeting: the batch's records are retried by SQS."""


@dataclass(frozen=True, slots=True)
class AppliedEvents:
    meeting_id: str
    changed: bool
    ended: MeetingRecord | None = None  # set when these events ended the meeting
    # People connected with audio once the events were applied (None: nothing was derived).
    connected: int | None = None


# --- the pure part: what the table should hold after the new entries ----------------------------


class RememberedSnapshots:
    """The last written snapshot of the meetings this container applied events to, LRU."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._snapshots: OrderedDict[str, ActivitySnapshot] = OrderedDict()

    def remember(self, snapshot: ActivitySnapshot) -> None:
        meeting_id = snapshot.meeting.meetingId
        self._snapshots[meeting_id] = snapshot
        self._snapshots.move_to_end(meeting_id)
        while len(self._snapshots) > self._capacity:
            self._snapshots.popitem(last=False)

    def take(self, meeting_id: str, subjects: Sequence[str]) -> ActivitySnapshot | None:
        """The remembered snapshot (now forgotten until written again), the subjects it does
        not know marked unread."""
        snapshot = self._snapshots.pop(meeting_id, None)
        if snapshot is None:
            return None
        return replace(snapshot, unread=frozenset(subjects) - set(snapshot.attendees))

    def forget(self, meeting_id: str) -> None:
        self._snapshots.pop(meeting_id, None)


# --- the use case ---------------------------------------------------------------------------


class ChimeEventService:
    def __init__(
        self,
        activity: ActivityStore,
        meetings: MeetingEnding,
        *,
        clock: Clock,
    ) -> None:
        self._activity = activity
        self._meetings = meetings
        # Only decides when an inferred reason is settled, never what it is.
        self._clock = clock
        self._remembered = RememberedSnapshots(REMEMBERED_MEETINGS)

    def apply(self, meeting_id: str, events: Sequence[ChimeEvent]) -> AppliedEvents:
        """Apply one meeting's events (any order, duplicates welcome)."""
        entries = [entry for entry in map(entry_for, events) if entry is not None]
        endings = [e for e in events if e.event_type is ChimeEventType.MEETING_ENDED]
        if not entries and not endings:
            return AppliedEvents(meeting_id, False)  # nothing the table derives from
        seen = seen_attendees(events)
        snapshot, change = self._apply_entries(
            meeting_id, entries, subjects_of(events), seen, from_memory=not endings
        )
        if not endings or not _may_end(snapshot.meeting):
            connected = snapshot_after(snapshot, change).meeting.connected
            return AppliedEvents(meeting_id, not change.is_empty, connected=connected)
        self._remembered.forget(meeting_id)  # end_meeting changes the items below
        ended_at = min(e.timestamp for e in endings)
        ended = self._end(snapshot.meeting, ended_at)
        # end_meeting closed the connected attendees; let the log settle what it knows better
        # for every attendee (no camera or share after the end, a disconnect before it) and a
        # reason that a concurrent batch's entries explain.
        self._apply_entries(meeting_id, [], [], seen, every_attendee=True)
        return AppliedEvents(meeting_id, True, ended)

    def apply_capture_entries(self, meeting_id: str, entries: Sequence[LogEntry]) -> bool:
        """Add capture pipelines' entries (presence.capture_entry) to the meeting's log, as
        meeting events add theirs: any order, duplicates welcome. True if the log changed."""
        if not entries:
            return False
        _, change = self._apply_entries(meeting_id, entries, [], {}, from_memory=True)
        return change.changes_log

    def _apply_entries(
        self,
        meeting_id: str,
        entries: Sequence[LogEntry],
        subjects: Sequence[str],
        seen: Mapping[str, SeenAttendee],
        *,
        every_attendee: bool = False,
        from_memory: bool = False,
    ) -> tuple[ActivitySnapshot, ActivityWrite]:
        remembered = self._remembered.take(meeting_id, subjects) if from_memory else None
        if remembered is not None:
            change = plan_activity_write(remembered, entries, seen)
            # Without a change to the log the memory cannot tell a duplicate from news: no
            # write would prove it current, so such a batch reads, as every batch once did.
            if change.changes_log and self._write(remembered, change):
                return remembered, change
        for _ in range(MAX_ATTEMPTS):
            snapshot = self._activity.read(meeting_id, subjects, every_attendee=every_attendee)
            if snapshot is None:
                raise MeetingNotRecordedError(meeting_id)
            change = plan_activity_write(snapshot, entries, seen)
            if self._write(snapshot, change):
                return snapshot, change
        raise ConflictPersistedError(meeting_id)

    def _write(self, snapshot: ActivitySnapshot, change: ActivityWrite) -> bool:
        """Write the change; False if the snapshot was stale (nothing remembered then)."""
        try:
            for part in split_write(change):
                self._activity.write(part)
        except ActivityConflictError:
            return False
        self._remembered.remember(snapshot_after(snapshot, change))
        return True

    def _end(self, meeting: MeetingRecord, ended_at: int) -> MeetingRecord | None:
        if meeting.requestedEndReason is not None:
            # Our own end overtaken by Chime's event: the reason we recorded, final at once.
            reason = meeting.requestedEndReason
            origin = self._meetings.final_end(EndSource.CHIME)
        else:
            reason = EndReason.UNKNOWN
            origin = self._meetings.pending_end(EndSource.CHIME, self._clock())
        was_open = meeting.status.is_open
        ended = self._meetings.end_meeting(
            meeting.meetingId, reason, ended_at, origin=origin, known=meeting
        )
        if ended is None or not was_open or ended.endedAt != ended_at:
            return None  # someone else ended it (or only its instant became Chime's)
        return ended


def _may_end(meeting: MeetingRecord) -> bool:
    """Open meetings end; an ended one whose reason is not settled yet and whose instant only
    the backend gave takes Chime's instant."""
    return meeting.status.is_open or (
        meeting.endSettlesAt is not None and meeting.endedAtSource is not EndSource.CHIME
    )
