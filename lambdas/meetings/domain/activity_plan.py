"""Planning one activity write: what a meeting's events change, as pure data.

The events use case (service/events.py) reads a snapshot — the meeting, its activity log and
the attendees the events concern — and asks this module what to write: the new log entries
(or the compacted log), the meeting's and the attendees' derived fields, the attendees the
table never held. The table adapter writes the plan as one transaction conditioned on the
snapshot (adapters/table/activity.py); a plan larger than one transaction is split. After a
successful write, `snapshot_after` is what the table now holds, so the next batch of the
same meeting can start from memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final

from meetings.domain.chime_events import ChimeEvent
from meetings.domain.presence import ActivityLog, LogEntry, entry_for, subject_of
from meetings.domain.records import (
    AttendeeRecord,
    MeetingRecord,
    MeetingStatus,
    Presence,
)
from meetings.domain.replay import AttendeeActivity, Replay

# One activity write changes at most this many attendees (with the activity's head, the log
# chunk it adds and the meeting, one transaction's 100 items).
MAX_ATTENDEES_PER_WRITE: Final = 97


@dataclass(frozen=True, slots=True)
class ActivitySnapshot:
    """A meeting as read, with its activity log and the attendees the events concern."""

    meeting: MeetingRecord
    log: ActivityLog
    # Every attendee asked for: its record, or None if it has no item.
    attendees: Mapping[str, AttendeeRecord | None] = field(default_factory=dict)
    # Attendees the events concern that were not read (the snapshot was remembered, not read):
    # their derived fields are written whole, conditioned on the item existing, not REMOVED.
    unread: frozenset[str] = frozenset()
    # The activity's version (0: no activity recorded yet).
    version: int = 0


@dataclass(frozen=True, slots=True)
class AttendeeChange:
    attendee_id: str
    fields: Mapping[str, Any]  # attribute name → plain value, for an existing attendee
    create: AttendeeRecord | None = None  # the whole record of an attendee never recorded


@dataclass(frozen=True, slots=True)
class ActivityWrite:
    meeting_id: str
    expected_status: MeetingStatus
    expected_version: int
    new_entries: frozenset[LogEntry]  # added to the set (when `rewrite` is None)
    meeting_fields: Mapping[str, Any]
    attendees: Sequence[AttendeeChange] = ()
    # Attendees recorded for the first time: counted with ADD, as the API counts its own.
    attendees_added: int = 0
    # Attendee items of an ended meeting get the meeting's TTL (end_meeting gave it to the rest),
    # and so does the activity item.
    attendee_expires_at: int | None = None
    # The whole log to store instead of adding `new_entries` (compacted, or marked incomplete).
    rewrite: ActivityLog | None = None
    # The meeting's creation instant: how long the stored log must be kept follows from it.
    created_at: int = 0

    @property
    def changes_log(self) -> bool:
        return bool(self.new_entries) or self.rewrite is not None

    @property
    def is_empty(self) -> bool:
        return not (self.changes_log or self.meeting_fields or self.attendees)


@dataclass(frozen=True, slots=True)
class SeenAttendee:
    """An attendee as Chime's events name it, for recording one the table never held."""

    external_user_id: str
    first_seen_at: int


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
        created_at=meeting.createdAt,
    )


def log_after(snapshot: ActivitySnapshot, change: ActivityWrite) -> ActivityLog:
    """The activity log as `change`, planned from `snapshot`, leaves it."""
    if change.rewrite is not None:
        return change.rewrite
    return ActivityLog(snapshot.log.entries | change.new_entries, snapshot.log.checkpoint)


def split_write(change: ActivityWrite) -> list[ActivityWrite]:
    """One transaction holds the activity, the meeting and at most 97 attendees: the log's
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
                created_at=change.created_at,
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


def seen_attendees(events: Iterable[ChimeEvent]) -> dict[str, SeenAttendee]:
    seen: dict[str, SeenAttendee] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        if event.is_content_share or not event.attendee_id or not event.external_user_id:
            continue
        seen.setdefault(event.attendee_id, SeenAttendee(event.external_user_id, event.timestamp))
    return seen


def subjects_of(events: Iterable[ChimeEvent]) -> list[str]:
    subjects = {subject_of(e) for e in events if entry_for(e) is not None}
    return sorted(subject for subject in subjects if subject)
