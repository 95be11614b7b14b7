"""Lambda entry point: the table's stream (NEW_AND_OLD_IMAGES) → domain events on our bus
(service/publishing.py says how).

Records are derived one by one (Powertools BatchProcessor); a record whose derivation or
publication fails is reported with every record after it, so the stream resumes exactly
there.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings import wiring
from meetings.adapters.table import codec
from meetings.domain.domain_events import DomainEvent
from meetings.observability import logger, metrics, traced
from meetings.service.publishing import ItemChange, ItemKind


def item_change(record: DynamoDBRecord) -> ItemChange | None:
    """The committed change a stream record carries (None: a record without one)."""
    stream = record.dynamodb
    if stream is None:
        return None
    sort_key = str((stream.keys or {}).get("sk", ""))
    if sort_key == codec.MEETING_SK:
        kind = ItemKind.MEETING
    elif sort_key.startswith(codec.ATTENDEE_SK_PREFIX):
        kind = ItemKind.ATTENDEE
    elif sort_key.startswith(codec.RECORDING_SK_PREFIX):
        kind = ItemKind.RECORDING
    elif sort_key.startswith(codec.WEBHOOK_SK_PREFIX):
        kind = ItemKind.WEBHOOK
    else:
        kind = ItemKind.OTHER
    # Absent images read as {}.
    return ItemChange(kind, stream.old_image or None, stream.new_image or None)


def _sequence_number(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records: list[dict[str, Any]] = event.get("Records", [])
    publishing = wiring.container().publishing
    batch = publishing.batch()
    derived: dict[str, list[DomainEvent]] = {}

    def derive_record(record: DynamoDBRecord) -> None:
        change = item_change(record)
        events = [] if change is None else batch.events_of(change)
        derived[_sequence_number(record.raw_event)] = events

    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )
    with processor(records=records, handler=derive_record, lambda_context=context):
        processor.process()
    first_failure = next(
        (i for i, record in enumerate(records) if _sequence_number(record) not in derived),
        len(records),
    )
    out = publishing.publish_until_failure(
        [derived[_sequence_number(record)] for record in records[:first_failure]]
    )
    first_failure = min(first_failure, out)
    failed = [{"itemIdentifier": _sequence_number(r)} for r in records[first_failure:]]
    if failed:
        logger.warning("stream records left for a retry", extra={"count": len(failed)})
    return {"batchItemFailures": failed}
