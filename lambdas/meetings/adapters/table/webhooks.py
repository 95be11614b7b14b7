"""Webhook subscriptions and their delivery attempts in the table (port: WebhookStore).

Layout (codec.py lists every key): a subscription is `WEBHOOKS` / `WEBHOOK#<webhookId>`; its
attempts are `WEBHOOK#<webhookId>` / `DELIVERY#<deliveryId>` with `expiresAt` (TTL).
Delivery ids begin with the attempt's instant, so a Query newest-first is the delivery log.
A subscription's secrets are stored only as KMS ciphertext (`secrets`: a list of maps with
`ciphertext` (B) and, once rotated out, `retiresAt`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from meetings import deployment
from meetings.adapters.table.base import PlainKey, TableBase
from meetings.adapters.table.codec import (
    DELIVERY_SK_PREFIX,
    WEBHOOK_SK_PREFIX,
    WEBHOOKS_PK,
    Item,
    from_attribute_values,
    to_attribute_values,
)
from meetings.adapters.table.errors import dynamodb_errors
from meetings.domain import pagination
from meetings.domain.webhooks import DeliveryAttempt, DisabledReason, SealedSecret, WebhookRecord
from meetings.service.ports import PageRequest

_PK, _SK = deployment.PARTITION_KEY, deployment.SORT_KEY


def _key(pk: str, sk: str) -> Item:
    return {_PK: {"S": pk}, _SK: {"S": sk}}


def webhook_key(webhook_id: str) -> Item:
    return _key(WEBHOOKS_PK, WEBHOOK_SK_PREFIX + webhook_id)


def attempts_pk(webhook_id: str) -> str:
    return WEBHOOK_SK_PREFIX + webhook_id


def attempt_key(webhook_id: str, delivery_id: str) -> Item:
    return _key(attempts_pk(webhook_id), DELIVERY_SK_PREFIX + delivery_id)


def _sealed(raw: Item) -> SealedSecret:
    """One stored secret, from its attribute value (a map)."""
    fields = raw["M"]
    retires = fields.get("retiresAt")
    return SealedSecret(
        ciphertext=bytes(fields["ciphertext"]["B"]),
        retiresAt=None if retires is None else int(retires["N"]),
    )


def webhook_to_item(record: WebhookRecord) -> Item:
    plain: dict[str, Any] = {
        "webhookId": record.webhookId,
        "url": record.url,
        "eventTypes": list(record.eventTypes),
        "description": record.description,
        "createdAt": record.createdAt,
        "createdBy": record.createdBy,
        "updatedAt": record.updatedAt,
        "enabled": record.enabled,
        "disabledAt": record.disabledAt,
        "disabledReason": None if record.disabledReason is None else str(record.disabledReason),
        "failingSince": record.failingSince,
        "recoveredAt": record.recoveredAt,
        "version": record.version,
        "secrets": [
            {"ciphertext": s.ciphertext}
            | ({} if s.retiresAt is None else {"retiresAt": s.retiresAt})
            for s in record.secrets
        ],
    }
    return webhook_key(record.webhookId) | to_attribute_values(plain)


def webhook_from_item(item: Item) -> WebhookRecord:
    secrets = tuple(_sealed(raw) for raw in item["secrets"]["L"])
    plain = from_attribute_values({k: v for k, v in item.items() if k != "secrets"})
    reason = plain.get("disabledReason")
    return WebhookRecord(
        webhookId=plain["webhookId"],
        url=plain["url"],
        eventTypes=tuple(plain["eventTypes"]),
        description=plain.get("description", ""),
        createdAt=plain["createdAt"],
        createdBy=plain["createdBy"],
        updatedAt=plain["updatedAt"],
        secrets=secrets,
        enabled=bool(plain["enabled"]),
        disabledAt=plain.get("disabledAt"),
        disabledReason=None if reason is None else DisabledReason(reason),
        failingSince=plain.get("failingSince"),
        recoveredAt=plain.get("recoveredAt"),
        version=plain.get("version", 0),
    )


_ATTEMPT_FIELDS = (
    "deliveryId", "webhookId", "eventId", "eventType", "attempt", "attemptedAt", "delivered",
    "statusCode", "latencyMs", "error", "nextRetryAt", "body",
)  # fmt: skip


def attempt_from_item(item: Item) -> DeliveryAttempt:
    plain: dict[str, Any] = from_attribute_values(item)
    fields: dict[str, Any] = {name: plain[name] for name in _ATTEMPT_FIELDS if name in plain}
    return DeliveryAttempt(**fields)


class WebhookTable(TableBase):
    def create(self, record: WebhookRecord) -> None:
        put = self._put_new(webhook_to_item(record))["Put"]
        self._retrying_conflicts(lambda: self.client.put_item(**put))

    def get(self, webhook_id: str) -> WebhookRecord | None:
        item = self._get(webhook_key(webhook_id))
        return None if item is None else webhook_from_item(item)

    def list_all(self) -> list[WebhookRecord]:
        records: list[WebhookRecord] = []
        start: PlainKey | None = None
        while True:
            items, start = self._subscriptions(limit=100, start_key=start)
            records.extend(webhook_from_item(item) for item in items)
            if start is None:
                return records

    def list_page(self, page: PageRequest) -> tuple[list[WebhookRecord], str | None]:
        start = pagination.decode_token(
            page.token, page.binding, page.now,
            key_names=frozenset({_PK, _SK}), fixed={_PK: WEBHOOKS_PK},
        )  # fmt: skip
        items, last = self._subscriptions(limit=page.limit, start_key=start)
        token = pagination.encode_token(last, page.binding, page.now)
        return [webhook_from_item(item) for item in items], token

    def _subscriptions(
        self, *, limit: int, start_key: PlainKey | None
    ) -> tuple[list[Item], PlainKey | None]:
        return self._query_page(
            index=None,
            key_condition="#pk = :pk AND begins_with(#sk, :prefix)",
            names={"#pk": _PK, "#sk": _SK},
            values={":pk": {"S": WEBHOOKS_PK}, ":prefix": {"S": WEBHOOK_SK_PREFIX}},
            limit=limit,
            start_key=start_key,
            newest_first=False,
        )

    def replace(self, record: WebhookRecord) -> WebhookRecord:
        """Write `record` over the version it was read at; the stored record (version + 1)."""
        newer = dataclasses.replace(record, version=record.version + 1)
        self._retrying_conflicts(
            lambda: self.client.put_item(
                TableName=self.table_name,
                Item=webhook_to_item(newer),
                ConditionExpression="#version = :seen",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues={":seen": {"N": str(record.version)}},
            )
        )
        return newer

    def delete(self, webhook_id: str) -> bool:
        with dynamodb_errors():
            answer: Any = self.client.delete_item(
                TableName=self.table_name, Key=webhook_key(webhook_id), ReturnValues="ALL_OLD"
            )
        return bool(answer.get("Attributes"))

    def record_attempt(self, attempt: DeliveryAttempt, expires_at: int) -> None:
        values = {name: getattr(attempt, name) for name in _ATTEMPT_FIELDS}
        item = attempt_key(attempt.webhookId, attempt.deliveryId) | to_attribute_values(
            values | {deployment.TTL_ATTRIBUTE: expires_at}
        )
        self._retrying_conflicts(lambda: self.client.put_item(TableName=self.table_name, Item=item))

    def attempts_page(
        self, webhook_id: str, page: PageRequest
    ) -> tuple[list[DeliveryAttempt], str | None]:
        partition = attempts_pk(webhook_id)
        start = pagination.decode_token(
            page.token, page.binding, page.now,
            key_names=frozenset({_PK, _SK}), fixed={_PK: partition},
        )  # fmt: skip
        items, last = self._query_page(
            index=None,
            key_condition="#pk = :pk AND begins_with(#sk, :prefix)",
            names={"#pk": _PK, "#sk": _SK},
            values={":pk": {"S": partition}, ":prefix": {"S": DELIVERY_SK_PREFIX}},
            limit=page.limit,
            start_key=start,
            newest_first=True,
        )
        token = pagination.encode_token(last, page.binding, page.now)
        return [attempt_from_item(item) for item in items], token

    def get_attempt(self, webhook_id: str, delivery_id: str) -> DeliveryAttempt | None:
        item = self._get(attempt_key(webhook_id, delivery_id))
        return None if item is None else attempt_from_item(item)
