"""The cleanup handler as EventBridge Scheduler invokes it: max duration by the injected clock,
reconciliation after a lost chime:MeetingEnded, and overlapping runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from meetings import deployment

from tests.integration.conftest import TABLE_NAME, Caller, lambda_context
from tests.integration.test_events_lifecycle import (
    SETTLED_LATER_MS,
    apply_events,
    chime_events,
    meeting_view,
    open_meeting,
    run_cleanup,
)

__all__ = ["chime_events"]  # the fixture, shared
Api = Callable[..., Any]
HOST = Caller("alice")


def test_max_duration_ends_the_meeting_in_chime_and_here(
    api: Api, chime: Any, chime_events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, _ = open_meeting(api, maxDurationSeconds=60)
    created_at = int(time.time() * 1000)
    assert run_cleanup(monkeypatch, created_at + 30_000, {})["ended"] == 0
    summary = run_cleanup(monkeypatch, created_at + 61_000, {})
    assert (summary["ended"], summary["complete"]) == (1, True)
    view = meeting_view(api, meeting_id)
    assert (view["status"], view["endReason"]) == ("ENDED", "max_duration")
    assert chime.events[-1]["detail"]["eventType"] == "chime:MeetingEnded"
    # Chime's own MeetingEnded arriving afterwards changes nothing.
    apply_events(chime_events)
    assert meeting_view(api, meeting_id)["endReason"] == "max_duration"


def test_reconcile_all_after_a_lost_meeting_ended(
    api: Api, chime: Any, chime_events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, (bob,) = open_meeting(api, Caller("bob"))
    chime.connect(meeting_id, bob)
    chime.leave(meeting_id, bob)
    chime.advance(301)
    lost = [e for e in chime_events if e["detail"]["eventType"] != "chime:MeetingEnded"]
    apply_events(lost)
    assert meeting_view(api, meeting_id)["status"] == "STARTED"
    # Scheduled runs look only at meetings due; a full reconciliation looks at all of them.
    summary = run_cleanup(monkeypatch, chime.now_ms(), deployment.RECONCILE_ALL_INPUT)
    assert summary["ended"] == 1
    view = meeting_view(api, meeting_id)
    assert (view["status"], view["endReason"]) == ("ENDED", "unknown")  # until settled
    # The next scheduled run after the settle window: the timeline's prediction, dated so.
    settled = run_cleanup(monkeypatch, chime.now_ms() + SETTLED_LATER_MS, {})
    assert settled["settled"] == 1
    view = meeting_view(api, meeting_id)
    assert (view["status"], view["endReason"]) == ("ENDED", "no_audio_5min")


def test_a_meeting_gone_without_a_timeline_has_vanished(
    api: Api, chime: Any, chime_events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, _ = open_meeting(api)
    chime.advance(301)  # no event reaches the backend at all
    noticed_at = int(time.time() * 1000) + 600_000
    summary = run_cleanup(monkeypatch, noticed_at, {})
    assert summary["ended"] == 1
    assert meeting_view(api, meeting_id)["endReason"] == "unknown"
    assert run_cleanup(monkeypatch, noticed_at + SETTLED_LATER_MS, {})["settled"] == 1
    assert meeting_view(api, meeting_id)["endReason"] == "vanished"


def test_open_meetings_are_reconciled_and_rescheduled_once(
    api: Api, chime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_meeting(api)
    open_meeting(api)
    later = int(time.time() * 1000) + 200_000
    first = run_cleanup(monkeypatch, later, {})
    assert (first["reconciled"], first["ended"]) == (2, 0)
    # Their due instant moved on: a second run at the same instant finds nothing due.
    second = run_cleanup(monkeypatch, later, {})
    assert (second["reconciled"], second["skipped"]) == (0, 0)


def test_stops_when_the_invocation_runs_out_of_time(
    api: Api, chime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meetings import wiring  # noqa: PLC0415
    from meetings.handlers import cleanup  # noqa: PLC0415

    open_meeting(api)
    monkeypatch.setattr(wiring.container(), "clock", lambda: int(time.time() * 1000) + 200_000)
    summary = cleanup.handler({}, lambda_context(remaining_millis=5_000))
    assert (summary["reconciled"], summary["complete"]) == (0, False)


def test_of_two_overlapping_runs_one_claims_each_meeting(api: Api, chime: Any) -> None:
    from meetings.adapters.table.cleanup import CleanupTable  # noqa: PLC0415

    from tests.integration.conftest import TABLE_NAME  # noqa: PLC0415

    meeting_id, _ = open_meeting(api)
    queries = CleanupTable(TABLE_NAME)
    (seen,), _ = queries.page(due_by=None, limit=10, start_key=None)
    assert queries.claim(meeting_id, seen.due, "2099-01-01T00:00:00.000Z")
    assert not queries.claim(meeting_id, seen.due, "2099-01-01T00:00:00.000Z")


def test_a_meeting_left_under_the_unsharded_partition_is_still_reconciled(
    api: Api, chime: Any, backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items written before the open indexes were sharded sit under `OPEN` until their meeting
    ends (docs/deploy.md, "Upgrading a table that holds data"): the cleanup reads them too."""
    sharded, _ = open_meeting(api)
    legacy, _ = open_meeting(api)
    backend.update_item(
        TableName=TABLE_NAME,
        Key={"pk": {"S": f"MEETING#{legacy}"}, "sk": {"S": "MEETING"}},
        UpdateExpression="SET #open = :legacy, #due = :legacy",
        ExpressionAttributeNames={
            "#open": deployment.OPEN_INDEX_PK,
            "#due": deployment.DUE_INDEX_PK,
        },
        ExpressionAttributeValues={":legacy": {"S": "OPEN"}},
        ConditionExpression="attribute_exists(pk)",
    )
    later = int(time.time() * 1000) + 200_000
    assert run_cleanup(monkeypatch, later, {})["reconciled"] == 2
    everything = run_cleanup(monkeypatch, later, {"reconcile": "all"})
    assert everything["reconciled"] == 2, (sharded, legacy)
