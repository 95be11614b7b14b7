"""The admin use cases of webhook subscriptions (docs/webhooks.md, "Routes").

Admins only (domain/authorization.py). A secret exists in clear only on its way out of
`create` and `rotate`: it is sealed with KMS before the record is written, and never logged
or returned again. Every change is audited in the logs: who, what, which subscription.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from meetings.deployment import WEBHOOK_PING_EVENT_TYPE
from meetings.domain import authorization, pagination
from meetings.domain.errors import ConflictError
from meetings.domain.identity import Identity
from meetings.domain.url_safety import TargetPolicy, UnsafeUrlError
from meetings.domain.webhook_signing import SECRET_BYTES, format_secret
from meetings.domain.webhooks import (
    SECRET_OVERLAP_MS,
    Delivery,
    DeliveryAttempt,
    DeliveryNotFoundError,
    DisabledReason,
    SealedSecret,
    WebhookNotFoundError,
    WebhookRecord,
    checked_description,
    checked_event_types,
    ping_body,
    url_problem,
)
from meetings.observability import logger
from meetings.service.ports import (
    Clock,
    DeliveryQueue,
    HostResolver,
    PageRequest,
    SecretCipher,
    WebhookStore,
)
from meetings.service.querying import Page
from meetings.service.webhook_delivery import resolve_target, rewrite


@dataclass(frozen=True, slots=True)
class NewWebhook:
    url: str
    event_types: list[str]
    description: str = ""


@dataclass(frozen=True, slots=True)
class WebhookChange:
    """What a PATCH sets (None: unchanged)."""

    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """A subscription and its new secret in clear: shown to the admin this once."""

    webhook: WebhookRecord
    secret: str


def _audit(identity: Identity, action: str, webhook_id: str, **details: Any) -> None:
    logger.info(
        "webhook audit",
        extra={"audit": action, "actor": identity.user_id, "webhookId": webhook_id, **details},
    )


class WebhookAdmin:
    def __init__(
        self,
        store: WebhookStore,
        cipher: SecretCipher,
        queue: DeliveryQueue,
        resolver: HostResolver,
        *,
        clock: Clock,
        targets: TargetPolicy,
        new_secret: Callable[[], bytes] = lambda: secrets.token_bytes(SECRET_BYTES),
    ) -> None:
        self._store = store
        self._cipher = cipher
        self._queue = queue
        self._resolver = resolver
        self._clock = clock
        self._targets = targets
        self._new_secret = new_secret

    def _checked_url(self, url: str) -> str:
        try:
            resolve_target(url, self._resolver, self._targets)
        except UnsafeUrlError as refused:
            raise url_problem(str(refused)) from None
        return url

    def _seal(self, webhook_id: str) -> tuple[SealedSecret, str]:
        raw = self._new_secret()
        return SealedSecret(self._cipher.seal(webhook_id, raw)), format_secret(raw)

    def create(self, identity: Identity, spec: NewWebhook) -> IssuedSecret:
        authorization.may_manage_webhooks(identity)
        event_types = checked_event_types(spec.event_types)
        description = checked_description(spec.description)
        url = self._checked_url(spec.url)
        now = self._clock()
        webhook_id = "wh_" + secrets.token_hex(12)
        sealed, secret = self._seal(webhook_id)
        record = WebhookRecord(
            webhookId=webhook_id,
            url=url,
            eventTypes=event_types,
            description=description,
            createdAt=now,
            createdBy=identity.user_id,
            updatedAt=now,
            secrets=(sealed,),
        )
        self._store.create(record)
        # The host only: a URL's path or query may carry the receiver's own token.
        host = urlsplit(url).hostname
        _audit(identity, "create", webhook_id, host=host, eventTypes=list(event_types))
        return IssuedSecret(record, secret)

    def list(
        self, identity: Identity, *, limit: int, next_token: str | None
    ) -> Page[WebhookRecord]:
        authorization.may_manage_webhooks(identity)
        binding = pagination.query_binding(identity.user_id, listing="webhooks")
        page = PageRequest(limit=limit, token=next_token, binding=binding, now=self._clock())
        return Page(*self._store.list_page(page))

    def get(self, identity: Identity, webhook_id: str) -> WebhookRecord:
        authorization.may_manage_webhooks(identity)
        return self._existing(webhook_id)

    def _existing(self, webhook_id: str) -> WebhookRecord:
        record = self._store.get(webhook_id)
        if record is None:
            raise WebhookNotFoundError()
        return record

    def update(self, identity: Identity, webhook_id: str, change: WebhookChange) -> WebhookRecord:
        authorization.may_manage_webhooks(identity)
        values: dict[str, Any] = {}
        if change.event_types is not None:
            values["eventTypes"] = checked_event_types(change.event_types)
        if change.description is not None:
            values["description"] = checked_description(change.description)
        if change.url is not None:
            values["url"] = self._checked_url(change.url)
        updated = self._write(webhook_id, lambda record: self._changed(record, values, change))
        _audit(identity, "update", webhook_id, changed=sorted(
            name for name, value in dataclasses.asdict(change).items() if value is not None
        ))  # fmt: skip
        return updated

    def _changed(
        self, record: WebhookRecord, values: dict[str, Any], change: WebhookChange
    ) -> WebhookRecord:
        now = self._clock()
        if change.enabled is True and not record.enabled:
            values |= {"enabled": True, "disabledAt": None, "disabledReason": None}
            # A fresh start: a day of failures from now on, and the first lane.
            values |= {"failingSince": None, "recoveredAt": None}
        elif change.enabled is False and record.enabled:
            values |= {"enabled": False, "disabledAt": now, "disabledReason": DisabledReason.ADMIN}
        return dataclasses.replace(record, **values, updatedAt=now)

    def _write(
        self, webhook_id: str, change: Callable[[WebhookRecord], WebhookRecord]
    ) -> WebhookRecord:
        written = rewrite(self._store, webhook_id, change)
        if written is None:
            raise WebhookNotFoundError()
        return written

    def delete(self, identity: Identity, webhook_id: str) -> None:
        authorization.may_manage_webhooks(identity)
        if not self._store.delete(webhook_id):
            raise WebhookNotFoundError()
        _audit(identity, "delete", webhook_id)

    def rotate_secret(self, identity: Identity, webhook_id: str) -> IssuedSecret:
        """A new current secret; the previous one keeps signing for SECRET_OVERLAP_MS (older
        ones stop now)."""
        authorization.may_manage_webhooks(identity)
        self._existing(webhook_id)
        sealed, secret = self._seal(webhook_id)

        def rotated(record: WebhookRecord) -> WebhookRecord:
            now = self._clock()
            previous = [
                dataclasses.replace(s, retiresAt=now + SECRET_OVERLAP_MS)
                for s in record.secrets
                if s.retiresAt is None
            ]
            return dataclasses.replace(record, secrets=(sealed, *previous), updatedAt=now)

        updated = self._write(webhook_id, rotated)
        _audit(identity, "rotate-secret", webhook_id)
        return IssuedSecret(updated, secret)

    def _enabled(self, webhook_id: str) -> WebhookRecord:
        record = self._existing(webhook_id)
        if not record.enabled:
            raise ConflictError("the webhook is disabled: enable it first (PATCH enabled=true)")
        return record

    def ping(self, identity: Identity, webhook_id: str) -> Delivery:
        authorization.may_manage_webhooks(identity)
        self._enabled(webhook_id)
        now = self._clock()
        delivery = Delivery(
            webhookId=webhook_id,
            eventId="ping_" + secrets.token_hex(12),
            eventType=WEBHOOK_PING_EVENT_TYPE,
            body=ping_body(webhook_id, now),
        )
        self._queue.enqueue([delivery])
        _audit(identity, "ping", webhook_id, eventId=delivery.eventId)
        return delivery

    def deliveries(
        self, identity: Identity, webhook_id: str, *, limit: int, next_token: str | None
    ) -> Page[DeliveryAttempt]:
        authorization.may_manage_webhooks(identity)
        self._existing(webhook_id)
        binding = pagination.query_binding(identity.user_id, deliveries=webhook_id)
        page = PageRequest(limit=limit, token=next_token, binding=binding, now=self._clock())
        return Page(*self._store.attempts_page(webhook_id, page))

    def redeliver(self, identity: Identity, webhook_id: str, delivery_id: str) -> Delivery:
        """The attempt's event again, same `webhook-id` and body, with a fresh schedule."""
        authorization.may_manage_webhooks(identity)
        self._enabled(webhook_id)
        attempt = self._store.get_attempt(webhook_id, delivery_id)
        if attempt is None:
            raise DeliveryNotFoundError()
        delivery = attempt.delivery()
        self._queue.enqueue([delivery])
        _audit(identity, "redeliver", webhook_id, eventId=delivery.eventId)
        return delivery
