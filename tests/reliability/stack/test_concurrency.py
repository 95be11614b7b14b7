"""Races over HTTP against the local stack: retried creates, double-tapped joins, a burst of
joins at a full room, and a room name claimed by many at once. Each must end in exactly the
Chime state one orderly client would have produced (the emulator is the oracle)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local.stack import LocalStack
from tests.localstack_support import Api, Response

# More seats than one roster page (100), more joiners than seats.
SEATS = 110
JOINERS = 140


def _all_at_once(pool: ThreadPoolExecutor, calls: list[Any]) -> list[Response]:
    return list(pool.map(lambda call: call(), calls))


def _chime_attendees(stack: LocalStack, meeting_id: str) -> list[dict[str, Any]]:
    attendees: list[dict[str, Any]] = []
    params: dict[str, Any] = {"MeetingId": meeting_id, "MaxResults": 100}
    while True:
        page = stack.chime.call("ListAttendees", params)
        attendees.extend(page["Attendees"])
        if not page.get("NextToken"):
            return attendees
        params["NextToken"] = page["NextToken"]


def _roster(api: Api, token: str, meeting_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query = f"/meetings/{meeting_id}/attendees?limit=100"
    while True:
        answer = api.request("GET", query, token=token)
        assert answer.status == 200, answer.body
        found.extend(answer.json["attendees"])
        if not answer.json.get("nextToken"):
            return found
        query = f"/meetings/{meeting_id}/attendees?limit=100&nextToken={answer.json['nextToken']}"


def test_concurrent_creates_with_one_idempotency_key_make_one_meeting(
    api: Api, local_stack: LocalStack, pool: ThreadPoolExecutor, unique: Any
) -> None:
    host = api.token(unique("host"))
    before = local_stack.chime.open_meeting_ids()
    headers = {"Idempotency-Key": unique("key")}
    body = {"tags": {"purpose": "retry-storm"}}

    def create() -> Response:
        return api.request("POST", "/meetings", token=host, body=body, headers=headers)

    answers = _all_at_once(pool, [create] * 40)

    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    created = {a.json["meeting"]["meetingId"] for a in answers if a.status == 201}
    assert len(created) == 1, created
    in_flight = [a for a in answers if a.status == 409]
    assert all(a.json["error"]["code"] == "CONFLICT" for a in in_flight)
    assert all(a.headers.get("retry-after") == "1" for a in in_flight)
    # The retry a client makes after its 409 lands on the same meeting.
    retried = create()
    assert retried.status == 201 and retried.json["meeting"]["meetingId"] in created
    assert local_stack.chime.open_meeting_ids() - before == created


def test_concurrent_joins_by_one_user_make_one_attendee(
    api: Api, local_stack: LocalStack, pool: ThreadPoolExecutor, unique: Any
) -> None:
    host, bob = api.token(unique("host")), api.token(unique("bob"))
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]

    def join() -> Response:
        return api.request("POST", f"/meetings/{meeting_id}/attendees", token=bob)

    answers = _all_at_once(pool, [join] * 30)

    assert {a.status for a in answers} <= {200, 201}, Counter(a.status for a in answers)
    attendees = {a.json["Attendee"]["AttendeeId"] for a in answers}
    tokens = {a.json["Attendee"]["JoinToken"] for a in answers}
    assert len(attendees) == 1 and len(tokens) == 1
    assert len(_roster(api, host, meeting_id)) == 1
    assert [a["AttendeeId"] for a in _chime_attendees(local_stack, meeting_id)] == list(attendees)


def test_burst_of_joins_fills_exactly_the_seats(
    api: Api, local_stack: LocalStack, pool: ThreadPoolExecutor, unique: Any
) -> None:
    host = api.token(unique("host"))
    created = api.request("POST", "/meetings", token=host, body={"maxAttendees": SEATS})
    meeting_id = created.json["meeting"]["meetingId"]
    users = [api.token(unique(f"user{index}")) for index in range(JOINERS)]

    def join_as(token: str) -> Any:
        return lambda: api.request("POST", f"/meetings/{meeting_id}/attendees", token=token)

    answers = _all_at_once(pool, [join_as(token) for token in users])

    statuses = Counter(answer.status for answer in answers)
    assert statuses == {201: SEATS, 409: JOINERS - SEATS}, statuses
    refused = {a.json["error"]["code"] for a in answers if a.status == 409}
    assert refused == {"MEETING_FULL"}
    roster = _roster(api, host, meeting_id)
    assert len(roster) == SEATS
    assert len({entry["userId"] for entry in roster}) == SEATS
    assert len(_chime_attendees(local_stack, meeting_id)) == SEATS
    view = api.request("GET", f"/meetings/{meeting_id}", token=host).json["meeting"]
    assert view["attendees"]["total"] == SEATS


def test_concurrent_join_or_create_on_one_room_makes_one_meeting(
    api: Api, local_stack: LocalStack, pool: ThreadPoolExecutor, unique: Any
) -> None:
    room = unique("standup")
    users = [api.token(unique(f"member{index}")) for index in range(20)]
    before = local_stack.chime.open_meeting_ids()

    def create_as(token: str) -> Any:
        return lambda: api.request(
            "POST", "/meetings", token=token, body={"externalMeetingId": room}
        )

    answers = _all_at_once(pool, [create_as(token) for token in users])

    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= {200, 201} and statuses[201] == 1, statuses
    meetings = {answer.json["meeting"]["meetingId"] for answer in answers}
    assert len(meetings) == 1
    assert local_stack.chime.open_meeting_ids() - before == meetings
