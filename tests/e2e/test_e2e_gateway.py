"""What the gateway answers before any handler code runs: the JWT authorizer, unknown routes,
CORS — with API Gateway's own bodies."""

from __future__ import annotations

import time
from typing import Any

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


def test_token_expiry_has_two_seconds_of_leeway(api: Any) -> None:
    token = api.token("mallory", ttlSeconds=-1)
    assert api.request("GET", "/meetings", token=token).status == 200
    time.sleep(2.5)
    assert api.request("GET", "/meetings", token=token).status == 401


def test_unknown_route_is_the_gateways_404(api: Any) -> None:
    answer = api.request("GET", "/nope", token=api.token("mallory"))
    assert answer.status == 404 and answer.json == {"message": "Not Found"}


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
