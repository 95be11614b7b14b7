"""Webhook subscriptions and their delivery attempts, as the domain sees them; the rules of
registration (event types, description), of matching an event, and of disabling.

docs/webhooks.md is the contract. Timestamps are epoch milliseconds, like every record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

from meetings.deployment import DOMAIN_EVENT_TYPES, WEBHOOK_PING_EVENT_TYPE
from meetings.domain.errors import DomainError, InvalidRequestError
from meetings.domain.instants import rfc3339

ALL_EVENTS: Final = "*"
MAX_DESCRIPTION_CHARS: Final = 256
MAX_EVENT_TYPES: Final = len(DOMAIN_EVENT_TYPES)
# How long the previous secret keeps signing after a rotation.
SECRET_OVERLAP_MS: Final = 24 * 3600 * 1000
# Delivery attempts are kept this long (the table's TTL removes them).
ATTEMPT_RETENTION_SECONDS: Final = 7 * 86_400
# An attempt's error text is cut to this length in the delivery log.
MAX_ERROR_CHARS: Final = 300
# How long a subscription stays on the retry lane after its last failing spell ended: an
# endpoint that fails every first attempt and answers the retry (slow to wake, say) would
# otherwise come back to the first lane after every success and hold it again.
PROBATION_MS: Final = 15 * 60 * 1000


class WebhookNotFoundError(DomainError):
    status = 404
    code = "WEBHOOK_NOT_FOUND"
    default_message = "webhook not found"


class DeliveryNotFoundError(DomainError):
    status = 404
    code = "DELIVERY_NOT_FOUND"
    default_message = "delivery not found"


class DisabledReason(StrEnum):
    ADMIN = "admin"  # PATCH {"enabled": false}
    GONE = "gone"  # the endpoint answered 410 Gone
    FAILING = "failing"  # every attempt failed for the disable window (a day by default)


class Lane(StrEnum):
    """The deliveries queue a delivery waits on (docs/webhooks.md, "Lanes").

    First attempts to healthy endpoints wait on their own queue; retries, and every delivery to
    an endpoint that is failing, wait on the retry lane. Slow or failing endpoints therefore
    use the retry lane's capacity, never the one first attempts need.
    """

    FIRST = "first"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """A signing secret as stored: KMS ciphertext; `retiresAt` (epoch ms) once rotated out."""

    ciphertext: bytes
    retiresAt: int | None = None  # noqa: N815 - item attribute names are camelCase


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    webhookId: str  # noqa: N815
    url: str
    eventTypes: tuple[str, ...]  # noqa: N815
    description: str
    createdAt: int  # noqa: N815
    createdBy: str  # noqa: N815
    updatedAt: int  # noqa: N815
    secrets: tuple[SealedSecret, ...] = ()
    enabled: bool = True
    disabledAt: int | None = None  # noqa: N815
    disabledReason: DisabledReason | None = None  # noqa: N815
    # First failed attempt since the last success (None: the endpoint is healthy).
    failingSince: int | None = None  # noqa: N815
    # The success that ended the last failing spell (its probation starts there).
    recoveredAt: int | None = None  # noqa: N815
    # Raised by every write: updates are conditioned on the version they read.
    version: int = 0

    def signing_secrets(self, now_ms: int) -> tuple[SealedSecret, ...]:
        """The current secret and a rotated-out one still inside its overlap."""
        return tuple(s for s in self.secrets if s.retiresAt is None or s.retiresAt > now_ms)

    def wants(self, event_type: str) -> bool:
        return self.enabled and (ALL_EVENTS in self.eventTypes or event_type in self.eventTypes)

    def lane(self, now_ms: int) -> Lane:
        """Where its deliveries wait: the retry lane while failing and on probation after."""
        on_probation = self.recoveredAt is not None and now_ms - self.recoveredAt < PROBATION_MS
        return Lane.RETRY if self.failingSince is not None or on_probation else Lane.FIRST


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one subscription: what a deliveries-queue message carries. `body` is the
    exact text signed and sent, so every attempt and redelivery sends the same bytes."""

    webhookId: str  # noqa: N815
    eventId: str  # noqa: N815 - the `webhook-id` header: the receiver's deduplication key
    eventType: str  # noqa: N815
    body: str
    lane: Lane = Lane.FIRST
    # Attempts made before the message was queued (on the first lane): a message's receives
    # count only its own attempts.
    priorAttempts: int = 0  # noqa: N815

    def to_message(self) -> str:
        return json.dumps(
            {
                "webhookId": self.webhookId,
                "eventId": self.eventId,
                "eventType": self.eventType,
                "body": self.body,
                "lane": self.lane.value,
                "priorAttempts": self.priorAttempts,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_message(cls, text: str) -> Delivery:
        raw = json.loads(text)
        return cls(
            webhookId=str(raw["webhookId"]),
            eventId=str(raw["eventId"]),
            eventType=str(raw["eventType"]),
            body=str(raw["body"]),
            # Messages queued before lanes existed were all first attempts.
            lane=Lane(raw.get("lane", Lane.FIRST.value)),
            priorAttempts=int(raw.get("priorAttempts", 0)),
        )

    def to_retry_lane(self, attempts_made: int) -> Delivery:
        return replace(self, lane=Lane.RETRY, priorAttempts=attempts_made)


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One HTTP attempt (or one refused before any packet left)."""

    deliveryId: str  # noqa: N815 - time-ordered, unique per attempt
    webhookId: str  # noqa: N815
    eventId: str  # noqa: N815
    eventType: str  # noqa: N815
    attempt: int
    attemptedAt: int  # noqa: N815
    delivered: bool
    statusCode: int | None = None  # noqa: N815
    latencyMs: int | None = None  # noqa: N815
    error: str | None = None
    nextRetryAt: int | None = None  # noqa: N815
    body: str = field(default="", repr=False)

    def delivery(self) -> Delivery:
        return Delivery(self.webhookId, self.eventId, self.eventType, self.body)


def delivery_body(event_type: str, occurred_at: str, data: dict[str, Any]) -> str:
    """The request body: `{"type", "timestamp", "data"}` (Standard Webhooks' shape)."""
    body = {"type": event_type, "timestamp": occurred_at, "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


# A description: any text but control characters (C0, DEL, C1) — the rule the API document
# states too, as this pattern.
DESCRIPTION_PATTERN: Final = "^[^\u0000-\u001f\u007f-\u009f]*$"


def ping_body(webhook_id: str, now_ms: int) -> str:
    data = {"webhookId": webhook_id, "message": "ping from the meetings backend"}
    return delivery_body(WEBHOOK_PING_EVENT_TYPE, rfc3339(now_ms), data)


def _invalid(field_name: str, problem: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{field_name} {problem}", details=[{"field": field_name, "problem": problem}]
    )


def checked_event_types(event_types: list[str]) -> tuple[str, ...]:
    """The event types, deduplicated in order; ["*"] for every event. 400 for unknown ones."""
    if not event_types:
        raise _invalid("eventTypes", 'must name at least one event type, or be ["*"]')
    unique = tuple(dict.fromkeys(event_types))
    if ALL_EVENTS in unique:
        if len(unique) > 1:
            raise _invalid("eventTypes", '"*" stands alone: it already means every type')
        return unique
    unknown = [name for name in unique if name not in DOMAIN_EVENT_TYPES]
    if unknown:
        known = ", ".join(DOMAIN_EVENT_TYPES)
        raise _invalid("eventTypes", f"has unknown types {unknown}; known: {known}")
    return unique


def checked_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise _invalid("description", f"is longer than {MAX_DESCRIPTION_CHARS} characters")
    if not re.fullmatch(DESCRIPTION_PATTERN, description):
        raise _invalid("description", "may not hold control characters")
    return description


def url_problem(problem: str) -> InvalidRequestError:
    return _invalid("url", f"is refused: {problem}")


def disable_reason_after_failure(
    record: WebhookRecord, status_code: int | None, now_ms: int, disable_after_ms: int
) -> DisabledReason | None:
    """Whether a failed attempt disables the subscription: a 410 at once; otherwise when
    every attempt since `failingSince` has failed for the disable window."""
    if status_code == 410:
        return DisabledReason.GONE
    since = record.failingSince if record.failingSince is not None else now_ms
    return DisabledReason.FAILING if now_ms - since >= disable_after_ms else None


def short_error(error: str) -> str:
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"
