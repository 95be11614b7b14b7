"""What happened in a meeting, for a person to read: its timeline and why it ended.

The timeline merges two sources, each item with its instant:
- `chime`: the Chime events the backend keeps in the meeting's activity log
  (domain/presence.py), one per entry, named by the event that made it; entries folded into
  the log's checkpoint are no longer there one by one (`folded_before` says up to when).
- `backend`: the domain events the meeting's records imply (docs/events.md): the meeting's
  created, started and ended, and each attendee's latest joined and left.

The end explanation states the rule behind the meeting's end reason, with the auto-end rules
tried against its end instant exactly as the inference tries them (domain/end_reason.py).
Everything here is derived from records already read: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from meetings.domain.end_reason import RuleCheck, check_rules
from meetings.domain.presence import ActivityLog, EntryKind, attendee_ref
from meetings.domain.records import AttendeeRecord, EndReason, MeetingRecord, MeetingStatus

# The newest items a timeline holds: enough for any meeting a person follows, and a bounded
# response for the largest log (domain/presence.py keeps up to 2048 entries).
TIMELINE_MAX_ITEMS: Final = 500

_CHIME_EVENT_OF: Final = {
    EntryKind.MEETING_STARTED: "chime:MeetingStarted",
    EntryKind.JOINED: "chime:AttendeeJoined",
    EntryKind.CAPTURE_ON: "chime:MediaPipelineInProgress",
    EntryKind.VIDEO_ON: "chime:AttendeeVideoStarted",
    EntryKind.VIDEO_OFF: "chime:AttendeeVideoStopped",
    EntryKind.CONTENT_ON: "chime:AttendeeContentJoined",
    EntryKind.CONTENT_OFF: "chime:AttendeeContentLeft",
    EntryKind.LEFT: "chime:AttendeeLeft",
    EntryKind.DROPPED: "chime:AttendeeDropped",
    EntryKind.DELETED: "chime:AttendeeDeleted",
    EntryKind.CAPTURE_OFF: "chime:MediaPipelineDeleted",
}
_CAPTURE_KINDS: Final = frozenset({EntryKind.CAPTURE_ON, EntryKind.CAPTURE_OFF})
_RANK_AT_ONE_INSTANT: Final = {"meeting.created": 0, "meeting.started": 2, "meeting.ended": 4}

_RULE_TEXT: Final = {
    EndReason.HOST_ENDED: "Its host or an admin ended it (DELETE /meetings/{meetingId}).",
    EndReason.MAX_DURATION: "It reached its maxDurationSeconds; the backend's cleanup ended it.",
    EndReason.NO_AUDIO_5MIN: "Chime ends a meeting with no audio connection for 5 minutes.",
    EndReason.SINGLE_ATTENDEE_30MIN: (
        "Chime ends a meeting with fewer than two audio connections for 30 minutes."
    ),
    EndReason.CHIME_24H_LIMIT: "Chime ends every meeting 24 hours after its creation.",
    EndReason.VANISHED: (
        "Chime no longer had the meeting and never reported its end; reconciliation noticed "
        "it, and the log predicts no rule."
    ),
    EndReason.UNKNOWN: "No rule explains the end by the events the backend received.",
}
_CONDITION: Final = {
    EndReason.NO_AUDIO_5MIN: "no audio connection",
    EndReason.SINGLE_ATTENDEE_30MIN: "fewer than two audio connections",
    EndReason.CHIME_24H_LIMIT: "the meeting existed",
}


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: int  # epoch ms
    source: str  # "chime" or "backend"
    type: str  # a Chime event's detail type, or a domain event's type
    attendee_id: str | None = None
    user_id: str | None = None
    detail: str | None = None  # e.g. an end reason, a presence


@dataclass(frozen=True, slots=True)
class EndExplanation:
    reason: EndReason
    final: bool  # False: `unknown` until the cleanup settles it at `settles_at`
    settles_at: int | None
    rule: str  # the rule behind the reason, in a sentence
    ended_at: int
    ended_at_source: str | None  # chime, predicted or backend
    checks: tuple[RuleCheck, ...]  # the auto-end rules tried against `ended_at`; () if none


@dataclass(frozen=True, slots=True)
class Timeline:
    meeting_id: str
    items: tuple[TimelineItem, ...]  # oldest first
    truncated: bool  # older items were left out (TIMELINE_MAX_ITEMS)
    folded_before: int | None  # the log's checkpoint horizon: older Chime events are folded
    end: EndExplanation | None  # None while the meeting is open


def build_timeline(
    meeting: MeetingRecord,
    log: ActivityLog,
    attendees: Iterable[AttendeeRecord],
    *,
    limit: int = TIMELINE_MAX_ITEMS,
) -> Timeline:
    people = [attendee for attendee in attendees if attendee.meetingId == meeting.meetingId]
    by_ref = {attendee_ref(attendee.attendeeId): attendee for attendee in people}
    items = sorted([*_chime_items(log, by_ref), *_backend_items(meeting, people)], key=_order)
    return Timeline(
        meeting_id=meeting.meetingId,
        items=tuple(items[max(0, len(items) - limit) :]),
        truncated=len(items) > limit,
        folded_before=log.horizon,
        end=explain_end(meeting, log),
    )


def _order(item: TimelineItem) -> tuple[int, int, str, str]:
    """By instant; at one instant the creation first and the end last, each Chime event before
    the domain events it caused, and the start before an attendee's join."""
    rank = _RANK_AT_ONE_INSTANT.get(item.type, 1 if item.source == "chime" else 3)
    return (item.at, rank, item.type, item.attendee_id or "")


def _chime_items(log: ActivityLog, by_ref: Mapping[str, AttendeeRecord]) -> Iterable[TimelineItem]:
    for entry in log.entries:
        attendee = by_ref.get(entry.ref)
        detail = "capture pipeline" if entry.kind in _CAPTURE_KINDS else None
        yield TimelineItem(
            at=entry.timestamp,
            source="chime",
            type=_CHIME_EVENT_OF[entry.kind],
            attendee_id=None if attendee is None else attendee.attendeeId,
            user_id=None if attendee is None else attendee.userId,
            detail=detail,
        )


def _backend_items(
    meeting: MeetingRecord, attendees: Iterable[AttendeeRecord]
) -> Iterable[TimelineItem]:
    yield TimelineItem(meeting.createdAt, "backend", "meeting.created", user_id=meeting.hostUserId)
    if meeting.startedAt is not None:
        yield TimelineItem(meeting.startedAt, "backend", "meeting.started")
    if meeting.status is MeetingStatus.ENDED and meeting.endedAt is not None:
        reason = None if meeting.endReason is None else str(meeting.endReason)
        yield TimelineItem(meeting.endedAt, "backend", "meeting.ended", detail=reason)
    for attendee in attendees:
        who = {"attendee_id": attendee.attendeeId, "user_id": attendee.userId}
        if attendee.joinedAt is not None:
            yield TimelineItem(attendee.joinedAt, "backend", "attendee.joined", **who)
        if attendee.leftAt is not None:
            presence = str(attendee.presence)
            yield TimelineItem(attendee.leftAt, "backend", "attendee.left", detail=presence, **who)


def explain_end(meeting: MeetingRecord, log: ActivityLog) -> EndExplanation | None:
    """Why the meeting ended, or None while it is open."""
    if meeting.status is not MeetingStatus.ENDED or meeting.endedAt is None:
        return None
    reason = meeting.endReason or EndReason.UNKNOWN
    settling = meeting.endSettlesAt is not None
    rule = _RULE_TEXT[reason]
    if settling:
        rule = "Not settled yet: the reason is stated once, when the cleanup settles the end."
    checks = check_rules(log, meeting.endedAt)
    if checks is None:
        rule += " The log's folded past is incomplete: no rule can be judged."
    return EndExplanation(
        reason=reason,
        final=not settling,
        settles_at=meeting.endSettlesAt,
        rule=rule,
        ended_at=meeting.endedAt,
        ended_at_source=None if meeting.endedAtSource is None else str(meeting.endedAtSource),
        checks=checks or (),
    )


def condition_of(reason: EndReason) -> str:
    """What an auto-end rule's condition says, for a person ("no audio connection")."""
    return _CONDITION[reason]
