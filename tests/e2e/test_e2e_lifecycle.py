"""The whole life of a meeting as a client app lives it: over HTTP only, against `make dev`'s
stack (gateway → real api handler → emulator/moto; Chime events → rule → SQS → events handler;
table stream → publisher → bus)."""

from __future__ import annotations

from typing import Any


def _join(api: Any, meeting_id: str, token: str) -> Any:
    return api.request("POST", f"/meetings/{meeting_id}/attendees", token=token)


def _connect(api: Any, meeting_id: str, attendee_id: str, **media: bool) -> None:
    path = f"/_local/meetings/{meeting_id}/attendees/{attendee_id}/connect"
    answer = api.request("POST", path, body=media or {"audio": True})
    assert answer.status == 200, answer.body


def test_create_join_roster_end(api: Any, unique: Any, wait: Any) -> None:
    alice, bob = api.token(unique("alice")), api.token(unique("bob"))
    room = unique("standup")

    created = api.request("POST", "/meetings", token=alice, body={"externalMeetingId": room})
    assert created.status == 201, created.body
    meeting = created.json["meeting"]
    meeting_id = meeting["meetingId"]
    assert meeting["status"] == "CREATED" and meeting["externalMeetingId"] == room

    again = api.request("POST", "/meetings", token=bob, body={"externalMeetingId": room.upper()})
    assert again.status == 200 and again.json["meeting"]["meetingId"] == meeting_id

    first = _join(api, meeting_id, alice)
    assert first.status == 201 and first.headers["cache-control"] == "no-store"
    assert set(first.json) == {"Meeting", "Attendee"}
    assert first.json["Meeting"]["MeetingId"] == meeting_id
    repeat = _join(api, meeting_id, alice)
    assert repeat.status == 200
    assert repeat.json["Attendee"]["AttendeeId"] == first.json["Attendee"]["AttendeeId"]
    assert repeat.json["Attendee"]["JoinToken"] == first.json["Attendee"]["JoinToken"]
    second = _join(api, meeting_id, bob)
    assert second.status == 201

    _connect(api, meeting_id, first.json["Attendee"]["AttendeeId"], audio=True, video=True)
    _connect(api, meeting_id, second.json["Attendee"]["AttendeeId"], audio=True)

    def started() -> Any:
        view = api.request("GET", f"/meetings/{meeting_id}", token=alice).json["meeting"]
        return view if view["attendees"]["connected"] == 2 else None

    view = wait(started)
    assert view and view["status"] == "STARTED" and view["startedAt"]
    roster = api.request("GET", f"/meetings/{meeting_id}/attendees", token=bob)
    assert roster.status == 200
    assert [a["presence"] for a in roster.json["attendees"]] == ["CONNECTED", "CONNECTED"]
    assert roster.json["attendees"][0]["video"] is True
    assert all("JoinToken" not in str(a) for a in roster.json["attendees"])

    ended = api.request("DELETE", f"/meetings/{meeting_id}", token=alice)
    assert ended.status == 200
    assert ended.json["meeting"]["status"] == "ENDED"
    assert ended.json["meeting"]["endReason"] == "host_ended"
    assert _join(api, meeting_id, bob).status == 410

    def published_end() -> Any:
        events = api.request("GET", "/_local/domain-events").json["events"]
        return [
            e
            for e in events
            if e["detail-type"] == "meeting.ended" and e["detail"]["meetingId"] == meeting_id
        ]

    ended_events = wait(published_end)
    assert ended_events and ended_events[0]["detail"]["endReason"] == "host_ended"
    assert ended_events[0]["detail"]["peakConnected"] == 2

    fresh = api.request("POST", "/meetings", token=bob, body={"externalMeetingId": room})
    assert fresh.status == 201 and fresh.json["meeting"]["meetingId"] != meeting_id


def test_host_controls_attendees(api: Any, unique: Any) -> None:
    host, guest = api.token(unique("host")), api.token(unique("guest"))
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]
    attendee_id = _join(api, meeting_id, guest).json["Attendee"]["AttendeeId"]
    path = f"/meetings/{meeting_id}/attendees/{attendee_id}"

    changed = api.request(
        "PUT",
        f"{path}/capabilities",
        token=host,
        body={"audio": "SendReceive", "video": "Receive", "content": "None"},
    )
    assert changed.status == 200, changed.body
    assert changed.json["attendee"]["capabilities"]["video"] == "Receive"
    forbidden = api.request(
        "PUT",
        f"{path}/capabilities",
        token=guest,
        body={"audio": "SendReceive", "video": "SendReceive", "content": "SendReceive"},
    )
    assert forbidden.status == 403

    assert api.request("DELETE", path, token=host).status == 204
    rejoin = _join(api, meeting_id, guest)
    assert rejoin.status == 403 and rejoin.json["error"]["code"] == "ATTENDEE_REMOVED"


def test_create_with_join_and_idempotency_key(api: Any, unique: Any) -> None:
    carol = api.token(unique("carol"))
    key = {"Idempotency-Key": unique("key")}
    body = {"join": True, "tags": {"team": "sales"}}
    first = api.request("POST", "/meetings", token=carol, body=body, headers=key)
    assert first.status == 201, first.body
    assert first.json["joinInfo"]["Attendee"]["JoinToken"]
    replay = api.request("POST", "/meetings", token=carol, body=body, headers=key)
    assert replay.status == 201
    assert replay.json["meeting"]["meetingId"] == first.json["meeting"]["meetingId"]
    other_body = api.request("POST", "/meetings", token=carol, body={"join": False}, headers=key)
    assert other_body.status == 409 and other_body.json["error"]["code"] == "CONFLICT"
    listed = api.request("GET", "/meetings", token=carol)
    assert [m["meetingId"] for m in listed.json["meetings"]] == [first.json["meeting"]["meetingId"]]


def test_bad_input_is_a_clear_400(api: Any, unique: Any) -> None:
    dave = api.token(unique("dave"))
    for body in ({"maxAttendees": 0}, {"externalMeetingId": "aws:x"}, {"mediaRegion": "mars-1"}):
        answer = api.request("POST", "/meetings", token=dave, body=body)
        assert answer.status == 400, (body, answer.body)
        assert answer.json["error"]["code"] == "VALIDATION_ERROR"
    bad_token = api.request("GET", "/meetings?nextToken=forged", token=dave)
    assert bad_token.status == 400
    assert api.request("GET", "/meetings", token=dave).json["meetings"] == []
