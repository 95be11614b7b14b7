"""No JoinToken, JWT or Authorization header in any log line, even at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from meetings.observability import logger

from tests.integration.conftest import ApiAnswer, Caller

Api = Callable[..., ApiAnswer]


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    previous = logger.log_level
    logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield
    logger.setLevel(previous)


@pytest.mark.usefixtures("debug_logging")
def test_secrets_never_reach_the_logs(
    api: Api, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, chime: object
) -> None:
    alice = Caller("alice")
    created = api(
        "POST", "/meetings", caller=alice, body={"join": True}, headers={"Idempotency-Key": "k"}
    )
    meeting_id = created.body["meeting"]["meetingId"]
    replay = api(
        "POST", "/meetings", caller=alice, body={"join": True}, headers={"Idempotency-Key": "k"}
    )
    joined = api("POST", f"/meetings/{meeting_id}/attendees", caller=Caller("bob"))
    failed = api(
        "POST", f"/meetings/{meeting_id}/attendees/batch", caller=alice, body={"attendees": []}
    )
    assert (created.status, replay.status, joined.status, failed.status) == (201, 201, 201, 400)
    tokens = {
        created.body["joinInfo"]["Attendee"]["JoinToken"],
        joined.body["Attendee"]["JoinToken"],
    }
    logged = capsys.readouterr().out + caplog.text
    assert "idempotency key" in logged  # DEBUG lines were captured: the check below means something
    for secret in [*tokens, "header.payload.signature", "Bearer "]:
        assert secret not in logged
