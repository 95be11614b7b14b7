"""Helpers for the emulator's own tests."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any
from urllib.error import HTTPError

import pytest

from local.chime import ChimeEmulator


def create_meeting(client: Any, **overrides: Any) -> dict[str, Any]:
    request = {"MediaRegion": "us-east-1", "ExternalMeetingId": "room-42", **overrides}
    return client.create_meeting(**request)["Meeting"]  # type: ignore[no-any-return]


def add_attendee(client: Any, meeting_id: str, user: str = "bob", **extra: Any) -> dict[str, Any]:
    answer = client.create_attendee(MeetingId=meeting_id, ExternalUserId=user, **extra)
    return answer["Attendee"]  # type: ignore[no-any-return]


def event_types(chime: ChimeEmulator) -> list[str]:
    return [item["detail"]["eventType"].removeprefix("chime:") for item in chime.events]


def unknown_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def meeting(chime_client: Any) -> dict[str, Any]:
    return create_meeting(chime_client)


def raw_call(endpoint_url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """An unsigned HTTP call, for input boto3 refuses to send (it checks minimum lengths)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(endpoint_url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except HTTPError as error:
        return error.code, json.loads(error.read())
