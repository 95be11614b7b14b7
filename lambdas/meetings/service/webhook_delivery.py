"""Delivering domain events to webhook subscriptions (docs/webhooks.md, "Delivery").

Fanout: each domain event becomes one delivery per enabled subscription that wants its type,
on the deliveries queue of its lane: the first lane for a healthy subscription, the retry lane
for one whose last attempt failed. Delivery: one attempt of one delivery — the subscription
read, its URL checked and resolved again (DNS may have changed since registration), signed
with every live secret, POSTed to the address just checked, the attempt recorded. A failure
on the first lane moves the delivery to the retry lane; there, a failure schedules the next
attempt (the message's visibility, domain/webhook_retries.py). So a slow or failing endpoint
waits on the retry lane and never holds the capacity first attempts use. A 410 or a day of
failures disables the subscription, which the table's stream turns into `webhook.disabled`.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from meetings.domain import url_safety
from meetings.domain.errors import ConflictError, UpstreamUnavailableError
from meetings.domain.instants import rfc3339
from meetings.domain.url_safety import IPAddress, Target, TargetPolicy, UnsafeUrlError
from meetings.domain.webhook_retries import RetryPolicy
from meetings.domain.webhook_signing import signed_headers
from meetings.domain.webhooks import (
    ATTEMPT_RETENTION_SECONDS,
    Delivery,
    DeliveryAttempt,
    Lane,
    WebhookRecord,
    delivery_body,
    disable_reason_after_failure,
    short_error,
)
from meetings.observability import count, logger
from meetings.service.ports import (
    Clock,
    DeliveryQueue,
    HostResolver,
    SecretCipher,
    SendOutcome,
    TransactionRejectedError,
    WebhookSender,
    WebhookStore,
)

# Opened secrets kept per container (keyed by their ciphertext): KMS is not asked per attempt.
_SECRET_CACHE_SIZE: Final = 256
_WRITE_ATTEMPTS: Final = 3


class Outcome(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # failed; the message comes back when its next attempt is due
    GIVE_UP = "give_up"  # failed its last attempt: the message goes to the dead-letter queue
    DROPPED = "dropped"  # nothing to deliver to (deleted or disabled subscription)
    MOVED = "moved"  # handed to the retry lane: done on this lane


def resolve_target(
    url: str, resolver: HostResolver, policy: TargetPolicy
) -> tuple[Target, IPAddress]:
    """The URL's target and the one address to connect to; UnsafeUrlError if refused (a URL
    refused by its shape is refused before its host is looked up)."""
    target = url_safety.parse_target(url, policy)
    resolved = [] if target.literal else resolver.resolve(target.host, target.port)
    address = url_safety.checked_address(target, resolved, policy)
    return target, address


def rewrite(
    store: WebhookStore,
    webhook_id: str,
    change: Callable[[WebhookRecord], WebhookRecord | None],
) -> WebhookRecord | None:
    """Read, change, write over the version read — again when another write got in first.
    The record as written; None when there is no such webhook or `change` wants nothing.
    ConflictError when every round lost the race."""
    for _ in range(_WRITE_ATTEMPTS):
        current = store.get(webhook_id)
        wanted = None if current is None else change(current)
        if wanted is None:
            return None
        try:
            return store.replace(wanted)
        except TransactionRejectedError:
            continue
    raise ConflictError("the webhook is being changed by another request, retry")


def new_delivery_id(now_ms: int) -> str:
    """Time-ordered and unique: the delivery log lists attempts newest first by this id."""
    return f"{now_ms:013d}-{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    policy: RetryPolicy
    disable_after_ms: int
    targets: TargetPolicy


class WebhookFanout:
    def __init__(self, store: WebhookStore, queue: DeliveryQueue, *, clock: Clock) -> None:
        self._store = store
        self._queue = queue
        self._clock = clock

    def subscriptions(self) -> list[WebhookRecord]:
        """Every subscription (read once per batch of events)."""
        return self._store.list_all()

    def fan_out(
        self, event_type: str, detail: dict[str, Any], time: str, to: Sequence[WebhookRecord]
    ) -> int:
        """Queue the event for every subscription in `to` that wants it; how many."""
        event_id = str(detail.get("eventId") or "")
        if not event_id:
            raise ValueError(f"a {event_type} event without an eventId")
        body = delivery_body(event_type, str(detail.get("occurredAt") or time), detail)
        now = self._clock()
        deliveries = [
            Delivery(record.webhookId, event_id, event_type, body, lane=record.lane(now))
            for record in to
            if record.wants(event_type)
        ]
        self._queue.enqueue(deliveries)
        return len(deliveries)


class WebhookDelivering:
    def __init__(
        self,
        store: WebhookStore,
        cipher: SecretCipher,
        queue: DeliveryQueue,
        resolver: HostResolver,
        sender: WebhookSender,
        *,
        clock: Clock,
        signing_clock: Clock,
        settings: DeliverySettings,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._cipher = cipher
        self._queue = queue
        self._resolver = resolver
        self._sender = sender
        self._clock = clock
        # `webhook-timestamp` is the sender's wall clock at sending: the receiver checks it
        # against its own clock (replay protection), whatever time the backend decides by.
        self._signing_clock = signing_clock
        self._settings = settings
        self._draw = draw
        self._opened: dict[tuple[str, bytes], bytes] = {}

    def deliver(self, delivery: Delivery, receives: int, receipt_handle: str) -> Outcome:
        """One attempt of `delivery`, received for the `receives`-th time from its lane."""
        record = self._store.get(delivery.webhookId)
        if record is None or not record.enabled:
            logger.info(
                "webhook delivery dropped: no enabled subscription",
                extra={"webhookId": delivery.webhookId, "eventId": delivery.eventId},
            )
            return Outcome.DROPPED
        attempt = delivery.priorAttempts + receives
        if attempt > self._settings.policy.attempts:
            # The queue allows more receives than the schedule: on to the dead-letter queue.
            self._queue.retry_after(delivery, receipt_handle, 0)
            return Outcome.GIVE_UP
        if delivery.lane is Lane.FIRST and record.lane(self._clock()) is Lane.RETRY:
            # Queued before its endpoint started failing: wait with its kind.
            return self._move_to_retry_lane(delivery, attempt - 1, receipt_handle, wait=0)
        return self._try(record, delivery, attempt, receipt_handle)

    def _try(
        self, record: WebhookRecord, delivery: Delivery, attempt: int, receipt_handle: str
    ) -> Outcome:
        now = self._clock()
        outcome = self._attempt(record, delivery, now)
        if outcome.delivered:
            self._record(record, delivery, attempt, now, outcome, next_retry_at=None)
            self._healthy(record, now)
            count("WebhookDeliveriesSucceeded")
            return Outcome.DELIVERED
        count("WebhookDeliveriesFailed")
        if self._disable_after_failure(record, outcome, now):
            self._record(record, delivery, attempt, now, outcome, next_retry_at=None)
            return Outcome.DROPPED
        wait = self._settings.policy.wait_after(attempt, self._draw())
        next_retry_at = None if wait is None else now + wait * 1000
        self._record(record, delivery, attempt, now, outcome, next_retry_at=next_retry_at)
        if wait is None:
            count("WebhookDeliveryExhausted")
            self._queue.retry_after(delivery, receipt_handle, 0)
            return Outcome.GIVE_UP
        if delivery.lane is Lane.FIRST:
            return self._move_to_retry_lane(delivery, attempt, receipt_handle, wait=wait)
        self._queue.retry_after(delivery, receipt_handle, wait)
        return Outcome.RETRY

    def _move_to_retry_lane(
        self, delivery: Delivery, attempts_made: int, receipt_handle: str, *, wait: int
    ) -> Outcome:
        """Queue the delivery's next attempt on the retry lane, due in `wait` seconds. If the
        retry lane refuses it, the delivery retries on this lane instead: late, never lost."""
        try:
            self._queue.enqueue([delivery.to_retry_lane(attempts_made)], delay_seconds=wait)
        except UpstreamUnavailableError as refused:
            logger.warning(
                "webhook retry lane refused a delivery: it retries on the first lane",
                extra={"webhookId": delivery.webhookId, "eventId": delivery.eventId,
                       "error": str(refused)},
            )  # fmt: skip
            self._queue.retry_after(delivery, receipt_handle, wait)
            return Outcome.RETRY
        return Outcome.MOVED

    def _attempt(self, record: WebhookRecord, delivery: Delivery, now: int) -> SendOutcome:
        try:
            target, address = resolve_target(record.url, self._resolver, self._settings.targets)
        except UnsafeUrlError as refused:
            count("WebhookDeliveryRefused")
            return SendOutcome(None, 0, error=f"refused: {refused}")
        sent_at = self._signing_clock() // 1000
        headers = signed_headers(self._secrets(record, now), delivery.eventId, sent_at,
                                 delivery.body)  # fmt: skip
        return self._sender.post(target, address, headers, delivery.body)

    def _secrets(self, record: WebhookRecord, now: int) -> list[bytes]:
        opened = []
        for sealed in record.signing_secrets(now):
            key = (record.webhookId, sealed.ciphertext)
            if key not in self._opened:
                if len(self._opened) >= _SECRET_CACHE_SIZE:
                    self._opened.clear()
                self._opened[key] = self._cipher.open(record.webhookId, sealed.ciphertext)
            opened.append(self._opened[key])
        return opened

    def _record(
        self,
        record: WebhookRecord,
        delivery: Delivery,
        attempt: int,
        now: int,
        outcome: SendOutcome,
        *,
        next_retry_at: int | None,
    ) -> None:
        entry = DeliveryAttempt(
            deliveryId=new_delivery_id(now),
            webhookId=record.webhookId,
            eventId=delivery.eventId,
            eventType=delivery.eventType,
            attempt=attempt,
            attemptedAt=now,
            delivered=outcome.delivered,
            statusCode=outcome.status_code,
            latencyMs=outcome.latency_ms,
            error=None if outcome.error is None else short_error(outcome.error),
            nextRetryAt=next_retry_at,
            body=delivery.body,
        )
        self._store.record_attempt(entry, now // 1000 + ATTEMPT_RETENTION_SECONDS)
        logger.info(
            "webhook attempt",
            extra={
                "webhookId": record.webhookId,
                "eventId": delivery.eventId,
                "eventType": delivery.eventType,
                "attempt": attempt,
                "statusCode": outcome.status_code,
                "latencyMs": outcome.latency_ms,
                "error": entry.error,
                "nextRetryAt": None if next_retry_at is None else rfc3339(next_retry_at),
            },
        )

    def _healthy(self, record: WebhookRecord, now: int) -> None:
        def change(current: WebhookRecord) -> WebhookRecord | None:
            if current.failingSince is None:
                return None
            return dataclasses.replace(current, failingSince=None, recoveredAt=now)

        if record.failingSince is not None:
            self._update(record.webhookId, change)

    def _disable_after_failure(self, record: WebhookRecord, outcome: SendOutcome, now: int) -> bool:
        """Note the failure; True if it disabled the subscription."""
        reason = disable_reason_after_failure(
            record, outcome.status_code, now, self._settings.disable_after_ms
        )

        def change(current: WebhookRecord) -> WebhookRecord | None:
            if not current.enabled:
                return None
            if reason is not None:
                return dataclasses.replace(
                    current, enabled=False, disabledAt=now, disabledReason=reason, updatedAt=now
                )
            if current.failingSince is None:
                return dataclasses.replace(current, failingSince=now)
            return None

        self._update(record.webhookId, change)
        if reason is not None:
            count("WebhookDisabled")
            logger.warning(
                "webhook disabled",
                extra={"webhookId": record.webhookId, "reason": str(reason)},
            )
        return reason is not None

    def _update(
        self, webhook_id: str, change: Callable[[WebhookRecord], WebhookRecord | None]
    ) -> None:
        # The attempt is over and recorded: a note about the subscription's health that lost
        # every race is not worth another POST (the next attempt notes it again).
        try:
            rewrite(self._store, webhook_id, change)
        except ConflictError:
            logger.warning(
                "webhook health not noted: kept conflicting", extra={"webhookId": webhook_id}
            )
