"""Per-meeting `sequence` numbers and the `connected` count on domain events (docs/events.md,
"Sequence and connected count").

Every event about a meeting gets the next number of that meeting's sequence, in the order the
publisher reads the table's stream (one meeting's items share a partition key, so their
changes reach the publisher in commit order). Attendee events also carry how many attendees
are connected after the change, counted over the joined and left events of the same sequence,
so a receiver's view and the numbers it gets agree.

A redelivered stream record must get the numbers it got the first time: the assignment is
stored keyed by the event's id, in the same transaction that advances the meeting's counter
(adapters/table/sequences.py), and read back on a repeat. This module is the pure step.
"""

from __future__ import annotations

from dataclasses import dataclass

from meetings.domain.domain_events import DomainEvent

JOINED = "attendee.joined"
LEFT = "attendee.left"


@dataclass(frozen=True, slots=True)
class SequenceState:
    """A meeting's counter: the last number handed out and who is connected."""

    last: int = 0
    connected: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Stamp:
    sequence: int
    connected: int | None  # only on attendee events


def sequenced_meeting(event: DomainEvent) -> str | None:
    """The meeting whose sequence numbers this event (None: not about a meeting)."""
    meeting_id = event.detail.get("meetingId")
    return meeting_id if isinstance(meeting_id, str) and meeting_id else None


def advance(state: SequenceState, event: DomainEvent) -> tuple[SequenceState, Stamp]:
    """The counter after `event`, and the numbers `event` carries."""
    connected = state.connected
    attendee_id = event.detail.get("attendeeId")
    if event.detail_type == JOINED and attendee_id:
        connected = connected | {str(attendee_id)}
    elif event.detail_type == LEFT and attendee_id:
        connected = connected - {str(attendee_id)}
    after = SequenceState(last=state.last + 1, connected=connected)
    is_attendee_event = event.detail_type in (JOINED, LEFT)
    return after, Stamp(after.last, len(connected) if is_attendee_event else None)


def stamped(event: DomainEvent, stamp: Stamp) -> DomainEvent:
    extra: dict[str, int] = {"sequence": stamp.sequence}
    if stamp.connected is not None:
        extra["connected"] = stamp.connected
    return DomainEvent(event.detail_type, event.detail | extra)
