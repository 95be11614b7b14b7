"""Lambda entry point: the table's stream (NEW_AND_OLD_IMAGES) → domain events on our bus.

The stream is the outbox: an event exists only once its state is committed. Records are
derived one by one (Powertools BatchProcessor), then their events are put on the bus in
stream order, 10 per call. A record whose derivation or publication fails is reported with
every record after it, so the stream resumes exactly there; events of the records before it
are out and stay out. A retried record yields the same eventIds, so a consumer that saw it
before can drop it.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings.adapters.bus import PUT_EVENTS_MAX_ENTRIES, EventBusPublisher
from meetings.adapters.table import codec
from meetings.adapters.table.store import MeetingTable
from meetings.domain.domain_events import DomainEvent, Image, attendee_events, meeting_events
from meetings.observability import logger, metrics, traced
from meetings.service.ports import PublishFailedError
from meetings.settings import get_settings


@cache
def bus() -> EventBusPublisher:
    settings = get_settings()
    return EventBusPublisher(settings.event_bus_name, settings.domain_event_source)


@cache
def meeting_store() -> MeetingTable:
    return MeetingTable(get_settings().table_name)


class _MeetingContext:
    """Room name and host for attendee events: from the batch's own meeting images, else read
    once per meeting per invocation."""

    def __init__(self) -> None:
        self._known: dict[str, Image] = {}

    def remember(self, image: Image) -> None:
        self._known[str(image["meetingId"])] = image

    def of(self, meeting_id: str) -> Image:
        if meeting_id not in self._known:
            record = meeting_store().get_meeting(meeting_id)
            self._known[meeting_id] = (
                {"meetingId": meeting_id} if record is None else dataclasses.asdict(record)
            )
        return self._known[meeting_id]


def derive(record: DynamoDBRecord, meetings: _MeetingContext) -> list[DomainEvent]:
    stream = record.dynamodb
    if stream is None:
        return []
    sort_key = str((stream.keys or {}).get("sk", ""))
    old, new = stream.old_image or None, stream.new_image or None  # absent images read as {}
    if sort_key == codec.MEETING_SK:
        if new:
            meetings.remember(new)
        return meeting_events(old, new)
    if sort_key.startswith(codec.ATTENDEE_SK_PREFIX) and new:
        return attendee_events(old, new, meetings.of(str(new["meetingId"])))
    return []  # room, user-pointer and idempotency items are no domain facts


def _sequence_number(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records: list[dict[str, Any]] = event.get("Records", [])
    meetings = _MeetingContext()
    derived: dict[str, list[DomainEvent]] = {}

    def derive_record(record: DynamoDBRecord) -> None:
        derived[_sequence_number(record.raw_event)] = derive(record, meetings)

    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )
    with processor(records=records, handler=derive_record, lambda_context=context):
        processor.process()
    first_failure = next(
        (i for i, record in enumerate(records) if _sequence_number(record) not in derived),
        len(records),
    )
    first_failure = min(first_failure, _publish_until_failure(records[:first_failure], derived))
    failed = [{"itemIdentifier": _sequence_number(r)} for r in records[first_failure:]]
    if failed:
        logger.warning("stream records left for a retry", extra={"count": len(failed)})
    return {"batchItemFailures": failed}


def _publish_until_failure(
    records: list[dict[str, Any]], derived: dict[str, list[DomainEvent]]
) -> int:
    """Publish the records' events in order; the index of the first record not fully out."""
    pending: list[tuple[int, DomainEvent]] = [
        (index, event)
        for index, record in enumerate(records)
        for event in derived[_sequence_number(record)]
    ]
    for start in range(0, len(pending), PUT_EVENTS_MAX_ENTRIES):
        chunk = pending[start : start + PUT_EVENTS_MAX_ENTRIES]
        try:
            bus().publish([event for _, event in chunk])
        except PublishFailedError as error:
            logger.warning("domain events refused by the bus", extra={"error": str(error)})
            return chunk[0][0]
        metrics.add_metric(name="DomainEventsPublished", unit="Count", value=len(chunk))
    return len(records)
