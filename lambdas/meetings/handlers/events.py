"""Lambda entry point: Chime meeting events from the SQS queue, with partial batch failures.

A message that cannot be applied now is reported failed and SQS delivers it again (after
the queue's maxReceiveCount it lands in the dead-letter queue); the others are done.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings import wiring
from meetings.handlers.event_batches import Delivery, EventBatch
from meetings.observability import count_meeting_end, logger, metrics, traced


def _delivery(record: dict[str, Any]) -> Delivery:
    attributes = record.get("attributes") or {}
    return Delivery(
        message_id=record["messageId"],
        body=record.get("body") or "",
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
    )


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    container = wiring.container()
    deliveries = [_delivery(r) for r in event.get("Records", [])]
    batch = EventBatch(container.chime_events, deliveries, media=container.media_events)

    def settle(record: SQSRecord) -> None:
        try:
            batch.settle(record.message_id)
        except Exception as error:
            logger.warning(
                "Chime event not applied; SQS delivers it again",
                extra={"messageId": record.message_id, "error": repr(error)},
            )
            raise

    # A fresh processor per invocation: it keeps the batch's results as instance state.
    response = process_partial_response(
        event=event,
        record_handler=settle,
        processor=BatchProcessor(event_type=EventType.SQS),
        context=context,
    )
    for applied in batch.applied:
        if applied.ended is not None:
            logger.info(
                "meeting ended",
                extra={"meetingId": applied.meeting_id, "endReason": str(applied.ended.endReason)},
            )
            # Each end counts once, with its final reason: else when the cleanup settles it.
            if applied.ended.end_reason_final:
                count_meeting_end(str(applied.ended.endReason))
    return dict(response)
