"""How webhook subscriptions and delivery attempts look to API clients (webhook_models.py's
shapes). A secret appears only in `with_secret`, for the answer that issued it."""

from __future__ import annotations

from typing import Any

from meetings.domain.instants import rfc3339
from meetings.domain.webhooks import Delivery, DeliveryAttempt, WebhookRecord
from meetings.service.querying import Page
from meetings.service.webhooks import IssuedSecret


def _instant(epoch_ms: int | None) -> str | None:
    return None if epoch_ms is None else rfc3339(epoch_ms)


def webhook_view(record: WebhookRecord) -> dict[str, Any]:
    retiring = [s.retiresAt for s in record.secrets if s.retiresAt is not None]
    return {
        "webhookId": record.webhookId,
        "url": record.url,
        "eventTypes": list(record.eventTypes),
        "description": record.description,
        "enabled": record.enabled,
        "disabledAt": _instant(record.disabledAt),
        "disabledReason": None if record.disabledReason is None else str(record.disabledReason),
        "failingSince": _instant(record.failingSince),
        "createdAt": rfc3339(record.createdAt),
        "createdBy": record.createdBy,
        "updatedAt": rfc3339(record.updatedAt),
        "secretRotatedOutUntil": _instant(max(retiring)) if retiring else None,
    }


def envelope(record: WebhookRecord) -> dict[str, Any]:
    return {"webhook": webhook_view(record)}


def with_secret(issued: IssuedSecret) -> dict[str, Any]:
    return {"webhook": webhook_view(issued.webhook), "secret": issued.secret}


def webhook_list(page: Page[WebhookRecord]) -> dict[str, Any]:
    return {"webhooks": [webhook_view(r) for r in page.records], "nextToken": page.next_token}


def attempt_view(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "deliveryId": attempt.deliveryId,
        "eventId": attempt.eventId,
        "eventType": attempt.eventType,
        "attempt": attempt.attempt,
        "attemptedAt": rfc3339(attempt.attemptedAt),
        "delivered": attempt.delivered,
        "statusCode": attempt.statusCode,
        "latencyMs": attempt.latencyMs,
        "error": attempt.error,
        "nextRetryAt": _instant(attempt.nextRetryAt),
    }


def delivery_list(page: Page[DeliveryAttempt]) -> dict[str, Any]:
    return {"deliveries": [attempt_view(a) for a in page.records], "nextToken": page.next_token}


def queued(delivery: Delivery) -> dict[str, Any]:
    return {
        "webhookId": delivery.webhookId,
        "eventId": delivery.eventId,
        "eventType": delivery.eventType,
    }
