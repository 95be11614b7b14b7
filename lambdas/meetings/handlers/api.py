"""The HTTP API's Lambda entry point: Powertools wiring, identity, and the error envelope.

Every route of api-v1.md is here, thin: parse (pydantic, through the resolver's validation),
call one use case of the service, shape the response. Every failure leaves through one of the
exception handlers below as `{"error": {...}}` — never Powertools' 422 shape, never a bare 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings import deployment
from meetings.domain.errors import DomainError, ThrottledError
from meetings.domain.identity import Identity, identity_from_claims
from meetings.domain.validation import CHIME_ID_PATTERN, user_id_problem
from meetings.handlers.api_models import (
    AttendeeEnvelope,
    CapabilitiesBody,
    CreatedMeeting,
    CreateMeetingBody,
    ErrorEnvelope,
    GatewayMessage,
    Health,
    JoinInfo,
    MeetingEnvelope,
    MeetingList,
    ProvisionBody,
    ProvisionResult,
    Roster,
)
from meetings.observability import METRICS_NAMESPACE, SERVICE_NAME, logger, metrics, traced
from meetings.service.meetings import MeetingService, NewMeeting, Outcome, build_meeting_service
from meetings.settings import get_settings

# Join and the database read run side by side; a few threads per container are plenty.
_WORKER_THREADS = 8
_NO_STORE = {"Cache-Control": "no-store"}
# The largest request body accepted (bytes, as received): far above any valid body (a
# provision batch of 100 users with every character escaped is under 200 KB).
MAX_BODY_BYTES = 1024 * 1024
JSON_MEDIA_TYPE = "application/json"

app = APIGatewayHttpResolver(enable_validation=True)


@cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_WORKER_THREADS, thread_name_prefix="meetings-api")


@cache
def meeting_service() -> MeetingService:
    return build_meeting_service(get_settings(), _executor())


@cache
def openapi_document() -> str:
    """Generated from the routes on first request (tens of ms), then served from memory."""
    return app.get_openapi_json_schema(
        title="Chime meetings API",
        version="1",
        description="Create, join and end Amazon Chime SDK meetings (api-v1.md).",
    )


# --- identity, responses ----------------------------------------------------------------------


def _claims() -> dict[str, Any] | None:
    context = app.current_event.raw_event.get("requestContext") or {}
    jwt = (context.get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims")
    return claims if isinstance(claims, dict) else None


def caller() -> Identity:
    return identity_from_claims(_claims(), get_settings().admin_group)


def _request_id() -> str | None:
    context = app.current_event.raw_event.get("requestContext") or {}
    request_id = context.get("requestId")
    return request_id if isinstance(request_id, str) else None


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers=headers or {},
    )


def _outcome(outcome: Outcome, *, carries_token: bool) -> Response[Any]:
    status = HTTPStatus.CREATED if outcome.created else HTTPStatus.OK
    return _json(status, outcome.body, _NO_STORE if carries_token else None)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    retry_after: int | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    error: dict[str, Any] = {"code": code, "message": message, "requestId": _request_id()}
    if details:
        error["details"] = details
    all_headers = dict(headers or {})
    if retry_after is not None:
        all_headers["Retry-After"] = str(retry_after)
    return _json(status, {"error": error}, all_headers)


def _count(name: str, **dimensions: str) -> None:
    if not dimensions:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        return
    with single_metric(
        name=name, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name="service", value=SERVICE_NAME)
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)


# --- errors -------------------------------------------------------------------------------------


def _domain_error(error: DomainError) -> Response[Any]:
    if isinstance(error, ThrottledError):
        _count("Throttles")
    if error.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        logger.warning("upstream failure", extra={"code": error.code, "reason": error.message})
    return error_response(
        error.status,
        error.code,
        error.message,
        retry_after=error.retry_after,
        details=error.details,
    )


def _invalid_request(error: RequestValidationError) -> Response[Any]:
    details = [
        {
            "location": str(problem.get("loc", ("body",))[0]),
            "field": ".".join(str(part) for part in problem.get("loc", ())[1:]),
            "problem": str(problem.get("msg", "invalid")),
        }
        for problem in error.errors()
    ]
    return error_response(400, "VALIDATION_ERROR", "the request is not valid", details=details)


_ROUTE_PATTERNS = [
    (method, re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"))
    for method, template, _ in deployment.API_ROUTES
]


# --- request bodies: size, media type, encoding -----------------------------------------------


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def _body_bytes(event: dict[str, Any]) -> bytes | None:
    """The body as sent; None when it cannot be decoded from base64."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


def is_json_media_type(content_type: str) -> bool:
    """`application/json`, in any case, with or without parameters (`; charset=utf-8`)."""
    return content_type.split(";", 1)[0].strip().lower() == JSON_MEDIA_TYPE


def _body_refusal(event: dict[str, Any]) -> tuple[int, str, str] | None:
    """(status, code, message) for a body this API does not read, else None.

    Runs before routing: Powertools would parse a form body as data and answer other media
    types (or `Application/JSON`) with an error of its own. An empty body is no body, whatever
    its Content-Type says; a body without a Content-Type is read as JSON."""
    body = _body_bytes(event)
    if body is None:
        return 400, "VALIDATION_ERROR", "the body is not valid base64"
    if not body:
        return None
    if len(body) > MAX_BODY_BYTES:
        return 413, "PAYLOAD_TOO_LARGE", f"the body exceeds {MAX_BODY_BYTES} bytes"
    headers = event.get("headers") or {}
    encoding = _header(headers, "content-encoding")
    if encoding is not None and encoding.strip().lower() not in {"", "identity"}:
        return 415, "UNSUPPORTED_MEDIA_TYPE", "content encodings are not supported"
    content_type = _header(headers, "content-type")
    if content_type is not None and not is_json_media_type(content_type):
        return 415, "UNSUPPORTED_MEDIA_TYPE", "the body must be application/json"
    return None


def _routed(event: dict[str, Any]) -> bool:
    context = event.get("requestContext") or {}
    method = str((context.get("http") or {}).get("method", ""))
    path = str(event.get("rawPath", ""))
    return any(method == known and pattern.match(path) for known, pattern in _ROUTE_PATTERNS)


def _screened(event: dict[str, Any]) -> dict[str, Any] | Response[Any]:
    """The event as Powertools should see it, or the refusal of its body (413/415). A JSON
    Content-Type is passed on as `application/json`; an empty body's is dropped. Unknown
    routes are left to the resolver (404/405 come first)."""
    if not _routed(event):
        return event
    refusal = _body_refusal(event)
    if refusal is not None:
        status, code, message = refusal
        request_id = (event.get("requestContext") or {}).get("requestId")
        error = {"code": code, "message": message, "requestId": request_id}
        return _json(status, {"error": error})
    headers = {
        name: value
        for name, value in (event.get("headers") or {}).items()
        if name.lower() != "content-type"
    }
    if event.get("body"):
        headers["content-type"] = JSON_MEDIA_TYPE
    else:
        event = {**event, "body": None, "isBase64Encoded": False}
    return {**event, "headers": headers}


def _no_route(_: NotFoundError) -> Response[Any]:
    path = app.current_event.path
    allowed = sorted({method for method, pattern in _ROUTE_PATTERNS if pattern.match(path)})
    if allowed:
        return error_response(
            405,
            "METHOD_NOT_ALLOWED",
            f"{app.current_event.http_method} is not allowed here",
            headers={"Allow": ", ".join(allowed)},
        )
    return error_response(404, "NOT_FOUND", "no such route")


def _undecodable_body(_: UnicodeDecodeError) -> Response[Any]:
    # Powertools decodes the body as UTF-8 before validating it: bytes that are not UTF-8
    # surface here, not as a RequestValidationError.
    details = [{"location": "body", "field": "", "problem": "not UTF-8 encoded JSON"}]
    return error_response(400, "VALIDATION_ERROR", "the request is not valid", details=details)


def _bug(error: Exception) -> Response[Any]:
    logger.exception("unhandled error", extra={"error_type": type(error).__name__})
    return error_response(500, "INTERNAL", "internal error")


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

# Registered as calls: Powertools' decorator is untyped and would erase these signatures.
app.exception_handler(DomainError)(_domain_error)
app.exception_handler(RequestValidationError)(_invalid_request)
app.exception_handler(NotFoundError)(_no_route)
app.exception_handler(UnicodeDecodeError)(_undecodable_body)
app.exception_handler(Exception)(_bug)


# --- OpenAPI response declarations -----------------------------------------------------------


def _model(description: str, model: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": model}}}


_ERRORS: dict[int, Any] = {
    400: _model("Invalid request (VALIDATION_ERROR)", ErrorEnvelope),
    401: _model("No or bad token: API Gateway's authorizer answers", GatewayMessage),
    403: _model("FORBIDDEN or ATTENDEE_REMOVED", ErrorEnvelope),
    404: _model("MEETING_NOT_FOUND or ATTENDEE_NOT_FOUND", ErrorEnvelope),
    409: _model("MEETING_FULL or CONFLICT (Retry-After)", ErrorEnvelope),
    410: _model("MEETING_ENDED", ErrorEnvelope),
    413: _model(f"PAYLOAD_TOO_LARGE: a body over {MAX_BODY_BYTES} bytes", ErrorEnvelope),
    415: _model(
        "UNSUPPORTED_MEDIA_TYPE: a body whose Content-Type is not application/json, "
        "or with a Content-Encoding",
        ErrorEnvelope,
    ),
    429: _model("THROTTLED or USER_MEETING_LIMIT (Retry-After)", ErrorEnvelope),
    502: _model("UPSTREAM_ERROR", ErrorEnvelope),
    503: _model("UPSTREAM_UNAVAILABLE or ACCOUNT_MEETING_LIMIT (Retry-After)", ErrorEnvelope),
}


def _responses(**success: Any) -> Any:
    return {**{int(status): value for status, value in success.items()}, **_ERRORS}


# Chime's ids are GUIDs: anything else cannot name a meeting or attendee and is a 400.
_CHIME_ID = f"^{CHIME_ID_PATTERN}$"
MeetingIdPath = Annotated[str, Path(pattern=_CHIME_ID)]
AttendeeIdPath = Annotated[str, Path(pattern=_CHIME_ID)]
Limit = Annotated[int, Query(ge=1, le=100)]
NextToken = Annotated[str | None, Query(alias="nextToken", min_length=1, max_length=2048)]

# --- routes -------------------------------------------------------------------------------------


@app.get("/health", responses=_responses(**{"200": _model("Alive", Health)}))
def health() -> Response[Any]:
    return _json(200, {"status": "ok"})


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[Any]:
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document()
    )


@app.post(
    "/meetings",
    summary="Create a meeting (join-or-create by room name)",
    responses=_responses(
        **{
            "201": _model("Created", CreatedMeeting),
            "200": _model("The room's open meeting", CreatedMeeting),
        }
    ),
)
def create_meeting(
    body: CreateMeetingBody | None = None,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=64)
    ] = None,
) -> Response[Any]:
    identity = caller()
    body = body or CreateMeetingBody()
    spec = NewMeeting(
        externalMeetingId=body.externalMeetingId,
        mediaRegion=body.mediaRegion,
        maxAttendees=body.maxAttendees,
        echoReduction=body.features.echoReduction,
        videoMaxResolution=body.features.videoMaxResolution,
        contentMaxResolution=body.features.contentMaxResolution,
        maxDurationSeconds=body.maxDurationSeconds,
        tags=dict(body.tags),
        join=body.join,
    )
    outcome = meeting_service().create_meeting(identity, spec, idempotency_key)
    if outcome.created:
        _count("MeetingsCreated")
    if body.join:
        _count("Joins")
    return _outcome(outcome, carries_token=body.join)


@app.get("/meetings", responses=_responses(**{"200": _model("Meetings", MeetingList)}))
def list_meetings(
    host_user_id: Annotated[
        str | None, Query(alias="hostUserId", min_length=1, max_length=256)
    ] = None,
    status: Annotated[
        Literal["open", "ended", "CREATED", "STARTED", "ENDED"] | None, Query()
    ] = None,
    limit: Limit = 50,
    next_token: NextToken = None,
) -> Response[Any]:
    problem = user_id_problem(host_user_id) if host_user_id is not None else None
    if problem:
        detail = {"loc": ("query", "hostUserId"), "msg": problem, "type": "value_error"}
        raise RequestValidationError([detail])
    body = meeting_service().list_meetings(
        caller(), host_user_id=host_user_id, status=status, limit=limit, next_token=next_token
    )
    return _json(200, body)


@app.get(
    "/meetings/<meetingId>", responses=_responses(**{"200": _model("Meeting", MeetingEnvelope)})
)
def get_meeting(meetingId: MeetingIdPath) -> Response[Any]:  # noqa: N803 - the path's name
    return _json(200, meeting_service().get_meeting(caller(), meetingId))


@app.delete(
    "/meetings/<meetingId>",
    responses=_responses(**{"200": _model("The ended meeting", MeetingEnvelope)}),
)
def end_meeting(meetingId: MeetingIdPath) -> Response[Any]:  # noqa: N803
    body = meeting_service().end_meeting(caller(), meetingId)
    _count("MeetingsEnded", endReason=str(body["meeting"]["endReason"]))
    return _json(200, body)


@app.post(
    "/meetings/<meetingId>/attendees",
    responses=_responses(
        **{"201": _model("Joined", JoinInfo), "200": _model("Joined again", JoinInfo)}
    ),
)
def join_meeting(meetingId: MeetingIdPath) -> Response[Any]:  # noqa: N803
    outcome = meeting_service().join(caller(), meetingId)
    _count("Joins")
    return _outcome(outcome, carries_token=True)


@app.post(
    "/meetings/<meetingId>/attendees/batch",
    responses=_responses(**{"200": _model("Provisioned", ProvisionResult)}),
)
def provision_attendees(meetingId: MeetingIdPath, body: ProvisionBody) -> Response[Any]:  # noqa: N803
    wanted = [
        (entry.userId, entry.capabilities.to_domain() if entry.capabilities else None)
        for entry in body.attendees
    ]
    return _json(200, meeting_service().provision(caller(), meetingId, wanted))


@app.get(
    "/meetings/<meetingId>/attendees",
    responses=_responses(**{"200": _model("Roster in join order", Roster)}),
)
def roster(
    meetingId: MeetingIdPath,  # noqa: N803
    limit: Limit = 50,
    next_token: NextToken = None,
) -> Response[Any]:
    body = meeting_service().roster(caller(), meetingId, limit=limit, next_token=next_token)
    return _json(200, body)


@app.get(
    "/meetings/<meetingId>/attendees/<attendeeId>",
    responses=_responses(**{"200": _model("Attendee", AttendeeEnvelope)}),
)
def get_attendee(meetingId: MeetingIdPath, attendeeId: AttendeeIdPath) -> Response[Any]:  # noqa: N803
    return _json(200, meeting_service().get_attendee(caller(), meetingId, attendeeId))


@app.delete(
    "/meetings/<meetingId>/attendees/<attendeeId>",
    # An empty `content`: without it Powertools documents a JSON body for the 204.
    responses=_responses(**{"204": {"description": "Removed", "content": {}}}),
)
def remove_attendee(meetingId: MeetingIdPath, attendeeId: AttendeeIdPath) -> Response[Any]:  # noqa: N803
    meeting_service().remove_attendee(caller(), meetingId, attendeeId)
    return Response(status_code=204, content_type=None, body="")


@app.put(
    "/meetings/<meetingId>/attendees/<attendeeId>/capabilities",
    responses=_responses(**{"200": _model("Attendee", AttendeeEnvelope)}),
)
def set_capabilities(
    meetingId: MeetingIdPath,  # noqa: N803
    attendeeId: AttendeeIdPath,  # noqa: N803
    body: CapabilitiesBody,
) -> Response[Any]:
    service = meeting_service()
    return _json(200, service.set_capabilities(caller(), meetingId, attendeeId, body.to_domain()))


# --- entry point ------------------------------------------------------------------------------


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    meeting_service().start_invocation(context)
    screened = _screened(event)
    if isinstance(screened, Response):
        return {
            "statusCode": screened.status_code,
            "headers": {"Content-Type": content_types.APPLICATION_JSON, **screened.headers},
            "body": screened.body,
            "isBase64Encoded": False,
        }
    return app.resolve(screened, context)
