"""What the gateway answers before any handler code runs: the JWT authorizer, unknown routes,
CORS — with API Gateway's own bodies."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest

UNAUTHORIZED = {"message": "Unauthorized"}


def test_open_routes_need_no_token(api: Any) -> None:
    assert api.request("GET", "/health").json == {"status": "ok"}
    spec = api.request("GET", "/openapi.json")
    assert spec.status == 200 and spec.json["openapi"].startswith("3.")
    assert "/meetings/{meetingId}/attendees" in spec.json["paths"]


@pytest.mark.parametrize(
    "claims",
    [
        {"ttlSeconds": -10},
        {"aud": "someone-else"},
        {"iss": "https://evil.example/issuer"},
    ],
    ids=["expired", "wrong-audience", "wrong-issuer"],
)
def test_rejected_tokens(api: Any, claims: dict[str, Any]) -> None:
    token = api.token("mallory", **claims)
    answer = api.request("GET", "/meetings", token=token)
    assert answer.status == 401 and answer.json == UNAUTHORIZED


def test_missing_forged_and_unsigned_tokens(api: Any) -> None:
    assert api.request("GET", "/meetings").json == UNAUTHORIZED
    good = api.token("mallory")
    header, payload, signature = good.split(".")
    tampered = f"{header}.{payload}.{signature[::-1]}"
    claims = jwt.decode(good, options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    for token in (tampered, unsigned, "not-a-jwt"):
        answer = api.request("GET", "/meetings", token=token)
        assert answer.status == 401 and answer.json == UNAUTHORIZED


def test_an_expired_token_is_401_with_the_reason(api: Any) -> None:
    """The leeway itself (2 s) is pinned in-process: tests/unit/test_local_auth.py."""
    answer = api.request("GET", "/meetings", token=api.token("mallory", ttlSeconds=-60))
    assert answer.status == 401
    assert "the token has expired" in answer.headers["www-authenticate"]


def test_unknown_route_is_the_gateways_404(api: Any) -> None:
    answer = api.request("GET", "/nope", token=api.token("mallory"))
    assert answer.status == 404 and answer.json == {"message": "Not Found"}


def _raw(api: Any, method: str, path: str, token: str | None = None) -> tuple[int, str, Any]:
    """(status, content type, JSON body) over http.client: any method, as a client sends it."""
    url = urlsplit(api.base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        connection.request(method, path, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.getheader("content-type") or "", json.loads(answer.read())
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/meetings", "/health", "/nope"])
def test_unrouted_methods_get_the_gateways_json_404(api: Any, method: str, path: str) -> None:
    # No route has these methods: API Gateway's own answer, never http.server's HTML 501.
    status, content_type, body = _raw(api, method, path, token=api.token("mallory"))
    assert (status, body) == (404, {"message": "Not Found"})
    assert content_type == "application/json"


def test_a_request_refused_before_routing_gets_json_not_html(api: Any) -> None:
    # http.server refuses an oversized header line itself: the answer keeps the JSON shape.
    url = urlsplit(api.base_url)
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=30) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split()[1] == b"431"
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body) == {"message": "Line too long"}


def test_cors_preflight_and_exposed_headers(api: Any) -> None:
    preflight = api.request(
        "OPTIONS",
        "/meetings",
        headers={"origin": "http://app.test", "access-control-request-method": "POST"},
    )
    assert preflight.status == 204
    allowed = preflight.headers["access-control-allow-headers"]
    assert {"authorization", "content-type", "idempotency-key"} <= set(allowed.split(","))
    simple = api.request("GET", "/health", headers={"origin": "http://app.test"})
    assert simple.headers["access-control-allow-origin"] == "*"
    assert "retry-after" in simple.headers["access-control-expose-headers"]
