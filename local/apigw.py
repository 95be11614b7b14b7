"""What API Gateway (HTTP API, payload format 2.0) does around a Lambda integration.

Route matching on the deployed route list, the event it builds for the function, the claims
its JWT authorizer passes on, and how it turns the function's answer back into HTTP. Pure
functions: the local gateway's server uses them, and so can tests.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from meetings.deployment import API_ROUTES

_TEXT_TYPES = re.compile(
    r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded)|application/[\w.+-]+\+(json|xml))"
)
# The bodies API Gateway answers with itself, before or instead of the function.
GATEWAY_MESSAGES = {
    401: "Unauthorized",
    404: "Not Found",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    needs_token: bool
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.template}"


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{regex}$")


def compile_route(method: str, template: str, needs_token: bool) -> Route:
    return Route(method, template, needs_token, _compile(template))


ROUTES: tuple[Route, ...] = tuple(
    compile_route(method, template, needs_token) for method, template, needs_token in API_ROUTES
)


def match_route(method: str, path: str, routes: Iterable[Route] = ROUTES) -> RouteMatch | None:
    for route in routes:
        found = route.pattern.match(path)
        if route.method == method and found:
            return RouteMatch(route, dict(found.groupdict()))
    return None


def flatten_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as the JWT authorizer passes them in payload 2.0: every value a string, arrays
    as `[a b]` (so `cognito:groups` arrives as "[admins users]")."""
    flat: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, list):
            flat[name] = "[" + " ".join(str(item) for item in value) + "]"
        elif isinstance(value, bool):
            flat[name] = str(value).lower()
        else:
            flat[name] = str(value)
    return flat


def gateway_response(status: int, extra_headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A response API Gateway itself produces (`{"message": ...}`)."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(extra_headers or {})},
        "body": json.dumps({"message": GATEWAY_MESSAGES.get(status, "Error")}),
    }


def build_event(
    *,
    match: RouteMatch,
    path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    claims: Mapping[str, Any] | None,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
) -> dict[str, Any]:
    """The payload 2.0 event API Gateway sends the function for one request."""
    joined_headers, cookies = _join_headers(headers)
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": joined_headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": joined_headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": match.route.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined_headers.get("user-agent", ""),
            },
            "requestId": request_id or _request_id(),
            "routeKey": match.route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    query = _join_query(raw_query)
    if query:
        event["queryStringParameters"] = query
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if claims is not None:
        event["requestContext"]["authorizer"] = {
            "jwt": {"claims": flatten_claims(claims), "scopes": None}
        }
    if body:
        _attach_body(event, body, joined_headers.get("content-type", ""))
    return event


def _join_headers(headers: Iterable[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    # Header names arrive lower-cased; repeated headers are joined with commas; cookies move
    # to their own list.
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined, cookies


def _join_query(raw_query: str) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _attach_body(event: dict[str, Any], body: bytes, content_type: str) -> None:
    if _TEXT_TYPES.match(content_type.lower()):
        try:
            event["body"] = body.decode("utf-8")
            return
        except UnicodeDecodeError:
            pass
    event["body"] = base64.b64encode(body).decode("ascii")
    event["isBase64Encoded"] = True


def _request_id() -> str:
    # API Gateway's request ids look like "JuA1bh1tIAMEMTA=": base64 of random bytes.
    return base64.b64encode(uuid.uuid4().bytes[:10]).decode("ascii")


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def to_http_response(result: Any) -> HttpResponse:
    """The function's answer as API Gateway turns it into HTTP (payload 2.0 rules: a dict
    with statusCode is a full response, anything else is a 200 JSON body)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(
            200, [("content-type", "application/json")], json.dumps(result).encode()
        )
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(value)) for value in values)
    headers.extend(("set-cookie", cookie) for cookie in result.get("cookies") or [])
    raw_body = result.get("body") or ""
    body = base64.b64decode(raw_body) if result.get("isBase64Encoded") else raw_body.encode()
    return HttpResponse(int(result["statusCode"]), headers, body)
