"""The local stack's terminal lines (local/activity.py): one per request, one per batch of
events handled, never a token; and the CLI's switch between them and the full logs."""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import Future
from typing import Any

import pytest

from local import activity, cli
from local.auth import LocalIssuer
from local.gateway import LocalGateway
from local.lambda_runtime import FunctionError

ACTIVITY = "local.activity"


def activity_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == ACTIVITY]


def chime_record(event_type: str, message_id: str) -> dict[str, Any]:
    body = {"detail-type": "Chime Meeting State Change", "detail": {"eventType": event_type}}
    return {"messageId": message_id, "body": json.dumps(body)}


def test_a_request_line_is_method_path_status_time_and_caller() -> None:
    assert activity.request_line("POST", "/meetings", 201, 12.4, "alice") == (
        "POST /meetings 201 12ms alice"
    )
    assert activity.request_line("GET", "/health", 200, 0.6, None) == "GET /health 200 1ms -"


def test_a_chime_batch_line_counts_its_event_types_and_the_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ACTIVITY)
    event = {
        "Records": [
            chime_record("chime:AttendeeJoined", "m-1"),
            chime_record("chime:MeetingStarted", "m-2"),
            chime_record("chime:AttendeeJoined", "m-3"),
        ]
    }
    failures = {"batchItemFailures": [{"itemIdentifier": "m-3"}]}
    invoke = activity.reported("events", lambda _: failures)
    assert invoke(event) == failures
    (line,) = activity_lines(caplog)
    what, _, outcome = line.partition(" → ")
    assert what == "events: 3 Chime events (AttendeeJoined x2, MeetingStarted)"
    assert outcome.startswith("1 of 3 back to the queue ")
    assert outcome.endswith("ms")


def test_a_cleanup_line_says_what_the_run_did(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ACTIVITY)
    busy = {"ended": 1, "settled": 2, "reconciled": 0, "skipped": 0, "complete": False}
    activity.reported("cleanup", lambda _: busy)({})
    activity.reported("cleanup", lambda _: {"ended": 0, "complete": True})({})
    first, second = (line.partition(" → ")[2] for line in activity_lines(caplog))
    assert first.startswith("ended 1, settled 2; more due next run ")
    assert second.startswith("nothing due ")


def test_a_webhook_batch_line_names_the_event_types(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ACTIVITY)
    deliveries = [{"body": json.dumps({"webhookId": "w", "eventType": "meeting.ended"})}] * 2
    activity.reported("webhook_delivery", lambda _: {"batchItemFailures": []})(
        {"Records": deliveries}
    )
    (line,) = activity_lines(caplog)
    assert line.startswith("webhook_delivery: 2 webhook deliveries (meeting.ended x2) → ok ")


def test_a_failed_invocation_is_reported_and_still_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ACTIVITY)

    def fails(_: dict[str, Any]) -> Any:
        raise FunctionError("RuntimeError: the table is gone")

    with pytest.raises(FunctionError):
        activity.reported("events", fails)({"Records": [chime_record("chime:AttendeeLeft", "m")]})
    (line,) = activity_lines(caplog)
    assert "→ failed: RuntimeError: the table is gone " in line


def test_plumbing_functions_are_not_reported() -> None:
    def invoke(event: dict[str, Any]) -> Any:
        return event

    assert activity.reported("publisher", invoke) is invoke


class AnsweringPool:
    """Stands in for the api function's workers: every request answers 200."""

    timeout_seconds = 5.0

    def submit(self, event: dict[str, Any]) -> Future[Any]:
        answered: Future[Any] = Future()
        answered.set_result({"statusCode": 200, "body": "{}"})
        return answered


@pytest.fixture
def gateway() -> Any:
    issuer = LocalIssuer()
    gateway = LocalGateway(
        pool=AnsweringPool(),  # type: ignore[arg-type]
        issuer=issuer,
        control_plane=lambda method, path, body: (200, {}),
        port=0,
    )
    gateway.start()  # stop() waits for the serving thread
    yield gateway, issuer
    gateway.stop()


def test_the_gateway_names_the_caller_and_never_logs_the_token(
    gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server, issuer = gateway
    token = issuer.issue("alice")
    bearer = [("Authorization", f"Bearer {token}")]
    assert server.handle("GET", "/meetings?limit=5", bearer, b"").status == 200
    assert server.handle("GET", "/meetings", [("Authorization", "Bearer nope")], b"").status == 401
    assert server.handle("GET", "/health", [], b"").status == 200
    assert server.handle("POST", "/_local/token", [], b'{"sub":"bob"}').status == 200
    lines = activity_lines(caplog)
    parts = [line.split(" ") for line in lines]
    assert [(p[0], p[1], p[2], p[4]) for p in parts] == [
        ("GET", "/meetings", "200", "alice"),
        ("GET", "/meetings", "401", "-"),
        ("GET", "/health", "200", "-"),
        ("POST", "/_local/token", "200", "-"),
    ]
    assert all(p[3].endswith("ms") and p[3][:-2].isdigit() for p in parts)
    everything = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in everything
    assert "authorization" not in everything.lower()


def test_the_cli_sends_function_logs_to_a_file_unless_verbose() -> None:
    quiet = cli.parse_args([])
    assert quiet.worker_log_path is not None
    assert os.path.isfile(quiet.worker_log_path)
    os.remove(quiet.worker_log_path)
    assert cli.parse_args(["--verbose"]).worker_log_path is None
