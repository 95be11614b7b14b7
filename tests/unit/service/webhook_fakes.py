"""In-memory implementations of the webhook ports (service/ports.py), for the use cases'
unit tests: the store keeps versions as the table does, DNS answers are stubbed, the sender
records what it would have sent — no packet leaves the test."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from meetings.domain.errors import UpstreamUnavailableError
from meetings.domain.url_safety import IPAddress, Target
from meetings.domain.webhooks import Delivery, DeliveryAttempt, Lane, WebhookRecord
from meetings.service.ports import PageRequest, SendOutcome, TransactionRejectedError


@dataclass
class MemoryWebhookStore:
    records: dict[str, WebhookRecord] = field(default_factory=dict)
    attempts: list[DeliveryAttempt] = field(default_factory=list)

    def create(self, record: WebhookRecord) -> None:
        self.records[record.webhookId] = record

    def get(self, webhook_id: str) -> WebhookRecord | None:
        return self.records.get(webhook_id)

    def list_page(self, page: PageRequest) -> tuple[list[WebhookRecord], str | None]:
        return list(self.records.values())[: page.limit], None

    def list_all(self) -> list[WebhookRecord]:
        return list(self.records.values())

    def replace(self, record: WebhookRecord) -> WebhookRecord:
        stored = self.records.get(record.webhookId)
        if stored is None or stored.version != record.version:
            raise TransactionRejectedError(["ConditionalCheckFailed"])
        newer = dataclasses.replace(record, version=record.version + 1)
        self.records[record.webhookId] = newer
        return newer

    def delete(self, webhook_id: str) -> bool:
        return self.records.pop(webhook_id, None) is not None

    def record_attempt(self, attempt: DeliveryAttempt, expires_at: int) -> None:
        self.attempts.append(attempt)

    def attempts_page(
        self, webhook_id: str, page: PageRequest
    ) -> tuple[list[DeliveryAttempt], str | None]:
        mine = [a for a in reversed(self.attempts) if a.webhookId == webhook_id]
        return mine[: page.limit], None

    def get_attempt(self, webhook_id: str, delivery_id: str) -> DeliveryAttempt | None:
        return next(
            (a for a in self.attempts if (a.webhookId, a.deliveryId) == (webhook_id, delivery_id)),
            None,
        )


class ReversibleCipher:
    """Seals by prefixing the webhook id: opening with another id fails, as KMS's context."""

    def seal(self, webhook_id: str, secret: bytes) -> bytes:
        return webhook_id.encode() + b"|" + secret[::-1]

    def open(self, webhook_id: str, sealed: bytes) -> bytes:
        owner, _, body = sealed.partition(b"|")
        assert owner == webhook_id.encode(), "sealed for another webhook"
        return body[::-1]


@dataclass
class RecordingQueue:
    queued: list[Delivery] = field(default_factory=list)
    delays: list[int] = field(default_factory=list)  # one per queued delivery
    # (lane received from, receipt handle, seconds)
    visibility: list[tuple[Lane, str, int]] = field(default_factory=list)
    refused_lanes: set[Lane] = field(default_factory=set)

    def enqueue(self, deliveries: Sequence[Delivery], delay_seconds: int = 0) -> None:
        if any(delivery.lane in self.refused_lanes for delivery in deliveries):
            raise UpstreamUnavailableError("the deliveries queue refused messages")
        self.queued.extend(deliveries)
        self.delays.extend(delay_seconds for _ in deliveries)

    def retry_after(self, received: Delivery, receipt_handle: str, seconds: int) -> None:
        self.visibility.append((received.lane, receipt_handle, seconds))


@dataclass
class StubResolver:
    answers: dict[str, list[IPAddress]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        return list(self.answers.get(host, []))


@dataclass
class RecordingSender:
    status_codes: list[int | None] = field(default_factory=lambda: [200])
    sent: list[tuple[Target, IPAddress, dict[str, str], str]] = field(default_factory=list)

    def post(
        self, target: Target, address: IPAddress, headers: dict[str, str], body: str
    ) -> SendOutcome:
        self.sent.append((target, address, headers, body))
        status = self.status_codes.pop(0) if len(self.status_codes) > 1 else self.status_codes[0]
        return SendOutcome(status, 3, error=None if status else "timed out")
