"""Lambda entry point: domain events from the "webhook events" queue (the project's bus →
rule → SQS) → one message per matching enabled subscription on the deliveries queue.

Partial batch failures (Powertools BatchProcessor): an event whose deliveries could not all be
queued comes back whole; the subscriptions that got it already get it again, with the same
`webhook-id`, and drop the repeat.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings import wiring
from meetings.observability import logger, metrics, traced


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    fanout = wiring.container().webhook_fanout
    subscriptions = fanout.subscriptions()  # once per batch

    def fan_out(record: SQSRecord) -> None:
        envelope = json.loads(record.body)
        queued = fanout.fan_out(
            str(envelope["detail-type"]), envelope["detail"], str(envelope["time"]), subscriptions
        )
        metrics.add_metric(name="WebhookDeliveriesQueued", unit="Count", value=queued)

    response = process_partial_response(
        event=event,
        record_handler=fan_out,
        processor=BatchProcessor(event_type=EventType.SQS),
        context=context,
    )
    return dict(response)
