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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from meetings.domain.chime_events import ChimeEvent, ChimeEventType
from meetings.domain.presence import ActivityLog, LogEntry, entry_for, subject_of
from meetings.domain.records import (
    AttendeeRecord,
    EndReason,
    EndSource,
    MeetingRecord,
    MeetingStatus,
    Presence,
)
from meetings.domain.replay import AttendeeActivity, Replay
from meetings.service.ports import (
    MAX_ATTENDEES_PER_WRITE,
    ActivityConflictError,
    ActivitySnapshot,
    ActivityStore,
    ActivityWrite,
    AttendeeChange,
    Clock,
    MeetingEnding,
)

# Conflicting writers of one meeting are rare; past this many rounds the batch is retried.
MAX_ATTEMPTS: Final = 5
# Meetings whose last written snapshot one container remembers (a few hundred KB at most).
REMEMBERED_MEETINGS: Final = 512


class MeetingNotRecordedError(Exception):
    """Events of a meeting the table does not (yet) hold: retried by SQS for a while."""


class ConflictPersistedError(Exception):
    """Other writers kept changing the meeting: the batch's records are retried by SQS."""


@dataclass(frozen=True, slots=True)
class SeenAttendee:
    """An attendee as Chime's events name it, for recording one the table never held."""

    external_user_id: str
    first_seen_at: int


@dataclass(frozen=True, slots=True)
class AppliedEvents:
    meeting_id: str
    changed: bool
    ended: MeetingRecord | None = None  # set when these events ended the meeting


# --- the pure part: what the table should hold after the new entries ----------------------------


def _changed(record: object, wanted: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in wanted.items() if getattr(record, name) != value}


def _ended_at(meeting: MeetingRecord) -> int | None:
    return meeting.endedAt if meeting.status is MeetingStatus.ENDED else None


def _meeting_fields(meeting: MeetingRecord, replay: Replay) -> dict[str, Any]:
    activity = replay.meeting()
    wanted: dict[str, Any] = {
        "peakConnected": activity.peakConnected,
        "connected": activity.connected,  # 0 once ended
        "contentShareActive": activity.contentShareActive,  # False once ended
    }
    if activity.startedAt is not None:
        wanted["startedAt"] = activity.startedAt
    if meeting.status.is_open and activity.startedAt is not None:
        wanted["status"] = MeetingStatus.STARTED
    # No reason here: the cleanup settles an inferred one once (service/cleanup.py).
    return _changed(meeting, wanted)


def _derived_attendee_fields(activity: AttendeeActivity) -> dict[str, Any]:
    wanted: dict[str, Any] = {"video": activity.video, "contentShare": activity.contentShare}
    if activity.presence is not None:
        wanted |= {
            "presence": activity.presence,
            "joinedAt": activity.joinedAt,
            "leftAt": activity.leftAt,
        }
    return wanted


def _attendee_fields(record: AttendeeRecord, activity: AttendeeActivity) -> dict[str, Any]:
    return _changed(record, _derived_attendee_fields(activity))


def user_id_for(external_user_id: str) -> str:
    """The user of an attendee the API never recorded: its ExternalUserId names it — unless
    the API derived that id from a user id Chime refuses, which cannot be turned back."""
    return external_user_id


def _new_attendee(
    meeting_id: str, attendee_id: str, seen: SeenAttendee, activity: AttendeeActivity
) -> AttendeeRecord:
    return AttendeeRecord(
        attendeeId=attendee_id,
        meetingId=meeting_id,
        userId=user_id_for(seen.external_user_id),
        externalUserId=seen.external_user_id,
        addedAt=seen.first_seen_at,
        presence=activity.presence or Presence.PROVISIONED,
        joinedAt=activity.joinedAt,
        leftAt=activity.leftAt,
        video=activity.video,
        contentShare=activity.contentShare,
    )


def _attendee_changes(
    snapshot: ActivitySnapshot,
    replay: Replay,
    seen: Mapping[str, SeenAttendee],
) -> list[AttendeeChange]:
    meeting = snapshot.meeting
    changes = []
    for attendee_id, record in snapshot.attendees.items():
        activity = replay.attendee(attendee_id)
        if record is None:
            # Only presence proves an attendee exists; a sharer or camera alone does not say who.
            if attendee_id in seen and activity.presence is not None:
                created = _new_attendee(meeting.meetingId, attendee_id, seen[attendee_id], activity)
                changes.append(AttendeeChange(attendee_id, {}, create=created))
        elif record.presence is not Presence.REMOVED:
            changed = _attendee_fields(record, activity)
            if changed:
                changes.append(AttendeeChange(attendee_id, changed))
    for attendee_id in sorted(snapshot.unread - set(snapshot.attendees)):
        # Not read: every derived field, conditioned on the item being there and not REMOVED.
        whole = _derived_attendee_fields(replay.attendee(attendee_id))
        changes.append(AttendeeChange(attendee_id, whole))
    return changes


def plan_activity_write(
    snapshot: ActivitySnapshot,
    entries: Iterable[LogEntry],
    seen: Mapping[str, SeenAttendee],
) -> ActivityWrite:
    """The one write that brings the meeting's items in line with its log plus `entries`."""
    meeting = snapshot.meeting
    ended_at = _ended_at(meeting)
    grown = snapshot.log.with_entries(entries)
    log = grown.compacted(ended_at)
    new = log.entries - snapshot.log.entries
    # Adding `new` to the stored set would not give `log` (compacted, or marked incomplete):
    # the whole log is written instead.
    rewritten = log.checkpoint != snapshot.log.checkpoint or not log.entries >= snapshot.log.entries
    replay = Replay(log, ended_at)
    attendees = _attendee_changes(snapshot, replay, seen)
    created = sum(1 for change in attendees if change.create is not None)
    return ActivityWrite(
        meeting_id=meeting.meetingId,
        expected_status=meeting.status,
        expected_version=snapshot.version,
        new_entries=new,
        meeting_fields=_meeting_fields(meeting, replay),
        attendees=attendees,
        attendees_added=created,
        attendee_expires_at=meeting.expiresAt if ended_at is not None else None,
        rewrite=log if rewritten else None,
    )


def log_after(snapshot: ActivitySnapshot, change: ActivityWrite) -> ActivityLog:
    """The activity log as `change`, planned from `snapshot`, leaves it."""
    if change.rewrite is not None:
        return change.rewrite
    return ActivityLog(snapshot.log.entries | change.new_entries, snapshot.log.checkpoint)


def split_write(change: ActivityWrite) -> list[ActivityWrite]:
    """One transaction holds the activity item, the meeting and at most 98 attendees: the log's
    and the meeting's change go with the first of them; each later part re-checks that the
    activity and the meeting are as the first left them."""
    first = replace(change, attendees=change.attendees[:MAX_ATTENDEES_PER_WRITE])
    parts = [first]
    status = change.meeting_fields.get("status", change.expected_status)
    version = change.expected_version + (1 if change.changes_log else 0)
    for start in range(MAX_ATTENDEES_PER_WRITE, len(change.attendees), MAX_ATTENDEES_PER_WRITE):
        parts.append(
            ActivityWrite(
                meeting_id=change.meeting_id,
                expected_status=status,
                expected_version=version,
                new_entries=frozenset(),
                meeting_fields={},
                attendees=change.attendees[start : start + MAX_ATTENDEES_PER_WRITE],
                attendee_expires_at=change.attendee_expires_at,
            )
        )
    return parts


_ATTENDEE_FIELDS: Final = frozenset(f.name for f in fields(AttendeeRecord))


def snapshot_after(snapshot: ActivitySnapshot, change: ActivityWrite) -> ActivitySnapshot:
    """What the meeting's items hold once `change`, planned from `snapshot`, is written.

    Attendees that were not read stay unknown (only their derived fields were written)."""
    meeting = replace(
        snapshot.meeting,
        **change.meeting_fields,
        attendeeTotal=snapshot.meeting.attendeeTotal + change.attendees_added,
    )
    attendees = {a: record for a, record in snapshot.attendees.items() if record is not None}
    for attendee in change.attendees:
        if attendee.create is not None:
            attendees[attendee.attendee_id] = attendee.create
        elif attendee.attendee_id in attendees:
            values = {k: v for k, v in attendee.fields.items() if k in _ATTENDEE_FIELDS}
            attendees[attendee.attendee_id] = replace(attendees[attendee.attendee_id], **values)
    version = snapshot.version + (1 if change.changes_log else 0)
    return ActivitySnapshot(meeting, log_after(snapshot, change), attendees, version=version)


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


def _seen_attendees(events: Iterable[ChimeEvent]) -> dict[str, SeenAttendee]:
    seen: dict[str, SeenAttendee] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        if event.is_content_share or not event.attendee_id or not event.external_user_id:
            continue
        seen.setdefault(event.attendee_id, SeenAttendee(event.external_user_id, event.timestamp))
    return seen


def _subjects(events: Iterable[ChimeEvent]) -> list[str]:
    subjects = {subject_of(e) for e in events if entry_for(e) is not None}
    return sorted(subject for subject in subjects if subject)


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
        seen = _seen_attendees(events)
        snapshot, change = self._apply_entries(
            meeting_id, entries, _subjects(events), seen, from_memory=not endings
        )
        if not endings or not _may_end(snapshot.meeting):
            return AppliedEvents(meeting_id, not change.is_empty)
        self._remembered.forget(meeting_id)  # end_meeting changes the items below
        ended_at = min(e.timestamp for e in endings)
        ended = self._end(snapshot.meeting, ended_at)
        # end_meeting closed the connected attendees; let the log settle what it knows better
        # for every attendee (no camera or share after the end, a disconnect before it) and a
        # reason that a concurrent batch's entries explain.
        self._apply_entries(meeting_id, [], [], seen, every_attendee=True)
        return AppliedEvents(meeting_id, True, ended)

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
