"""Publishing the table's committed changes as domain events on the project's bus.

The table's stream is the outbox: an event exists only once its state is committed. Each
changed item yields its events (derived one item at a time); then every item's events go on
the bus in stream order, 10 per call, until the bus refuses a call: the items from that
call's first one on are left for a retry, and the events before it are out and stay out.
A retried item yields the same eventIds, so a consumer that saw it before can drop it.

Each event about a meeting is numbered as it is derived (its per-meeting `sequence`, and on
attendee events the `connected` count; domain/event_sequence.py): in stream order, and stored
by event id, so a retried item gets the numbers it got before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from meetings.domain.domain_events import (
    DomainEvent,
    Image,
    attendee_events,
    meeting_events,
    recording_events,
    transcription_events,
    webhook_events,
)
from meetings.domain.event_sequence import stamped
from meetings.observability import logger, metrics
from meetings.service.ports import (
    Clock,
    EventBus,
    EventSequencer,
    MeetingQueries,
    PublishFailedError,
)


class ItemKind(Enum):
    MEETING = "meeting"
    ATTENDEE = "attendee"
    RECORDING = "recording"
    WEBHOOK = "webhook"
    OTHER = "other"  # room, user-pointer and idempotency items are no domain facts


@dataclass(frozen=True, slots=True)
class ItemChange:
    """One committed change of a table item: its images before and after (None: absent)."""

    kind: ItemKind
    old: Image | None
    new: Image | None


class StreamBatch:
    """The events of one batch of changes. Room name and host for attendee events come from
    the batch's own meeting images, else are read once per meeting per batch."""

    def __init__(self, meetings: MeetingQueries, sequencer: EventSequencer, clock: Clock) -> None:
        self._meetings = meetings
        self._sequencer = sequencer
        self._clock = clock
        self._known: dict[str, Image] = {}

    def events_of(self, change: ItemChange) -> list[DomainEvent]:
        """The change's events, each numbered in its meeting's sequence."""
        return [self._numbered(event) for event in self._derived(change)]

    def _numbered(self, event: DomainEvent) -> DomainEvent:
        stamp = self._sequencer.stamp(event, self._clock())
        return event if stamp is None else stamped(event, stamp)

    def _derived(self, change: ItemChange) -> list[DomainEvent]:
        if change.kind is ItemKind.WEBHOOK:
            return webhook_events(change.old, change.new)
        if change.kind is ItemKind.MEETING:
            if change.new:
                self._known[str(change.new["meetingId"])] = change.new
            return meeting_events(change.old, change.new) + transcription_events(
                change.old, change.new
            )
        if change.kind is ItemKind.ATTENDEE and change.new:
            return attendee_events(
                change.old, change.new, self._meeting(str(change.new["meetingId"]))
            )
        if change.kind is ItemKind.RECORDING and change.new:
            return recording_events(
                change.old, change.new, self._meeting(str(change.new["meetingId"]))
            )
        return []

    def _meeting(self, meeting_id: str) -> Image:
        if meeting_id not in self._known:
            record = self._meetings.get_meeting(meeting_id)
            self._known[meeting_id] = (
                {"meetingId": meeting_id} if record is None else dataclasses.asdict(record)
            )
        return self._known[meeting_id]


class PublishingService:
    def __init__(
        self, bus: EventBus, meetings: MeetingQueries, sequencer: EventSequencer, clock: Clock
    ) -> None:
        self._bus = bus
        self._meetings = meetings
        self._sequencer = sequencer
        self._clock = clock

    def batch(self) -> StreamBatch:
        """A fresh batch (its meeting images are remembered for this batch only)."""
        return StreamBatch(self._meetings, self._sequencer, self._clock)

    def publish_until_failure(self, derived: Sequence[Sequence[DomainEvent]]) -> int:
        """Publish each item's events in order; the index of the first item not fully out."""
        pending: list[tuple[int, DomainEvent]] = [
            (index, event) for index, events in enumerate(derived) for event in events
        ]
        size = self._bus.max_events_per_call
        for start in range(0, len(pending), size):
            chunk = pending[start : start + size]
            try:
                self._bus.publish([event for _, event in chunk])
            except PublishFailedError as error:
                logger.warning("domain events refused by the bus", extra={"error": str(error)})
                return chunk[0][0]
            metrics.add_metric(name="DomainEventsPublished", unit="Count", value=len(chunk))
        return len(derived)
