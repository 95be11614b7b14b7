"""The soak benchmark's bookkeeping on canned answers: what counts as a lost update, what is
unobservable, and the lag and memory arithmetic (no stack started, no timing asserted)."""

from __future__ import annotations

import json
import os
from typing import Any

from bench.cold_start import beyond_floor
from bench.soak import Attendee, LagRecorder, Meeting, _proc_status, _quarters, compare


def _detail(kind: str, attendee: str, timestamp: int) -> dict[str, Any]:
    return {"eventType": f"chime:{kind}", "meetingId": "m1", "attendeeId": attendee,
            "timestamp": timestamp}  # fmt: skip


class CannedHttp:
    def __init__(self, roster: list[dict[str, Any]], lost: list[dict[str, Any]]) -> None:
        events = [
            _detail("AttendeeJoined", "a1", 1), _detail("AttendeeLeft", "a1", 5),
            _detail("AttendeeJoined", "a2", 2), _detail("AttendeeDropped", "a2", 4),
            _detail("AttendeeJoined", "a3", 3), _detail("AttendeeVideoTileAdded", "a3", 6),
        ]  # fmt: skip
        self.answers: dict[str, Any] = {
            "/_local/events": {"events": [{"detail": d} for d in events]},
            "/_local/chaos": {"lost": lost},
            "/meetings/m1": {"meeting": {"status": "STARTED", "attendees": {"connected": 1}}},
            "/_local/truth/meetings/m1": {"status": "OPEN"},
            "/meetings/m1/attendees?limit=100": {"attendees": roster},
        }

    def ok(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        return self.answers[path]


def _meeting() -> Meeting:
    return Meeting("m1", Attendee("host", "t"))


def _roster(a1: str, a2: str, a3: str) -> list[dict[str, Any]]:
    return [{"attendeeId": a, "presence": p} for a, p in (("a1", a1), ("a2", a2), ("a3", a3))]


def test_every_presence_as_chime_last_said_is_no_loss() -> None:
    check = compare(CannedHttp(_roster("LEFT", "DROPPED", "CONNECTED"), []), [_meeting()])  # type: ignore[arg-type]
    assert check.lost == [] and check.unobservable == 0
    assert check.records == 5  # the status, three presences, the connected count


def test_a_stale_presence_is_a_lost_update() -> None:
    check = compare(CannedHttp(_roster("CONNECTED", "DROPPED", "CONNECTED"), []), [_meeting()])  # type: ignore[arg-type]
    assert check.lost == ["a1: CONNECTED, Chime LEFT"]


def test_a_presence_whose_last_event_chaos_lost_is_unobservable() -> None:
    lost = [_detail("AttendeeLeft", "a1", 5)]
    check = compare(CannedHttp(_roster("CONNECTED", "DROPPED", "CONNECTED"), lost), [_meeting()])  # type: ignore[arg-type]
    assert check.lost == [] and check.unobservable == 1


def test_lag_counts_from_emission_to_the_first_accepted_delivery() -> None:
    recorder = LagRecorder()
    detail = _detail("AttendeeJoined", "a1", 1)
    recorder.deliver([{"detail": detail}])
    record = {"messageId": "x", "body": json.dumps({"detail": detail})}
    failing = recorder.wrap(lambda _: {"batchItemFailures": [{"itemIdentifier": "x"}]})
    failing({"Records": [record]})
    assert recorder.lags_ms() == []  # refused: not handled yet
    recorder.wrap(lambda _: {"batchItemFailures": []})({"Records": [record]})
    assert len(recorder.lags_ms()) == 1 and len(recorder.invocation_ms) == 2


def test_memory_arithmetic() -> None:
    assert _quarters([1, 2, 3, 4, 5, 6, 7, 8]) == ([1, 2], [7, 8])
    assert _quarters([1.0]) == ([1.0], [1.0])
    status = _proc_status(os.getpid())
    assert status["VmHWM"] >= status["VmRSS"] > 0


def test_imports_beyond_the_floor_split_our_packages() -> None:
    def log(*rows: tuple[int, str]) -> str:
        return "\n".join(f"import time: {own:>9} | {own:>10} | {name}" for own, name in rows)

    floor = log((2000, "botocore"), (500, "boto3"))
    handler = log(
        (2000, "botocore"),
        (3000, "pydantic"),
        (1000, "meetings.handlers.api"),
        (1500, "meetings.handlers.api_models"),
        (700, "meetings.domain.records"),
    )
    assert beyond_floor(handler, floor) == [
        ("(total)", 6.2), ("pydantic", 3.0), ("meetings.handlers", 2.5), ("meetings.domain", 0.7)
    ]  # fmt: skip
