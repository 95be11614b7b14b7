"""The webhook deliveries queues, one per lane (port: DeliveryQueue): SendMessageBatch of 10,
and the visibility change that schedules a failed delivery's next attempt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from meetings.adapters import aws_clients
from meetings.domain.errors import UpstreamUnavailableError
from meetings.domain.webhooks import Delivery, Lane

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SEND_BATCH_MAX: Final = 10  # SQS's limit per SendMessageBatch
MAX_DELAY_SECONDS: Final = 900  # SQS's limit on a message's DelaySeconds


class SqsDeliveryQueue:
    def __init__(
        self, first_lane_url: str, retry_lane_url: str, client: SQSClient | None = None
    ) -> None:
        self.queue_urls = {Lane.FIRST: first_lane_url, Lane.RETRY: retry_lane_url}
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            self._client = aws_clients.sqs_client()
        return self._client

    def enqueue(self, deliveries: Sequence[Delivery], delay_seconds: int = 0) -> None:
        """Every delivery on its lane's queue; UpstreamUnavailableError if SQS refused any
        (the caller retries the lot: receivers drop repeats by `webhook-id`)."""
        for lane, queue_url in self.queue_urls.items():
            on_lane = [delivery for delivery in deliveries if delivery.lane is lane]
            if on_lane and not queue_url:
                raise UpstreamUnavailableError(f"webhooks are not configured ({lane} lane URL)")
            for start in range(0, len(on_lane), SEND_BATCH_MAX):
                self._send(queue_url, on_lane[start : start + SEND_BATCH_MAX], delay_seconds)

    def retry_after(self, received: Delivery, receipt_handle: str, seconds: int) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.queue_urls[received.lane],
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=seconds,
        )

    def _send(self, queue_url: str, chunk: Sequence[Delivery], delay_seconds: int) -> None:
        delay = max(0, min(delay_seconds, MAX_DELAY_SECONDS))
        answer = self.client.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": delivery.to_message(), "DelaySeconds": delay}
                for i, delivery in enumerate(chunk)
            ],
        )
        if answer.get("Failed"):
            codes = sorted({failure["Code"] for failure in answer["Failed"]})
            raise UpstreamUnavailableError(f"the deliveries queue refused messages: {codes}")
