"""The webhooks resource (admins only): subscriptions, secrets, ping, the delivery log and
redelivery. docs/webhooks.md is the contract."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from meetings import wiring
from meetings.handlers import webhook_views as views
from meetings.handlers.http import Limit, NextToken, caller, json_response, model, responses
from meetings.handlers.webhook_models import (
    CreateWebhookBody,
    DeliveryList,
    QueuedDelivery,
    UpdateWebhookBody,
    WebhookEnvelope,
    WebhookList,
    WebhookWithSecret,
)
from meetings.service.webhooks import NewWebhook, WebhookAdmin, WebhookChange

# Powertools leaves the router constructor untyped.
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]

WebhookIdPath = Annotated[str, Path(pattern=r"^wh_[0-9a-f]{24}$")]
DeliveryIdPath = Annotated[str, Path(pattern=r"^[0-9]{13}-[0-9a-f]{12}$")]
# Secrets in an answer: no cache may keep them.
_NO_STORE = {"Cache-Control": "no-store"}


def _admin() -> WebhookAdmin:
    return wiring.container().webhook_admin


@router.post(
    "/webhooks",
    summary="Register a webhook (its secret is in this answer only)",
    responses=responses(**{"201": model("Created", WebhookWithSecret)}),
)
def create_webhook(body: CreateWebhookBody) -> Response[Any]:
    spec = NewWebhook(url=body.url, event_types=body.eventTypes, description=body.description)
    issued = _admin().create(caller(router.current_event), spec)
    return json_response(201, views.with_secret(issued), _NO_STORE)


@router.get("/webhooks", responses=responses(**{"200": model("Webhooks", WebhookList)}))
def list_webhooks(limit: Limit = 50, next_token: NextToken = None) -> Response[Any]:
    page = _admin().list(caller(router.current_event), limit=limit, next_token=next_token)
    return json_response(200, views.webhook_list(page))


@router.get(
    "/webhooks/<webhookId>", responses=responses(**{"200": model("Webhook", WebhookEnvelope)})
)
def get_webhook(webhookId: WebhookIdPath) -> Response[Any]:  # noqa: N803 - the path's name
    return json_response(200, views.envelope(_admin().get(caller(router.current_event), webhookId)))


@router.patch(
    "/webhooks/<webhookId>", responses=responses(**{"200": model("Webhook", WebhookEnvelope)})
)
def update_webhook(webhookId: WebhookIdPath, body: UpdateWebhookBody) -> Response[Any]:  # noqa: N803
    change = WebhookChange(
        url=body.url,
        event_types=body.eventTypes,
        description=body.description,
        enabled=body.enabled,
    )
    updated = _admin().update(caller(router.current_event), webhookId, change)
    return json_response(200, views.envelope(updated))


@router.delete("/webhooks/<webhookId>", responses=responses(**{"204": {"description": "Deleted"}}))
def delete_webhook(webhookId: WebhookIdPath) -> Response[Any]:  # noqa: N803
    _admin().delete(caller(router.current_event), webhookId)
    return Response(status_code=204, body="")


@router.post(
    "/webhooks/<webhookId>/rotate-secret",
    summary="A new secret; the old one keeps signing alongside for 24 hours",
    responses=responses(**{"200": model("The new secret", WebhookWithSecret)}),
)
def rotate_secret(webhookId: WebhookIdPath) -> Response[Any]:  # noqa: N803
    issued = _admin().rotate_secret(caller(router.current_event), webhookId)
    return json_response(200, views.with_secret(issued), _NO_STORE)


@router.post(
    "/webhooks/<webhookId>/ping",
    responses=responses(**{"202": model("Queued", QueuedDelivery)}),
)
def ping(webhookId: WebhookIdPath) -> Response[Any]:  # noqa: N803
    delivery = _admin().ping(caller(router.current_event), webhookId)
    return json_response(202, views.queued(delivery))


@router.get(
    "/webhooks/<webhookId>/deliveries",
    responses=responses(**{"200": model("Recent attempts, newest first", DeliveryList)}),
)
def list_deliveries(
    webhookId: WebhookIdPath,  # noqa: N803
    limit: Limit = 50,
    next_token: NextToken = None,
) -> Response[Any]:
    page = _admin().deliveries(
        caller(router.current_event), webhookId, limit=limit, next_token=next_token
    )
    return json_response(200, views.delivery_list(page))


@router.post(
    "/webhooks/<webhookId>/deliveries/<deliveryId>/redeliver",
    responses=responses(**{"202": model("Queued", QueuedDelivery)}),
)
def redeliver(webhookId: WebhookIdPath, deliveryId: DeliveryIdPath) -> Response[Any]:  # noqa: N803
    delivery = _admin().redeliver(caller(router.current_event), webhookId, deliveryId)
    return json_response(202, views.queued(delivery))
