"""The HTTP API's Lambda entry point: one resolver, the routers of each resource
(handlers/routes/), the error envelope (handlers/api_errors.py) and the OpenAPI document.

Every route is thin: parse (pydantic, through the resolver's validation), call one use case
that wiring built, render its records (handlers/views.py).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings import wiring
from meetings.handlers.api_errors import register_error_handlers
from meetings.handlers.request_screening import screened
from meetings.handlers.routes import (
    attendees,
    health,
    media_controls,
    meetings,
    recordings,
    webhooks,
)
from meetings.observability import logger, metrics, traced

app = APIGatewayHttpResolver(enable_validation=True)


@cache
def openapi_document() -> str:
    """Generated from the routes on first request (tens of ms), then served from memory."""
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
app.include_router(health.router)


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[Any]:
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document()
    )


app.include_router(meetings.router)
app.include_router(attendees.router)
app.include_router(recordings.router)
app.include_router(media_controls.router)
app.include_router(webhooks.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.container().creating.start_invocation(context)
    refused_or_event = screened(event)
    if isinstance(refused_or_event, Response):
        return {
            "statusCode": refused_or_event.status_code,
            "headers": {"Content-Type": content_types.APPLICATION_JSON, **refused_or_event.headers},
            "body": refused_or_event.body,
            "isBase64Encoded": False,
        }
    return app.resolve(refused_or_event, context)
