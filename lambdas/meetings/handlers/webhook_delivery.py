"""Lambda entry point: one attempt of each delivery in a batch from the deliveries queue
(service/webhook_delivery.py says what an attempt is).

The function consumes both lanes' queues (domain/webhooks.py, Lane). A batch's deliveries run
side by side (Powertools' AsyncBatchProcessor, a thread each), so one slow endpoint — bounded
by the 10-second timeout — never delays another in its batch; its later deliveries wait on
the retry lane, so it holds no capacity of the first lane either. A delivery moved to the
retry lane is done on its first-lane message. A failed attempt on the retry lane is reported
as a batch item failure after the service made the message visible again when its next
attempt is due; after the schedule's last attempt SQS moves it to the dead-letter queue (the
queue's maxReceiveCount).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings import wiring
from meetings.domain.webhooks import Delivery
from meetings.observability import logger, metrics, traced
from meetings.service.webhook_delivery import Outcome, WebhookDelivering

# SQS hands the function at most 10 messages (the event source's batch size): one thread
# each, so no attempt waits for another's thread (asyncio's default pool is sized by CPUs).
BATCH_SIZE: Final = 10
_ATTEMPTS = ThreadPoolExecutor(max_workers=BATCH_SIZE, thread_name_prefix="webhook-attempt")


class AttemptFailedError(Exception):
    """The attempt failed: SQS brings the message back for the next one (or to the DLQ)."""


def attempt(delivering: WebhookDelivering, record: SQSRecord) -> Outcome:
    delivery = Delivery.from_message(record.body)
    receives = int(record.attributes.approximate_receive_count)
    return delivering.deliver(delivery, receives, record.receipt_handle)


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Built here, before the threads: the container builds each service once, lazily.
    delivering = wiring.container().webhook_delivering

    async def attempt_in_thread(record: SQSRecord) -> None:
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(_ATTEMPTS, attempt, delivering, record)
        if outcome in (Outcome.RETRY, Outcome.GIVE_UP):
            raise AttemptFailedError(outcome.value)

    response = async_process_partial_response(
        event=event,
        record_handler=attempt_in_thread,
        # A batch whose every attempt failed is still an answer, not an error: the failures
        # already have their next attempt scheduled.
        processor=AsyncBatchProcessor(
            event_type=EventType.SQS, raise_on_entire_batch_failure=False
        ),
        context=context,
    )
    return dict(response)
