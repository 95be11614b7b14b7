"""One SQS batch of Chime events, as the events handler's BatchProcessor settles it: parsed
once, each meeting's events applied together (ChimeEventService.apply), each message told how
it fared. A message that cannot be applied now is reported failed and SQS delivers it again.

With the media use case (service/media_events.py), a meeting's transcription events, its
first attendee's join and its end are followed up after its events are applied, and media
pipeline events (the same queue) are applied per meeting."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from meetings.domain.activity_plan import MAX_ATTENDEES_PER_WRITE
from meetings.domain.chime_events import (
    ChimeEvent,
    ChimeEventType,
    MalformedChimeEventError,
    parse_chime_event,
)
from meetings.domain.presence import capture_entry, subject_of
from meetings.domain.recording import (
    MalformedPipelineEventError,
    PipelineEvent,
    is_pipeline_envelope,
    parse_pipeline_event,
)
from meetings.service.events import AppliedEvents, ChimeEventService, MeetingNotRecordedError

if TYPE_CHECKING:
    from meetings.service.media_events import MediaEvents

Parsed = ChimeEvent | PipelineEvent | Exception
_TRANSCRIPTION_TYPES: Final = frozenset(
    {
        ChimeEventType.TRANSCRIPTION_STARTED,
        ChimeEventType.TRANSCRIPTION_STOPPED,
        ChimeEventType.TRANSCRIPTION_INTERRUPTED,
        ChimeEventType.TRANSCRIPTION_RESUMED,
        ChimeEventType.TRANSCRIPTION_FAILED,
    }
)

_DISCONNECTS: Final = frozenset(
    {
        ChimeEventType.ATTENDEE_LEFT,
        ChimeEventType.ATTENDEE_DROPPED,
        ChimeEventType.ATTENDEE_DELETED,
    }
)


class UnnamedPipelineError(Exception):
    """A pipeline event no recording names (yet): retried by SQS for a while."""


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
    media: MediaEvents | None = None  # None: meeting events only (no media follow-ups)
    applied: list[AppliedEvents] = field(default_factory=list)
    _parsed: dict[str, Parsed] = field(default_factory=dict)
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
            if isinstance(parsed, PipelineEvent):
                self._apply_pipelines(parsed.meeting_id)
            else:
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

    def _apply_pipelines(self, meeting_id: str) -> None:
        group = [
            d
            for d in self.deliveries
            if isinstance(event := self._parsed[d.message_id], PipelineEvent)
            and event.meeting_id == meeting_id
        ]
        events: list[PipelineEvent] = [self._parsed[d.message_id] for d in group]  # type: ignore[misc]
        outcome: Exception | None = None
        unknown: frozenset[str] = frozenset()
        try:
            if self.media is None:
                raise MalformedPipelineEventError("this batch applies no media pipeline events")
            applied = self.media.apply_pipeline_events(meeting_id, events)
            # A capture counts as an attendee for Chime's auto-end rules: into the activity log.
            entries = [capture_entry(e) for e in events if e.pipeline_id in applied.captures]
            self.service.apply_capture_entries(meeting_id, [e for e in entries if e])
            unknown = applied.unknown
        except Exception as error:  # reported per record: SQS delivers it again
            outcome = error
        for delivery, event in zip(group, events, strict=True):
            self._outcomes[delivery.message_id] = outcome or _unnamed(event, delivery, unknown)

    def _follow_up(
        self, meeting_id: str, events: Sequence[ChimeEvent], applied: AppliedEvents
    ) -> None:
        if self.media is None:
            return
        transcription = [e for e in events if e.event_type in _TRANSCRIPTION_TYPES]
        if transcription:
            self.media.apply_transcription_events(meeting_id, transcription)
        if any(e.event_type is ChimeEventType.ATTENDEE_JOINED for e in events):
            self.media.after_join(meeting_id)
        if applied.ended is not None:
            self.media.after_end(meeting_id)
        elif applied.connected == 0 and any(e.event_type in _DISCONNECTS for e in events):
            self.media.after_last_left(meeting_id)

    def _apply_chunk(self, meeting_id: str, chunk: Sequence[Delivery]) -> Exception | None:
        events: list[ChimeEvent] = [self._parsed[d.message_id] for d in chunk]  # type: ignore[misc]
        try:
            applied = self.service.apply(meeting_id, events)
            self.applied.append(applied)
            self._follow_up(meeting_id, events, applied)
        except MeetingNotRecordedError as error:
            # After a few deliveries the meeting is not ours (or its creation was undone).
            if all(d.receive_count >= UNRECORDED_MEETING_DELIVERIES for d in chunk):
                return None
            return error
        except Exception as error:  # reported per record: SQS delivers it again
            return error
        return None


def _unnamed(event: PipelineEvent, delivery: Delivery, unknown: frozenset[str]) -> Exception | None:
    """An event of a pipeline no recording names yet: whether it is a capture (an attendee
    to Chime's auto-end rules) or a concatenation is not known until the write that follows
    its creation lands, so it is delivered again (after the queue's visibility timeout) a
    few times before it is taken for a pipeline that is not ours."""
    if event.pipeline_id in unknown and delivery.receive_count < UNRECORDED_MEETING_DELIVERIES:
        return UnnamedPipelineError(event.pipeline_id)
    return None


def _chunks(group: Sequence[Delivery], parsed: Mapping[str, Parsed]) -> list[list[Delivery]]:
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


def _parse(body: str) -> Parsed:
    try:
        envelope = json.loads(body)
    except ValueError as error:
        return MalformedChimeEventError(f"body is not JSON: {error}")
    if not isinstance(envelope, dict):
        return MalformedChimeEventError("body is not an EventBridge envelope")
    try:
        if is_pipeline_envelope(envelope):
            return parse_pipeline_event(envelope)
        return parse_chime_event(envelope)
    except (MalformedChimeEventError, MalformedPipelineEventError) as error:
        return error
