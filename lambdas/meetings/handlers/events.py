"""Lambda entry point: Chime meeting events from the SQS queue, with partial batch failures.

A message that cannot be applied now is reported failed and SQS delivers it again (after
the queue's maxReceiveCount it lands in the dead-letter queue); the others are done.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings.adapters.table.activity import ActivityTable
from meetings.adapters.table.store import MeetingTable
from meetings.domain.records import MeetingRecord
from meetings.observability import METRICS_NAMESPACE, SERVICE_NAME, logger, metrics, traced
from meetings.service.events import ChimeEventService, Delivery, EventBatch
from meetings.settings import get_settings

MEETINGS_ENDED_METRIC = "MeetingsEnded"


@cache
def chime_event_service() -> ChimeEventService:
    settings = get_settings()
    meetings = MeetingTable(
        settings.table_name,
        reconcile_interval_seconds=settings.reconcile_interval_seconds,
        retention_days=settings.retention_days,
        end_settle_seconds=settings.end_settle_seconds,
    )
    return ChimeEventService(ActivityTable(settings.table_name), meetings)


def count_meeting_end(meeting: MeetingRecord) -> None:
    """One `MeetingsEnded` data point, dimensioned by the end reason (each end counts once,
    with its final reason: when it ends with one, or when the cleanup settles it)."""
    with single_metric(
        name=MEETINGS_ENDED_METRIC,
        unit=MetricUnit.Count,
        value=1,
        namespace=METRICS_NAMESPACE,
    ) as metric:
        metric.add_dimension(name="service", value=SERVICE_NAME)
        metric.add_dimension(name="reason", value=str(meeting.endReason))


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
    batch = EventBatch(chime_event_service(), [_delivery(r) for r in event.get("Records", [])])

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
            if applied.ended.end_reason_final:
                count_meeting_end(applied.ended)  # else counted when the cleanup settles it
    return dict(response)
