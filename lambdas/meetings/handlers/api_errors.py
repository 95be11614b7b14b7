"""Every failure of the HTTP API as the `{"error": {...}}` envelope: the resolver's exception
handlers, in one place — never Powertools' 422 shape, never a bare 500."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from meetings.domain.errors import DomainError, ThrottledError
from meetings.handlers.http import error_response, request_id_of
from meetings.handlers.request_screening import ROUTE_PATTERNS
from meetings.observability import count, logger


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Answer every exception a route raises on `app` with the error envelope."""

    def request_id() -> str | None:
        return request_id_of(app.current_event.raw_event)

    def domain_error(error: DomainError) -> Response[Any]:
        if isinstance(error, ThrottledError):
            count("Throttles")
        if error.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.warning("upstream failure", extra={"code": error.code, "reason": error.message})
        return error_response(
            request_id(),
            error.status,
            error.code,
            error.message,
            retry_after=error.retry_after,
            details=error.details,
        )

    def invalid_request(error: RequestValidationError) -> Response[Any]:
        details = [
            {
                "location": str(problem.get("loc", ("body",))[0]),
                "field": ".".join(str(part) for part in problem.get("loc", ())[1:]),
                "problem": str(problem.get("msg", "invalid")),
            }
            for problem in error.errors()
        ]
        return error_response(
            request_id(), 400, "VALIDATION_ERROR", "the request is not valid", details=details
        )

    def no_route(_: NotFoundError) -> Response[Any]:
        path = app.current_event.path
        allowed = sorted({method for method, pattern in ROUTE_PATTERNS if pattern.match(path)})
        if allowed:
            return error_response(
                request_id(),
                405,
                "METHOD_NOT_ALLOWED",
                f"{app.current_event.http_method} is not allowed here",
                headers={"Allow": ", ".join(allowed)},
            )
        return error_response(request_id(), 404, "NOT_FOUND", "no such route")

    def undecodable_body(_: UnicodeDecodeError) -> Response[Any]:
        # Powertools decodes the body as UTF-8 before validating it: bytes that are not UTF-8
        # surface here, not as a RequestValidationError.
        details = [{"location": "body", "field": "", "problem": "not UTF-8 encoded JSON"}]
        return error_response(
            request_id(), 400, "VALIDATION_ERROR", "the request is not valid", details=details
        )

    def bug(error: Exception) -> Response[Any]:
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return error_response(request_id(), 500, "INTERNAL", "internal error")

    # Registered as calls: Powertools' decorator is untyped and would erase these signatures.
    app.exception_handler(DomainError)(domain_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(NotFoundError)(no_route)
    app.exception_handler(UnicodeDecodeError)(undecodable_body)
    app.exception_handler(Exception)(bug)
