"""The webhook deliveries queue (port: DeliveryQueue): SendMessageBatch of 10, and the
visibility change that schedules a failed delivery's next attempt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from meetings.adapters import aws_clients
from meetings.domain.errors import UpstreamUnavailableError
from meetings.domain.webhooks import Delivery

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SEND_BATCH_MAX: Final = 10  # SQS's limit per SendMessageBatch


class SqsDeliveryQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            self._client = aws_clients.sqs_client()
        return self._client

    def enqueue(self, deliveries: Sequence[Delivery]) -> None:
        """Every delivery on the queue; UpstreamUnavailableError if SQS refused any (the
        caller retries the lot: receivers drop repeats by `webhook-id`)."""
        if deliveries and not self.queue_url:
            raise UpstreamUnavailableError("webhooks are not configured (queue URL)")
        for start in range(0, len(deliveries), SEND_BATCH_MAX):
            chunk = deliveries[start : start + SEND_BATCH_MAX]
            answer = self.client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": delivery.to_message()}
                    for i, delivery in enumerate(chunk)
                ],
            )
            if answer.get("Failed"):
                codes = sorted({failure["Code"] for failure in answer["Failed"]})
                raise UpstreamUnavailableError(f"the deliveries queue refused messages: {codes}")

    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
