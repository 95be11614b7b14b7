"""Request bodies this API does not read, refused before routing: too large (413), another
media type or a Content-Encoding (415), base64 that does not decode (400)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Final

from aws_lambda_powertools.event_handler import Response

from meetings import deployment
from meetings.handlers.http import MAX_BODY_BYTES, json_response

JSON_MEDIA_TYPE: Final = "application/json"

ROUTE_PATTERNS: Final = [
    (method, re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"))
    for method, template, _ in deployment.API_ROUTES
]


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
    return any(method == known and pattern.match(path) for known, pattern in ROUTE_PATTERNS)


def screened(event: dict[str, Any]) -> dict[str, Any] | Response[Any]:
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
        return json_response(status, {"error": error})
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
