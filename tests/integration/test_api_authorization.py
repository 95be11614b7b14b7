"""The authorization matrix: every route x {host, admin, attendee, removed attendee, stranger,
no claims}, each case on a fresh table and emulator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.conftest import ApiAnswer, Caller

Api = Callable[..., ApiAnswer]

ROLES: dict[str, Caller | None] = {
    "host": Caller("alice"),
    # The admin's groups arrive as a real list here, as "[...]" for everyone else.
    "admin": Caller("root", groups=["admins"], groups_as_string=False),
    "attendee": Caller("bob", groups=["users"]),
    "removed": Caller("carol"),
    "stranger": Caller("eve"),
    "no claims": None,
}


@dataclass(frozen=True)
class Scene:
    meeting_id: str
    bob_attendee_id: str


def set_scene(api: Api) -> Scene:
    """alice hosts; bob joined; carol joined and was removed by alice."""
    host = ROLES["host"]
    meeting_id = api("POST", "/meetings", caller=host, body={}).body["meeting"]["meetingId"]
    bob = api("POST", f"/meetings/{meeting_id}/attendees", caller=ROLES["attendee"]).body
    carol = api("POST", f"/meetings/{meeting_id}/attendees", caller=ROLES["removed"]).body
    removed = api(
        "DELETE", f"/meetings/{meeting_id}/attendees/{carol['Attendee']['AttendeeId']}", caller=host
    )
    assert removed.status == 204
    return Scene(meeting_id, bob["Attendee"]["AttendeeId"])


def request_for(route: str, scene: Scene) -> tuple[str, str, Any]:
    meeting = f"/meetings/{scene.meeting_id}"
    bob = f"{meeting}/attendees/{scene.bob_attendee_id}"
    return {
        "health": ("GET", "/health", None),
        "openapi": ("GET", "/openapi.json", None),
        "create": ("POST", "/meetings", {}),
        "list": ("GET", "/meetings", None),
        "get": ("GET", meeting, None),
        "end": ("DELETE", meeting, None),
        "timeline": ("GET", f"{meeting}/timeline", None),
        "join": ("POST", f"{meeting}/attendees", None),
        "provision": ("POST", f"{meeting}/attendees/batch", {"attendees": [{"userId": "zed"}]}),
        "roster": ("GET", f"{meeting}/attendees", None),
        "attendee": ("GET", bob, None),
        "remove": ("DELETE", bob, None),
        "capabilities": ("PUT", f"{bob}/capabilities", {"audio": "Receive"}),
    }[route]


# route: statuses for host, admin, attendee, removed, stranger, no claims
EXPECTED: dict[str, tuple[int, int, int, int, int, int]] = {
    "health": (200, 200, 200, 200, 200, 200),
    "openapi": (200, 200, 200, 200, 200, 200),
    "create": (201, 201, 201, 201, 201, 401),
    "list": (200, 200, 200, 200, 200, 401),
    "get": (200, 200, 200, 404, 404, 401),
    "end": (200, 200, 403, 404, 404, 401),
    "timeline": (200, 200, 403, 404, 404, 401),
    "join": (201, 201, 200, 403, 201, 401),
    "provision": (200, 200, 403, 404, 404, 401),
    "roster": (200, 200, 200, 404, 404, 401),
    "attendee": (200, 200, 200, 404, 404, 401),
    "remove": (204, 204, 204, 404, 404, 401),
    "capabilities": (200, 200, 403, 404, 404, 401),
}
CASES = [
    pytest.param(route, role, statuses[index], id=f"{route}-{role}")
    for route, statuses in EXPECTED.items()
    for index, role in enumerate(ROLES)
]


@pytest.mark.parametrize(("route", "role", "expected"), CASES)
def test_authorization_matrix(api: Api, route: str, role: str, expected: int) -> None:
    scene = set_scene(api)
    method, path, body = request_for(route, scene)
    answer = api(method, path, caller=ROLES[role], body=body)
    assert answer.status == expected, answer.body
    if expected >= 400:
        assert (
            answer.body["error"]["code"]
            in {
                401: {"UNAUTHORIZED"},
                403: {"FORBIDDEN", "ATTENDEE_REMOVED"},
                404: {"MEETING_NOT_FOUND", "ATTENDEE_NOT_FOUND"},
            }[expected]
        )
    if route == "join" and role == "removed":
        assert answer.body["error"]["code"] == "ATTENDEE_REMOVED"


def test_refused_requests_change_nothing(api: Api, chime: Any) -> None:
    scene = set_scene(api)
    stranger = ROLES["stranger"]
    api("DELETE", f"/meetings/{scene.meeting_id}", caller=stranger)
    api("DELETE", f"/meetings/{scene.meeting_id}", caller=ROLES["attendee"])
    api(
        "DELETE",
        f"/meetings/{scene.meeting_id}/attendees/{scene.bob_attendee_id}",
        caller=stranger,
    )
    meeting = api("GET", f"/meetings/{scene.meeting_id}", caller=ROLES["host"]).body["meeting"]
    assert meeting["status"] == "CREATED"
    assert scene.meeting_id in chime.open_meeting_ids()
    bob = api(
        "GET",
        f"/meetings/{scene.meeting_id}/attendees/{scene.bob_attendee_id}",
        caller=ROLES["host"],
    ).body["attendee"]
    assert bob["presence"] == "PROVISIONED"
