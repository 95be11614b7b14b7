"""Figure 3 — round trips: per route, the sequential depth of AWS calls on the request's
critical path (concurrent calls count once) and their total, against the demo backends' join.

The floor is measured, not assumed: `demo_join` issues what the classic demo backends do for a
join — read the meeting by name, CreateMeeting, write it, CreateAttendee, one after the other —
through the same counted clients and stand-ins.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.backend import TABLE_NAME, Backend, in_process_backend
from bench.calls import AwsCall, sequential_depth, summary
from bench.stats import Figure, Sample

# Each call waits this long first (a network's round trip), so that calls started side by
# side are seen overlapping whatever the thread scheduling.
SIMULATED_LATENCY_SECONDS = 0.015
DEPTH_GOAL = 2
# A new attendee is written in a transaction of the user's own items, then counted on the
# meeting item (which also confirms the meeting was still open): one round trip more than a
# transaction on the meeting item, so that concurrent joins never conflict (docs/performance.md).
JOIN_DEPTH_GOAL = 3


def demo_join(backend: Backend, room: str, user: str) -> None:
    """The demo backends' join: four AWS calls, each waiting for the one before."""
    from meetings.adapters import aws_clients  # noqa: PLC0415

    dynamodb, chime = aws_clients.dynamodb_client(), aws_clients.chime_client()
    dynamodb.get_item(TableName=TABLE_NAME, Key={"pk": {"S": f"DEMO#{room}"}, "sk": {"S": "DEMO"}})
    meeting = chime.create_meeting(
        ClientRequestToken=uuid.uuid4().hex, MediaRegion="us-east-1", ExternalMeetingId=room
    )["Meeting"]
    dynamodb.put_item(
        TableName=TABLE_NAME,
        Item={
            "pk": {"S": f"DEMO#{room}"},
            "sk": {"S": "DEMO"},
            "meetingId": {"S": meeting["MeetingId"]},
        },
    )
    chime.create_attendee(MeetingId=meeting["MeetingId"], ExternalUserId=user)


@dataclass
class Scenario:
    name: str
    # Prepares what the request needs (uncounted), returns the request to count.
    prepare: Callable[[Backend, int], Callable[[], Any]]
    goal: int | None = None


def _create(body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    def prepare(backend: Backend, run: int) -> Callable[[], Any]:
        wanted = {**body}
        if "externalMeetingId" in wanted:
            wanted["externalMeetingId"] = f"{wanted['externalMeetingId']}-{run}"
        given = {k: f"{v}-{run}" for k, v in (headers or {}).items()}
        return lambda: _expect(backend.api("POST", "/meetings", body=wanted, headers=given), 201)

    return prepare


def _new_meeting(backend: Backend, host: str = "alice") -> str:
    status, body = backend.api("POST", "/meetings", user=host, body={})
    _expect((status, body), 201)
    return str(body["meeting"]["meetingId"])


def _expect(answer: tuple[int, Any], status: int) -> Any:
    if answer[0] != status:
        raise RuntimeError(f"expected {status}, got {answer[0]}: {answer[1]}")
    return answer[1]


def _join(backend: Backend, run: int) -> Callable[[], Any]:
    meeting_id = _new_meeting(backend)
    return lambda: _expect(
        backend.api("POST", f"/meetings/{meeting_id}/attendees", user=f"bob{run}"), 201
    )


def _join_again(backend: Backend, run: int) -> Callable[[], Any]:
    meeting_id = _new_meeting(backend)
    backend.api("POST", f"/meetings/{meeting_id}/attendees", user=f"bob{run}")
    return lambda: _expect(
        backend.api("POST", f"/meetings/{meeting_id}/attendees", user=f"bob{run}"), 200
    )


def _existing_room(backend: Backend, run: int) -> Callable[[], Any]:
    room = f"standup-{run}"
    backend.api("POST", "/meetings", body={"externalMeetingId": room})
    body = {"externalMeetingId": room}
    return lambda: _expect(backend.api("POST", "/meetings", user="bob", body=body), 200)


def _get(backend: Backend, run: int) -> Callable[[], Any]:
    meeting_id = _new_meeting(backend)
    return lambda: _expect(backend.api("GET", f"/meetings/{meeting_id}"), 200)


def _roster(backend: Backend, run: int) -> Callable[[], Any]:
    meeting_id = _new_meeting(backend)
    backend.api("POST", f"/meetings/{meeting_id}/attendees", user="bob")
    return lambda: _expect(backend.api("GET", f"/meetings/{meeting_id}/attendees"), 200)


def _list(backend: Backend, run: int) -> Callable[[], Any]:
    _new_meeting(backend, host=f"lister{run}")
    return lambda: _expect(backend.api("GET", "/meetings", user=f"lister{run}"), 200)


def _end(backend: Backend, run: int) -> Callable[[], Any]:
    meeting_id = _new_meeting(backend)
    for user in ("bob", "carol"):
        backend.api("POST", f"/meetings/{meeting_id}/attendees", user=user)
    return lambda: _expect(backend.api("DELETE", f"/meetings/{meeting_id}"), 200)


def _remove(backend: Backend, run: int) -> Callable[[], Any]:
    meeting_id = _new_meeting(backend)
    _, joined = backend.api("POST", f"/meetings/{meeting_id}/attendees", user="bob")
    path = f"/meetings/{meeting_id}/attendees/{joined['Attendee']['AttendeeId']}"
    return lambda: _expect(backend.api("DELETE", path), 204)


def _capabilities(backend: Backend, run: int) -> Callable[[], Any]:
    meeting_id = _new_meeting(backend)
    _, joined = backend.api("POST", f"/meetings/{meeting_id}/attendees", user="bob")
    path = f"/meetings/{meeting_id}/attendees/{joined['Attendee']['AttendeeId']}/capabilities"
    body = {"audio": "SendReceive", "video": "Receive", "content": "None"}
    return lambda: _expect(backend.api("PUT", path, body=body), 200)


def _provision(backend: Backend, run: int) -> Callable[[], Any]:
    meeting_id = _new_meeting(backend)
    body = {"attendees": [{"userId": f"user{i}"} for i in range(5)]}
    return lambda: _expect(
        backend.api("POST", f"/meetings/{meeting_id}/attendees/batch", body=body), 200
    )


SCENARIOS = (
    Scenario("create (no key, no room)", _create({}), goal=DEPTH_GOAL),
    Scenario("join (new attendee)", _join, goal=JOIN_DEPTH_GOAL),
    Scenario("join again (same user)", _join_again),
    Scenario("create with Idempotency-Key", _create({}, {"Idempotency-Key": "key"})),
    Scenario("create with room name (new room)", _create({"externalMeetingId": "room"})),
    Scenario("create with room name (open meeting, 200)", _existing_room),
    Scenario("create with join:true", _create({"join": True})),
    Scenario("get meeting", _get),
    Scenario("list meetings", _list),
    Scenario("roster", _roster),
    Scenario("end meeting (2 attendees)", _end),
    Scenario("remove attendee", _remove),
    Scenario("set capabilities", _capabilities),
    Scenario("provision 5 attendees", _provision),
)


def _count(backend: Backend, request: Callable[[], Any]) -> list[AwsCall]:
    with backend.recorder.recording() as recorder:
        request()
    return recorder.calls


def measure(runs: int = 3, scenarios: tuple[Scenario, ...] = SCENARIOS) -> list[Figure]:
    figures = []
    with in_process_backend(SIMULATED_LATENCY_SECONDS) as backend:
        backend.count_clients()
        demo = [
            _count(backend, functools.partial(demo_join, backend, f"demo-{run}", "bob"))
            for run in range(runs)
        ]
        floor = Sample.of([sequential_depth(calls) for calls in demo])
        figures.append(
            Figure(
                "round trip depth, demo backends' join (the floor)",
                floor,
                floor,
                " calls",
                notes={"total": len(demo[0]), "calls": summary(demo[0])},
            )
        )
        for scenario in scenarios:
            observed = []
            for run in range(runs):
                backend.recorder.latency_seconds = 0.0  # preparation is not measured
                request = scenario.prepare(backend, run)
                backend.recorder.latency_seconds = SIMULATED_LATENCY_SECONDS
                observed.append(_count(backend, request))
            depth = Sample.of([sequential_depth(calls) for calls in observed])
            total = Sample.of([len(calls) for calls in observed])
            figures.append(
                Figure(
                    f"round trip depth, {scenario.name}",
                    depth,
                    floor,
                    " calls",
                    goal="" if scenario.goal is None else f"depth <= {scenario.goal}",
                    met=None if scenario.goal is None else depth.median <= scenario.goal,
                    notes={"total": total.median, "calls": summary(observed[-1])},
                )
            )
    return figures
