"""GET /health: the function answers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from meetings.handlers.api_models import Health
from meetings.handlers.http import json_response, model, responses

# Powertools leaves the router constructor untyped.
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.get("/health", responses=responses(**{"200": model("Alive", Health)}))
def health() -> Response[Any]:
    return json_response(200, {"status": "ok"})
