"""The webhooks routes' request and response bodies (docs/webhooks.md, "Routes").

The URL's shape and the SSRF policy are checked by the use case (it must resolve the host);
here: types, lengths, unknown fields. Response models exist for the OpenAPI document;
handlers/webhook_views.py renders the records in exactly these shapes.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import ConfigDict, Field

from meetings.deployment import DOMAIN_EVENT_TYPES
from meetings.domain.url_safety import MAX_URL_LENGTH
from meetings.domain.webhooks import (
    ALL_EVENTS,
    DESCRIPTION_PATTERN,
    MAX_DESCRIPTION_CHARS,
    MAX_EVENT_TYPES,
)
from meetings.handlers.model_base import ApiModel

Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
# The document states the event-type rules of domain/webhooks.checked_event_types (which
# enforces them): known types, or "*" alone.
_EVENT_TYPES_SCHEMA: Final = {
    "anyOf": [
        {"items": {"enum": list(DOMAIN_EVENT_TYPES)}},
        {"maxItems": 1, "items": {"const": ALL_EVENTS}},
    ]
}
EventTypes = Annotated[
    list[str],
    Field(min_length=1, max_length=MAX_EVENT_TYPES + 1, json_schema_extra=_EVENT_TYPES_SCHEMA),
]
Description = Annotated[
    str, Field(max_length=MAX_DESCRIPTION_CHARS, json_schema_extra={"pattern": DESCRIPTION_PATTERN})
]


class CreateWebhookBody(ApiModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    eventTypes: EventTypes  # noqa: N815 - the API's field names
    description: Description = ""


class UpdateWebhookBody(ApiModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    eventTypes: EventTypes | None = None  # noqa: N815
    description: Description | None = None
    enabled: bool | None = None


class WebhookView(ApiModel):
    webhookId: str  # noqa: N815
    url: str
    eventTypes: list[str]  # noqa: N815
    description: str
    enabled: bool
    disabledAt: str | None  # noqa: N815
    disabledReason: str | None  # noqa: N815
    failingSince: str | None  # noqa: N815
    createdAt: str  # noqa: N815
    createdBy: str  # noqa: N815
    updatedAt: str  # noqa: N815
    secretRotatedOutUntil: str | None  # noqa: N815


class WebhookEnvelope(ApiModel):
    webhook: WebhookView


class WebhookWithSecret(ApiModel):
    webhook: WebhookView
    secret: str = Field(description="whsec_<base64>: shown this once, never again")


class WebhookList(ApiModel):
    webhooks: list[WebhookView]
    nextToken: str | None  # noqa: N815


class DeliveryAttemptView(ApiModel):
    deliveryId: str  # noqa: N815
    eventId: str  # noqa: N815
    eventType: str  # noqa: N815
    attempt: int
    attemptedAt: str  # noqa: N815
    delivered: bool
    statusCode: int | None  # noqa: N815
    latencyMs: int | None  # noqa: N815
    error: str | None
    nextRetryAt: str | None  # noqa: N815


class DeliveryList(ApiModel):
    deliveries: list[DeliveryAttemptView]
    nextToken: str | None  # noqa: N815


class QueuedDelivery(ApiModel):
    webhookId: str  # noqa: N815
    eventId: str  # noqa: N815
    eventType: str  # noqa: N815
