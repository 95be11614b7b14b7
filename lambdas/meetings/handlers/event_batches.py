"""One SQS batch of Chime events, as the events handler's BatchProcessor settles it: parsed
once, each meeting's events applied together (ChimeEventService.apply), each message told how
it fared. A message that cannot be applied now is reported failed and SQS delivers it again."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from meetings.domain.activity_plan import MAX_ATTENDEES_PER_WRITE
from meetings.domain.chime_events import ChimeEvent, MalformedChimeEventError, parse_chime_event
from meetings.domain.presence import subject_of
from meetings.service.events import AppliedEvents, ChimeEventService, MeetingNotRecordedError

# A meeting's first events may overtake the API's write of its record (CreateMeeting comes
# first): such events are retried this many deliveries before they are dropped as foreign.
UNRECORDED_MEETING_DELIVERIES: Final = 3


@dataclass(frozen=True, slots=True)
class Delivery:
    """One SQS message carrying a Chime event envelope."""

    message_id: str
    body: str
    receive_count: int = 1


@dataclass
class EventBatch:
    """Parses a batch once, applies each meeting's events together, and tells each message
    how it fared (the handler's BatchProcessor asks record by record)."""

    service: ChimeEventService
    deliveries: Sequence[Delivery]
    applied: list[AppliedEvents] = field(default_factory=list)
    _parsed: dict[str, ChimeEvent | Exception] = field(default_factory=dict)
    _outcomes: dict[str, Exception | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for delivery in self.deliveries:
            self._parsed[delivery.message_id] = _parse(delivery.body)

    def settle(self, message_id: str) -> None:
        """Return if the message's event is applied; raise why not otherwise."""
        parsed = self._parsed[message_id]
        if isinstance(parsed, Exception):
            raise parsed
        if message_id not in self._outcomes:
            self._apply_meeting(parsed.meeting_id)
        outcome = self._outcomes[message_id]
        if outcome is not None:
            raise outcome

    def _apply_meeting(self, meeting_id: str) -> None:
        group = [
            d
            for d in self.deliveries
            if isinstance(event := self._parsed[d.message_id], ChimeEvent)
            and event.meeting_id == meeting_id
        ]
        for chunk in _chunks(group, self._parsed):
            outcome = self._apply_chunk(meeting_id, chunk)
            self._outcomes |= {delivery.message_id: outcome for delivery in chunk}

    def _apply_chunk(self, meeting_id: str, chunk: Sequence[Delivery]) -> Exception | None:
        events = [self._parsed[d.message_id] for d in chunk]
        try:
            self.applied.append(self.service.apply(meeting_id, events))  # type: ignore[arg-type]
        except MeetingNotRecordedError as error:
            # After a few deliveries the meeting is not ours (or its creation was undone).
            if all(d.receive_count >= UNRECORDED_MEETING_DELIVERIES for d in chunk):
                return None
            return error
        except Exception as error:  # reported per record: SQS delivers it again
            return error
        return None


def _chunks(
    group: Sequence[Delivery], parsed: Mapping[str, ChimeEvent | Exception]
) -> list[list[Delivery]]:
    """Split a meeting's deliveries so that no write concerns more attendees than one
    transaction holds; the order within the meeting does not matter."""
    chunks: list[list[Delivery]] = [[]]
    subjects: set[str] = set()
    for delivery in group:
        event = parsed[delivery.message_id]
        subject = subject_of(event) if isinstance(event, ChimeEvent) else None
        if subject and subject not in subjects and len(subjects) >= MAX_ATTENDEES_PER_WRITE:
            chunks.append([])
            subjects = set()
        if subject:
            subjects.add(subject)
        chunks[-1].append(delivery)
    return [chunk for chunk in chunks if chunk]


def _parse(body: str) -> ChimeEvent | Exception:
    try:
        envelope = json.loads(body)
    except ValueError as error:
        return MalformedChimeEventError(f"body is not JSON: {error}")
    if not isinstance(envelope, dict):
        return MalformedChimeEventError("body is not an EventBridge envelope")
    try:
        return parse_chime_event(envelope)
    except MalformedChimeEventError as error:
        return error
