"""Every log line the functions and the local gateway wrote while this package ran (the
functions log at DEBUG into one file): no JoinToken, no Authorization header, no JWT, no
webhook secret.
This module runs last in the package, so the lines of every test before it are included;
it also drives a full client session itself, so that it holds on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local.stack import LocalStack
from tests.localstack_support import Api, wait_until
from tests.reliability.stack.conftest import SECRETS, LogCollector, leaked_lines


def _webhook_secrets(api: Api, unique: Any) -> list[str]:
    """Register a webhook (its deliveries to the discard port fail and are retried), rotate
    its secret, ping it: the secrets seen, without their prefix."""
    admin = api.token(unique("admin"), groups=["admins"])
    body = {"url": "http://127.0.0.1:9/hook", "eventTypes": ["*"]}
    created = api.request("POST", "/webhooks", token=admin, body=body).json
    webhook = f"/webhooks/{created['webhook']['webhookId']}"
    rotated = api.request("POST", f"{webhook}/rotate-secret", token=admin).json
    api.request("POST", f"{webhook}/ping", token=admin)
    return [secret.removeprefix("whsec_") for secret in (created["secret"], rotated["secret"])]


def _full_session(api: Api, unique: Any) -> list[str]:
    """Create, join, connect media, read, change, remove, fail, end: the join tokens seen."""
    host, guest = api.token(unique("host")), api.token(unique("guest"))
    created = api.request("POST", "/meetings", token=host, body={"join": True})
    meeting_id = created.json["meeting"]["meetingId"]
    joined = api.request("POST", f"/meetings/{meeting_id}/attendees", token=guest).json
    attendee_id = joined["Attendee"]["AttendeeId"]
    api.request("POST", f"/_local/meetings/{meeting_id}/attendees/{attendee_id}/connect",
                body={"audio": True})  # fmt: skip
    api.request("GET", f"/meetings/{meeting_id}/attendees", token=host)
    api.request("PUT", f"/meetings/{meeting_id}/attendees/{attendee_id}/capabilities",
                token=host, body={"audio": "Send", "video": "None", "content": "None"})  # fmt: skip
    api.request("GET", f"/meetings/{meeting_id}", token="not-a-jwt")
    api.request("POST", "/_local/faults", body={"operation": "CreateAttendee",
                                                "error": "ServiceFailureException"})  # fmt: skip
    api.request("POST", f"/meetings/{meeting_id}/attendees", token=api.token(unique("late")))
    api.request("DELETE", f"/meetings/{meeting_id}/attendees/{attendee_id}", token=host)
    api.request("DELETE", f"/meetings/{meeting_id}", token=host)
    return [created.json["joinInfo"]["Attendee"]["JoinToken"], joined["Attendee"]["JoinToken"]]


def test_no_secret_reaches_a_log_line(
    api: Api,
    local_stack: LocalStack,
    unique: Any,
    worker_log: Path,
    parent_log: LogCollector,
) -> None:
    secrets = _full_session(api, unique) + _webhook_secrets(api, unique)
    # The session's events reach the events function a moment later: let its lines land.
    wait_until(lambda: "meetings-local-events" in worker_log.read_text(), timeout=10)
    lines = worker_log.read_text().splitlines() + parent_log.lines
    assert any("meetings-local-api" in line for line in lines), "the functions logged nothing"
    assert leaked_lines(lines, secrets) == []


def test_the_scan_would_see_a_leak() -> None:
    leaked = (
        '{"message":"joined","JoinToken":"abc","auth":"Bearer eyJhbGciOi.eyJzdWIiOi.sig",'
        '"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}'
    )
    assert all(pattern.search(leaked) for pattern in SECRETS if pattern.pattern != "authorization")
