"""What every route shares: the caller's identity, JSON responses with the error envelope,
the OpenAPI declarations of the error answers, and the path and query parameter types."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from meetings import wiring
from meetings.domain.identity import Identity, identity_from_claims
from meetings.domain.validation import CHIME_ID_PATTERN
from meetings.handlers.api_models import ErrorEnvelope, GatewayMessage

NO_STORE: Final = {"Cache-Control": "no-store"}
# The largest request body accepted (bytes, as received): far above any valid body (a
# provision batch of 100 users with every character escaped is under 200 KB).
MAX_BODY_BYTES: Final = 1024 * 1024

# Chime's ids are GUIDs: anything else cannot name a meeting or attendee and is a 400.
_CHIME_ID = f"^{CHIME_ID_PATTERN}$"
MeetingIdPath = Annotated[str, Path(pattern=_CHIME_ID)]
RecordingIdPath = Annotated[str, Path(pattern=_CHIME_ID)]
AttendeeIdPath = Annotated[str, Path(pattern=_CHIME_ID)]
Limit = Annotated[int, Query(ge=1, le=100)]
NextToken = Annotated[str | None, Query(alias="nextToken", min_length=1, max_length=2048)]


def _claims(event: BaseProxyEvent) -> dict[str, Any] | None:
    context = event.raw_event.get("requestContext") or {}
    jwt = (context.get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims")
    return claims if isinstance(claims, dict) else None


def caller(event: BaseProxyEvent) -> Identity:
    return identity_from_claims(_claims(event), wiring.container().settings.admin_group)


def request_id_of(raw_event: dict[str, Any]) -> str | None:
    request_id = (raw_event.get("requestContext") or {}).get("requestId")
    return request_id if isinstance(request_id, str) else None


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers=headers or {},
    )


def created_or_ok(created: bool, body: Any, *, carries_token: bool) -> Response[Any]:
    status = HTTPStatus.CREATED if created else HTTPStatus.OK
    return json_response(status, body, NO_STORE if carries_token else None)


def error_response(
    request_id: str | None,
    status: int,
    code: str,
    message: str,
    *,
    retry_after: int | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    error: dict[str, Any] = {"code": code, "message": message, "requestId": request_id}
    if details:
        error["details"] = details
    all_headers = dict(headers or {})
    if retry_after is not None:
        all_headers["Retry-After"] = str(retry_after)
    return json_response(status, {"error": error}, all_headers)


# --- OpenAPI response declarations -----------------------------------------------------------


def model(description: str, model: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": model}}}


_ERRORS: dict[int, Any] = {
    400: model("Invalid request (VALIDATION_ERROR)", ErrorEnvelope),
    401: model("No or bad token: API Gateway's authorizer answers", GatewayMessage),
    403: model("FORBIDDEN or ATTENDEE_REMOVED", ErrorEnvelope),
    404: model(
        "MEETING_NOT_FOUND, ATTENDEE_NOT_FOUND, RECORDING_NOT_FOUND, TRANSCRIPTION_NOT_FOUND "
        "or TRANSCRIPT_NOT_FOUND",
        ErrorEnvelope,
    ),
    409: model("MEETING_FULL or CONFLICT (Retry-After)", ErrorEnvelope),
    410: model("MEETING_ENDED", ErrorEnvelope),
    413: model(f"PAYLOAD_TOO_LARGE: a body over {MAX_BODY_BYTES} bytes", ErrorEnvelope),
    415: model(
        "UNSUPPORTED_MEDIA_TYPE: a body whose Content-Type is not application/json, "
        "or with a Content-Encoding",
        ErrorEnvelope,
    ),
    429: model("THROTTLED or USER_MEETING_LIMIT (Retry-After)", ErrorEnvelope),
    502: model("UPSTREAM_ERROR", ErrorEnvelope),
    503: model("UPSTREAM_UNAVAILABLE or ACCOUNT_MEETING_LIMIT (Retry-After)", ErrorEnvelope),
}


def responses(**success: Any) -> Any:
    """A route's documented answers: its successes (by status) and every error answer."""
    return {**{int(status): value for status, value in success.items()}, **_ERRORS}
