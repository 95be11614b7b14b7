"""Every route x every kind of caller, over HTTP through the local gateway's JWT checks.
Whatever the answer, no route ever hands out another user's JoinToken."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.stack import LocalStack
from tests.localstack_support import Api

CALLERS = [
    "host",
    "admin",
    "attendee",
    "removed",
    "stranger",
    "no_token",
    "expired",
    "wrong_audience",
    "wrong_issuer",
    "bad_signature",
    "alg_none",
]
REJECTED_BY_GATEWAY = {"no_token", "expired", "wrong_audience", "wrong_issuer", "bad_signature",
                       "alg_none"}  # fmt: skip


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forged(token: str, *, alg_none: bool) -> str:
    header, payload, signature = token.split(".")
    if alg_none:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    flipped = "A" if signature[0] != "A" else "B"
    return f"{header}.{payload}.{flipped}{signature[1:]}"


@pytest.fixture(scope="module")
def world(local_stack: LocalStack) -> Iterator[dict[str, Any]]:
    """A meeting with a host, an attendee and a removed attendee; a token for every caller."""
    api = Api(local_stack.api_url)
    tokens = {
        "host": api.token("authz-host"),
        "admin": api.token("authz-admin", groups=["admins"]),
        "attendee": api.token("authz-attendee"),
        "removed": api.token("authz-removed"),
        "stranger": api.token("authz-stranger"),
        "expired": api.token("authz-host", ttlSeconds=-60),
        "wrong_audience": api.token("authz-host", aud="someone-else"),
        "wrong_issuer": api.token("authz-host", iss="https://issuer.example"),
    }
    tokens["bad_signature"] = _forged(tokens["host"], alg_none=False)
    tokens["alg_none"] = _forged(tokens["host"], alg_none=True)
    meeting = api.request("POST", "/meetings", token=tokens["host"], body={})
    meeting_id = meeting.json["meeting"]["meetingId"]
    joins = {
        who: api.request("POST", f"/meetings/{meeting_id}/attendees", token=tokens[who]).json
        for who in ("host", "attendee", "removed")
    }
    removed_id = joins["removed"]["Attendee"]["AttendeeId"]
    removal = api.request(
        "DELETE", f"/meetings/{meeting_id}/attendees/{removed_id}", token=tokens["host"]
    )
    assert removal.status == 204
    yield {
        "tokens": tokens,
        "meeting": meeting_id,
        "attendee": joins["attendee"]["Attendee"]["AttendeeId"],
        "join_tokens": {who: join["Attendee"]["JoinToken"] for who, join in joins.items()},
    }


def _routes(world: dict[str, Any]) -> list[tuple[str, str, Any]]:
    meeting, attendee = world["meeting"], world["attendee"]
    base = f"/meetings/{meeting}"
    capabilities = {"audio": "SendReceive", "video": "None", "content": "None"}
    return [
        ("GET", "/meetings", None),
        ("GET", base, None),
        ("GET", f"{base}/attendees", None),
        ("GET", f"{base}/attendees/{attendee}", None),
        ("POST", f"{base}/attendees/batch", {"attendees": [{"userId": "authz-extra"}]}),
        ("PUT", f"{base}/attendees/{attendee}/capabilities", capabilities),
        ("POST", f"{base}/attendees", None),
        ("POST", "/meetings", {}),
    ]


# What each caller may do on each route (by index in _routes); anything else must be refused.
ALLOWED = {
    "host": {0, 1, 2, 3, 4, 5, 6, 7},
    "admin": {0, 1, 2, 3, 4, 5, 6, 7},
    "attendee": {0, 1, 2, 3, 6, 7},
    "removed": {0, 7},
    "stranger": {0, 6, 7},
}


@pytest.mark.parametrize("who", CALLERS)
def test_every_route_answers_each_caller_as_documented(
    local_stack: LocalStack, world: dict[str, Any], who: str
) -> None:
    api = Api(local_stack.api_url)
    token = None if who == "no_token" else world["tokens"][who]
    foreign = {t for caller, t in world["join_tokens"].items() if caller != _own(who)}
    for index, (method, path, body) in enumerate(_routes(world)):
        answer = api.request(method, path, token=token, body=body)
        assert answer.status < 500, (who, method, path, answer.body)
        assert not any(t.encode() in answer.body for t in foreign), (who, method, path)
        if who in REJECTED_BY_GATEWAY:
            assert answer.status == 401, (who, method, path, answer.status)
        elif index in ALLOWED[who]:
            assert answer.status in (200, 201), (who, method, path, answer.body)
        else:
            assert answer.status in (403, 404), (who, method, path, answer.body)
    if who in ("host", "admin"):
        return  # their DELETE ends the meeting for every later caller: the last test does it
    end = api.request("DELETE", f"/meetings/{world['meeting']}", token=token)
    assert end.status == (401 if who in REJECTED_BY_GATEWAY else 403) or end.status == 404
    assert end.status != 200


@pytest.mark.parametrize("who", ["admin", "host"])
def test_host_and_admin_may_end_it_last(
    local_stack: LocalStack, world: dict[str, Any], who: str
) -> None:
    api = Api(local_stack.api_url)
    end = api.request("DELETE", f"/meetings/{world['meeting']}", token=world["tokens"][who])
    assert end.status == 200, end.body
    assert end.json["meeting"]["status"] == "ENDED"
    assert not any(t.encode() in end.body for t in world["join_tokens"].values())


def _own(who: str) -> str:
    return who if who in ("host", "attendee", "removed") else ""


def test_health_and_openapi_need_no_token(local_stack: LocalStack) -> None:
    api = Api(local_stack.api_url)
    assert api.request("GET", "/health").status == 200
    assert api.request("GET", "/openapi.json").status == 200
