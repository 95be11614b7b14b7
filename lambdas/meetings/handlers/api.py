"""The HTTP API's Lambda entry point: one resolver, the routers of each resource
(handlers/routes/), the error envelope (handlers/api_errors.py) and the OpenAPI document.

Every route is thin: parse (pydantic, through the resolver's validation), call one use case
that wiring built, render its records (handlers/views.py).

A router is imported and included when a request first needs it, not at import: a cold start
pays only for the routes, models and use cases of its own request (docs/performance.md).
Routers are always included in `ROUTER_ORDER`'s order (a request for one includes those before
it too), so the resolver's routes, and the OpenAPI document built from them, are the same
whatever the requests were.
"""

from __future__ import annotations

import importlib
import threading
from functools import cache
from typing import Any, Final

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings import wiring
from meetings.handlers.api_errors import register_error_handlers
from meetings.handlers.request_screening import screened
from meetings.observability import logger, metrics, traced

app = APIGatewayHttpResolver(enable_validation=True)

# The modules of handlers/routes/, in the order their routes are included.
ROUTER_ORDER: Final = (
    "health",
    "meetings",
    "timeline",
    "attendees",
    "recordings",
    "media_controls",
    "webhooks",
)
# A path's resource (its first segment; under /meetings/{meetingId}, the third) -> its router.
_RESOURCE_ROUTERS: Final = {
    "health": "health",
    "meetings": "meetings",
    "timeline": "timeline",
    "attendees": "attendees",
    "recording": "recordings",
    "recordings": "recordings",
    "transcript": "recordings",
    "transcription": "media_controls",
    "mute-all": "media_controls",
    "webhooks": "webhooks",
}
_included: list[str] = []
_including = threading.Lock()


def router_for(path: str) -> str | None:
    """The router whose routes can match `path`; None when none is known to (every router
    is then included, so that an unknown path is answered exactly as before)."""
    segments = path.strip("/").split("/")
    under_meeting = segments[0] == "meetings" and len(segments) > 2
    return _RESOURCE_ROUTERS.get(segments[2] if under_meeting else segments[0])


def include_routers_for(path: str | None) -> None:
    """Include the router `path` needs, and those before it in ROUTER_ORDER (all for None)."""
    wanted = router_for(path) if path is not None else None
    needed = len(ROUTER_ORDER) if wanted is None else ROUTER_ORDER.index(wanted) + 1
    if len(_included) >= needed:
        return
    with _including:
        for name in ROUTER_ORDER[len(_included) : needed]:
            module = importlib.import_module(f"meetings.handlers.routes.{name}")
            app.include_router(module.router)
            _included.append(name)


@cache
def openapi_document() -> str:
    """Generated from every route on first request (tens of ms), then served from memory."""
    include_routers_for(None)
    return app.get_openapi_json_schema(
        title="Chime meetings API",
        version="1",
        description="Create, join and end Amazon Chime SDK meetings (API v1, docs/api.md).",
    )


def _refuse_unknown_query_parameters(
    resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware
) -> Response[Any]:
    """Powertools ignores query parameters a route does not declare: a misspelt `?limt=5`
    would quietly fall back to the default. Like unknown body fields, they are a 400."""
    declared = {parameter.alias for parameter in resolver.context["_route"].dependant.query_params}
    sent = resolver.current_event.query_string_parameters or {}
    unknown = sorted(set(sent) - declared)
    if unknown:
        problem = {"msg": "unknown query parameter", "type": "extra_forbidden"}
        raise RequestValidationError([{"loc": ("query", name), **problem} for name in unknown])
    return next_middleware(resolver)


app.use(middlewares=[_refuse_unknown_query_parameters])
register_error_handlers(app)


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[Any]:
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document()
    )


def _correlate(event: dict[str, Any]) -> None:
    """The request's id (`requestContext.requestId`, Powertools' API_GATEWAY_HTTP correlation
    path) on every log line. Read directly: Powertools' JMESPath lookup of that one field took
    a tenth of the time the API adds to a request (docs/performance.md)."""
    request_context = event.get("requestContext")
    request_id = request_context.get("requestId") if isinstance(request_context, dict) else None
    logger.set_correlation_id(request_id if isinstance(request_id, str) else None)


@logger.inject_lambda_context
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _correlate(event)
    wiring.container().creating.start_invocation(context)
    refused_or_event = screened(event)
    if isinstance(refused_or_event, Response):
        return {
            "statusCode": refused_or_event.status_code,
            "headers": {"Content-Type": content_types.APPLICATION_JSON, **refused_or_event.headers},
            "body": refused_or_event.body,
            "isBase64Encoded": False,
        }
    include_routers_for(str(refused_or_event.get("rawPath") or "/"))
    return app.resolve(refused_or_event, context)
