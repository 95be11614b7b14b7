"""Every route of docs/api.md through the real handler, against moto's DynamoDB and the emulator."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from meetings import deployment, wiring
from meetings.adapters.table.idempotency import IDEMPOTENCY_PARTITION
from meetings.service.creating import IDEMPOTENCY_KEY_PREFIX

from tests.integration.conftest import (
    TABLE_NAME,
    ApiAnswer,
    Caller,
    api_event,
    forget_cached_state,
    lambda_context,
)

Api = Callable[..., ApiAnswer]
ALICE = Caller("alice")
BOB = Caller("bob")
CAROL = Caller("carol")
ADMIN = Caller("root", groups=["users", "admins"])


def create(api: Api, caller: Caller = ALICE, **body: Any) -> ApiAnswer:
    answer = api("POST", "/meetings", caller=caller, body=body)
    assert answer.status in {200, 201}, answer.body
    return answer


def meeting_id_of(answer: ApiAnswer) -> str:
    return str(answer.body["meeting"]["meetingId"])


def assert_no_join_token(body: Any) -> None:
    assert "JoinToken" not in json.dumps(body)


# --- health, OpenAPI, routing ----------------------------------------------------------------


def test_health_needs_no_token(api: Api) -> None:
    answer = api("GET", "/health")
    assert (answer.status, answer.body) == (200, {"status": "ok"})


def test_openapi_lists_every_route(api: Api) -> None:
    first = api("GET", "/openapi.json")
    assert first.status == 200
    document = first.body
    assert document["openapi"].startswith("3.")
    for method, path, _ in deployment.API_ROUTES:
        if path == "/openapi.json":
            continue
        assert method.lower() in document["paths"][path], (method, path)
    create_op = document["paths"]["/meetings"]["post"]
    assert {"201", "200", "400", "429", "503"} <= set(create_op["responses"])
    assert any(p["name"].lower() == "idempotency-key" for p in create_op["parameters"])
    assert api("GET", "/openapi.json").body == document


def test_unknown_routes_and_methods_get_the_envelope(api: Api) -> None:
    missing = api("GET", "/nowhere", caller=ALICE)
    assert (missing.status, missing.error_code) == (404, "NOT_FOUND")
    wrong_method = api("PATCH", "/meetings", caller=ALICE)
    assert (wrong_method.status, wrong_method.headers["allow"]) == (405, "GET, POST")
    assert wrong_method.body["error"]["requestId"]


# --- create ------------------------------------------------------------------------------------


def test_create_generates_a_room_name(api: Api, chime: Any) -> None:
    answer = api("POST", "/meetings", caller=ALICE)
    assert answer.status == 201
    meeting = answer.body["meeting"]
    assert meeting["externalMeetingId"].startswith("auto-")
    assert (meeting["status"], meeting["hostUserId"], meeting["mediaRegion"]) == (
        "CREATED",
        "alice",
        "us-east-1",
    )
    assert meeting["createdAt"].endswith("Z") and len(meeting["createdAt"]) == 24
    assert meeting["meetingId"] in chime.open_meeting_ids()
    assert "cache-control" not in answer.headers


def test_create_with_options(api: Api) -> None:
    body: dict[str, Any] = {
        "mediaRegion": "eu-central-1",
        "maxAttendees": 20,
        "features": {"echoReduction": True, "videoMaxResolution": "FHD"},
        "maxDurationSeconds": 600,
        "tags": {"team": "sales"},
    }
    meeting = api("POST", "/meetings", caller=ALICE, body=body).body["meeting"]
    assert (meeting["mediaRegion"], meeting["maxAttendees"], meeting["maxDurationSeconds"]) == (
        "eu-central-1",
        20,
        600,
    )
    assert meeting["tags"] == {"team": "sales"}


@pytest.mark.parametrize(
    "body",
    [
        {"externalMeetingId": "x"},
        {"externalMeetingId": "aws:room"},
        {"externalMeetingId": "auto-mine"},
        {"mediaRegion": "moon-1"},
        {"maxAttendees": 0},
        {"maxAttendees": 251},
        {"maxAttendees": 30, "features": {"contentMaxResolution": "UHD"}},
        {"features": {"videoMaxResolution": "4K"}},
        {"maxDurationSeconds": 59},
        {"maxDurationSeconds": 86401},
        {"tags": {"aws:x": "y"}},
        # Characters the document's (ECMA) patterns and Chime's refuse, anywhere in the value.
        {"tags": {"\u00e9j": "y"}},
        {"tags": {"team": "caf\u00e9"}},
        {"externalMeetingId": "room\u3000one"},
        {"join": "yes please"},
        {"unexpected": 1},
        [1, 2],
    ],
)
def test_create_rejects_bad_bodies_with_400(api: Api, chime: Any, body: Any) -> None:
    answer = api("POST", "/meetings", caller=ALICE, body=body)
    assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR"), answer.body
    assert answer.body["error"]["details"]
    assert chime.open_meeting_ids() == set()


def test_malformed_json_is_400(api: Api) -> None:
    answer = api("POST", "/meetings", caller=ALICE, raw_body="{nope")
    assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/meetings"),
        # Well-formed ids (stable test ids), so that the body is what is wrong.
        ("PUT", f"/meetings/{uuid.UUID(int=1)}/attendees/{uuid.UUID(int=2)}/capabilities"),
    ],
)
def test_body_that_is_not_utf8_is_400(backend: Any, chime: Any, method: str, path: str) -> None:
    # Found by fuzzing: API Gateway hands binary bodies over base64-encoded, and Powertools'
    # UTF-8 decode of them raised past the validation (a 500).
    from meetings.handlers.api import handler  # noqa: PLC0415 - after the environment is set

    event = api_event(method, path, caller=ALICE, raw_body="")
    event["body"] = base64.b64encode(b'#:\x05A~\xff\xfe{"join": true}').decode()
    event["isBase64Encoded"] = True
    answer = handler(event, lambda_context())
    error = json.loads(answer["body"])["error"]
    assert (answer["statusCode"], error["code"]) == (400, "VALIDATION_ERROR"), error
    assert chime.open_meeting_ids() == set()


def test_room_name_is_join_or_create_case_insensitively(api: Api, chime: Any) -> None:
    first = create(api, externalMeetingId="Room-42")
    again = create(api, BOB, externalMeetingId="room-42")
    assert (first.status, again.status) == (201, 200)
    assert meeting_id_of(again) == meeting_id_of(first)
    assert again.body["meeting"]["hostUserId"] == "alice"
    assert api("DELETE", f"/meetings/{meeting_id_of(first)}", caller=ALICE).status == 200
    # The name's meeting ended: the name gets a new meeting, hosted by whoever asks now.
    fresh = create(api, BOB, externalMeetingId="ROOM-42")
    assert fresh.status == 201
    assert meeting_id_of(fresh) != meeting_id_of(first)
    assert fresh.body["meeting"]["hostUserId"] == "bob"


def test_room_whose_meeting_chime_ended_gets_a_new_meeting(api: Api, chime: Any) -> None:
    first = create(api, externalMeetingId="standup")
    chime.advance(301)  # nobody joined: Chime ends it after 5 minutes
    second = create(api, BOB, externalMeetingId="standup")
    assert second.status == 201
    assert meeting_id_of(second) != meeting_id_of(first)
    old = api("GET", f"/meetings/{meeting_id_of(first)}", caller=ALICE).body["meeting"]
    assert (old["status"], old["endReason"]) == ("ENDED", "unknown")


def test_create_and_join_in_one_call(api: Api, chime: Any) -> None:
    answer = create(api, externalMeetingId="daily", join=True)
    assert answer.status == 201
    assert answer.headers["cache-control"] == "no-store"
    info = answer.body["joinInfo"]
    assert info["Meeting"]["MeetingId"] == meeting_id_of(answer)
    assert info["Attendee"]["ExternalUserId"] == "alice" and info["Attendee"]["JoinToken"]
    roster = api("GET", f"/meetings/{meeting_id_of(answer)}/attendees", caller=ALICE).body
    assert [attendee["userId"] for attendee in roster["attendees"]] == ["alice"]
    # Joining the same room again, by name: the same meeting, the same attendee and token.
    again = create(api, externalMeetingId="DAILY", join=True)
    assert again.status == 200 and again.headers["cache-control"] == "no-store"
    assert again.body["joinInfo"]["Attendee"] == info["Attendee"]


def test_per_user_cap_on_open_meetings(
    api: Api, monkeypatch: pytest.MonkeyPatch, chime: Any
) -> None:
    monkeypatch.setenv("MAX_OPEN_MEETINGS_PER_USER", "2")
    forget_cached_state()
    first = create(api)
    create(api)
    refused = api("POST", "/meetings", caller=ALICE, body={})
    assert (refused.status, refused.error_code) == (429, "USER_MEETING_LIMIT")
    assert len(chime.open_meeting_ids()) == 2
    # Joining an existing room is not creating: allowed over the cap. Ending one frees a slot.
    assert create(api, BOB, externalMeetingId="bobs-room").status == 201
    assert create(api, externalMeetingId="bobs-room").status == 200
    api("DELETE", f"/meetings/{meeting_id_of(first)}", caller=ALICE)
    assert create(api).status == 201


# --- Idempotency-Key ----------------------------------------------------------------------------


def create_with_key(api: Api, key: str, caller: Caller = ALICE, **body: Any) -> ApiAnswer:
    return api("POST", "/meetings", caller=caller, body=body, headers={"Idempotency-Key": key})


def test_retried_create_returns_the_first_response(api: Api, chime: Any) -> None:
    first = create_with_key(api, "key-1", tags={"a": "b"})
    retry = create_with_key(api, "key-1", tags={"a": "b"})
    assert (first.status, retry.status) == (201, 201)
    assert retry.body == first.body
    assert len(chime.open_meeting_ids()) == 1
    other_body = create_with_key(api, "key-1", tags={"a": "c"})
    assert (other_body.status, other_body.error_code) == (409, "CONFLICT")
    # Keys are per caller: bob's key-1 is another meeting.
    bobs = create_with_key(api, "key-1", BOB, tags={"a": "b"})
    assert bobs.status == 201 and meeting_id_of(bobs) != meeting_id_of(first)


def test_replayed_create_and_join_fetches_the_token_again(api: Api, table: Any) -> None:
    first = create_with_key(api, "key-join", join=True)
    retry = create_with_key(api, "key-join", join=True)
    assert retry.status == 201 and retry.headers["cache-control"] == "no-store"
    assert retry.body["joinInfo"]["Attendee"] == first.body["joinInfo"]["Attendee"]
    stored = table.query(
        TableName="meetings-test",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "IDEMPOTENCY#create-meeting"}},
    )["Items"]
    assert len(stored) == 1 and "expiresAt" in stored[0]
    assert "JoinToken" not in json.dumps(stored)


def test_key_in_flight_is_409_with_retry_after(api: Api) -> None:

    creating = wiring.container().creating
    layer = DynamoDBPersistenceLayer(
        table_name="meetings-test",
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=IDEMPOTENCY_PARTITION,
        expiry_attr="expiresAt",
    )
    layer.configure(creating.idempotency_config, "in-flight", key_prefix=IDEMPOTENCY_KEY_PREFIX)
    spec: dict[str, Any] = {
        "externalMeetingId": None,
        "mediaRegion": None,
        "maxAttendees": None,
        "echoReduction": False,
        "videoMaxResolution": "HD",
        "contentMaxResolution": "FHD",
        "maxDurationSeconds": None,
        "tags": {},
        "join": False,
    }
    layer.save_inprogress(
        data={"caller": "alice", "key": "busy", "spec": spec}, remaining_time_in_millis=60_000
    )
    answer = create_with_key(api, "busy")
    assert (answer.status, answer.error_code, answer.headers["retry-after"]) == (
        409,
        "CONFLICT",
        "1",
    )


@pytest.mark.parametrize("key", ["", "k" * 65])
def test_bad_idempotency_keys_are_400(api: Api, key: str) -> None:
    answer = create_with_key(api, key)
    assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR")


# --- join ---------------------------------------------------------------------------------------


def test_join_creates_then_returns_the_same_attendee(api: Api) -> None:
    meeting_id = meeting_id_of(create(api))
    first = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    again = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert (first.status, again.status) == (201, 200)
    assert first.headers["cache-control"] == again.headers["cache-control"] == "no-store"
    assert again.body["Attendee"] == first.body["Attendee"]
    assert first.body["Meeting"]["MeetingId"] == meeting_id
    assert set(first.body) == {"Meeting", "Attendee"}
    meeting = api("GET", f"/meetings/{meeting_id}", caller=ALICE).body["meeting"]
    assert meeting["attendees"]["total"] == 1


def test_join_with_a_user_id_chime_would_refuse(api: Api) -> None:
    meeting_id = meeting_id_of(create(api))
    odd = Caller("Mallory*Example")
    joined = api("POST", f"/meetings/{meeting_id}/attendees", caller=odd)
    assert joined.status == 201
    assert joined.body["Attendee"]["ExternalUserId"].startswith("u#")
    attendee_id = joined.body["Attendee"]["AttendeeId"]
    view = api("GET", f"/meetings/{meeting_id}/attendees/{attendee_id}", caller=odd).body
    assert view["attendee"]["userId"] == "Mallory*Example"


def test_join_unknown_meeting_is_404(api: Api) -> None:
    answer = api("POST", "/meetings/00000000-0000-0000-0000-000000000000/attendees", caller=BOB)
    assert (answer.status, answer.error_code) == (404, "MEETING_NOT_FOUND")


def test_join_a_meeting_chime_ended_marks_it_ended(api: Api, chime: Any) -> None:
    meeting_id = meeting_id_of(create(api))
    chime.advance(301)
    answer = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert (answer.status, answer.error_code) == (410, "MEETING_ENDED")
    meeting = api("GET", f"/meetings/{meeting_id}", caller=ALICE).body["meeting"]
    assert (meeting["status"], meeting["endReason"]) == ("ENDED", "unknown")
    assert meeting["endedAt"] is not None


def test_join_a_full_meeting_is_409(api: Api, chime: Any) -> None:
    meeting_id = meeting_id_of(create(api, maxAttendees=1))
    assert api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB).status == 201
    full = api("POST", f"/meetings/{meeting_id}/attendees", caller=CAROL)
    assert (full.status, full.error_code) == (409, "MEETING_FULL")


def test_join_an_ended_meeting_is_410_and_leaves_no_attendee(api: Api, chime_client: Any) -> None:
    meeting_id = meeting_id_of(create(api))
    api("DELETE", f"/meetings/{meeting_id}", caller=ALICE)
    answer = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert (answer.status, answer.error_code) == (410, "MEETING_ENDED")


# --- provision, roster, attendee ------------------------------------------------------------


def test_provision_then_join_returns_the_provisioned_attendee(api: Api) -> None:
    meeting_id = meeting_id_of(create(api, features={"videoMaxResolution": "None"}))
    answer = api(
        "POST",
        f"/meetings/{meeting_id}/attendees/batch",
        caller=ALICE,
        body={
            "attendees": [
                {"userId": "bob"},
                {
                    "userId": "carol",
                    "capabilities": {"audio": "Send", "video": "None", "content": "None"},
                },
                {"userId": "bob"},
                {
                    "userId": "dave",
                    "capabilities": {"audio": "SendReceive", "video": "Receive", "content": "None"},
                },
            ]
        },
    )
    assert answer.status == 200, answer.body
    assert_no_join_token(answer.body)
    by_user = {attendee["userId"]: attendee for attendee in answer.body["attendees"]}
    assert set(by_user) == {"bob", "carol"}
    assert by_user["carol"]["capabilities"] == {"audio": "Send", "video": "None", "content": "None"}
    assert by_user["bob"]["presence"] == "PROVISIONED"
    assert sorted((error["userId"], error["code"]) for error in answer.body["errors"]) == [
        ("bob", "VALIDATION_ERROR"),
        ("dave", "VALIDATION_ERROR"),
    ]
    joined = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert joined.status == 200
    assert joined.body["Attendee"]["AttendeeId"] == by_user["bob"]["attendeeId"]
    # Provisioning again changes nothing.
    again = api(
        "POST",
        f"/meetings/{meeting_id}/attendees/batch",
        caller=ALICE,
        body={"attendees": [{"userId": "bob"}]},
    )
    assert [attendee["attendeeId"] for attendee in again.body["attendees"]] == [
        by_user["bob"]["attendeeId"]
    ]


def test_provision_refuses_a_capability_combination_chime_never_accepts(api: Api) -> None:
    # Content received without video received holds in no meeting: the whole batch is invalid
    # (unlike a capability the meeting's features exclude, which is that entry's error).
    meeting_id = meeting_id_of(create(api))
    path = f"/meetings/{meeting_id}/attendees/batch"
    entries = [
        {"userId": "bob"},
        {"userId": "carol", "capabilities": {"video": "None", "content": "SendReceive"}},
    ]
    answer = api("POST", path, caller=ALICE, body={"attendees": entries})
    assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR"), answer.body
    roster = api("GET", f"/meetings/{meeting_id}/attendees", caller=ALICE)
    assert roster.body["attendees"] == []


@pytest.mark.parametrize(
    "body", [{"attendees": []}, {"attendees": [{"userId": f"u{n}"} for n in range(101)]}, {}]
)
def test_provision_batch_size_is_checked(api: Api, body: Any) -> None:
    meeting_id = meeting_id_of(create(api))
    answer = api("POST", f"/meetings/{meeting_id}/attendees/batch", caller=ALICE, body=body)
    assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR")


def test_roster_in_join_order_with_pages(api: Api) -> None:
    meeting_id = meeting_id_of(create(api))
    for user in ("bob", "carol", "dave"):
        api("POST", f"/meetings/{meeting_id}/attendees", caller=Caller(user))
    seen: list[str] = []
    token: str | None = None
    for _ in range(5):
        query = {"limit": "2", **({"nextToken": token} if token else {})}
        page = api("GET", f"/meetings/{meeting_id}/attendees", caller=ALICE, query=query)
        assert page.status == 200
        assert_no_join_token(page.body)
        seen += [attendee["userId"] for attendee in page.body["attendees"]]
        token = page.body["nextToken"]
        if token is None:
            break
    assert seen == ["bob", "carol", "dave"]
    first = api("GET", f"/meetings/{meeting_id}/attendees", caller=ALICE, query={"limit": "1"})
    foreign = api(
        "GET",
        f"/meetings/{meeting_id}/attendees",
        caller=BOB,
        query={"nextToken": first.body["nextToken"]},
    )
    assert (foreign.status, foreign.error_code) == (400, "VALIDATION_ERROR")
    forged = api(
        "GET", f"/meetings/{meeting_id}/attendees", caller=ALICE, query={"nextToken": "bm9wZQ"}
    )
    assert (forged.status, forged.error_code) == (400, "VALIDATION_ERROR")


def test_get_attendee(api: Api) -> None:
    meeting_id = meeting_id_of(create(api))
    attendee_id = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB).body["Attendee"][
        "AttendeeId"
    ]
    answer = api("GET", f"/meetings/{meeting_id}/attendees/{attendee_id}", caller=BOB)
    assert answer.status == 200
    attendee = answer.body["attendee"]
    assert (attendee["attendeeId"], attendee["userId"], attendee["presence"]) == (
        attendee_id,
        "bob",
        "PROVISIONED",
    )
    assert_no_join_token(answer.body)
    missing = api("GET", f"/meetings/{meeting_id}/attendees/{uuid.uuid4()}", caller=ALICE)
    assert (missing.status, missing.error_code) == (404, "ATTENDEE_NOT_FOUND")


# --- capabilities -------------------------------------------------------------------------------


def test_capabilities_change(api: Api) -> None:
    meeting_id = meeting_id_of(create(api))
    attendee_id = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB).body["Attendee"][
        "AttendeeId"
    ]
    path = f"/meetings/{meeting_id}/attendees/{attendee_id}/capabilities"
    changed = api(
        "PUT", path, caller=ALICE, body={"audio": "Receive", "video": "None", "content": "None"}
    )
    assert changed.status == 200, changed.body
    assert changed.body["attendee"]["capabilities"] == {
        "audio": "Receive",
        "video": "None",
        "content": "None",
    }
    corner = api(
        "PUT", path, caller=ALICE, body={"audio": "Send", "video": "None", "content": "Receive"}
    )
    assert (corner.status, corner.error_code) == (400, "VALIDATION_ERROR")
    bad_value = api("PUT", path, caller=ALICE, body={"audio": "Loud"})
    assert (bad_value.status, bad_value.error_code) == (400, "VALIDATION_ERROR")


def test_capabilities_respect_the_meetings_features(api: Api) -> None:
    meeting_id = meeting_id_of(create(api, features={"videoMaxResolution": "None"}))
    attendee_id = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB).body["Attendee"][
        "AttendeeId"
    ]
    path = f"/meetings/{meeting_id}/attendees/{attendee_id}/capabilities"
    answer = api(
        "PUT", path, caller=ALICE, body={"audio": "SendReceive", "video": "Send", "content": "None"}
    )
    assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR")


# --- remove ---------------------------------------------------------------------------------------


def test_leaving_for_good_then_joining_again_is_a_new_attendee(api: Api) -> None:
    meeting_id = meeting_id_of(create(api))
    first = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB).body["Attendee"]
    removed = api("DELETE", f"/meetings/{meeting_id}/attendees/{first['AttendeeId']}", caller=BOB)
    assert (removed.status, removed.body) == (204, None)
    view = api("GET", f"/meetings/{meeting_id}/attendees/{first['AttendeeId']}", caller=ALICE)
    assert view.body["attendee"]["presence"] == "REMOVED"
    again = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert again.status == 201
    assert again.body["Attendee"]["AttendeeId"] != first["AttendeeId"]
    # Repeating the removal is harmless.
    repeat = api("DELETE", f"/meetings/{meeting_id}/attendees/{first['AttendeeId']}", caller=BOB)
    assert repeat.status == 204


def test_removed_by_the_host_cannot_rejoin(api: Api, chime_client: Any) -> None:
    meeting_id = meeting_id_of(create(api))
    attendee_id = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB).body["Attendee"][
        "AttendeeId"
    ]
    assert (
        api("DELETE", f"/meetings/{meeting_id}/attendees/{attendee_id}", caller=ALICE).status == 204
    )
    refused = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert (refused.status, refused.error_code) == (403, "ATTENDEE_REMOVED")
    # No ghost seat: the attendee Chime made for the refused join was deleted again.
    in_chime = chime_client.list_attendees(MeetingId=meeting_id)["Attendees"]
    assert in_chime == []
    via_room = api(
        "POST", "/meetings", caller=BOB, body={"join": True, "externalMeetingId": "x-room"}
    )
    assert via_room.status == 201  # a different meeting is fine


# --- end ---------------------------------------------------------------------------------------


def test_host_ends_the_meeting(api: Api, chime: Any) -> None:
    meeting_id = meeting_id_of(create(api, externalMeetingId="town-hall"))
    ended = api("DELETE", f"/meetings/{meeting_id}", caller=ALICE)
    assert ended.status == 200
    meeting = ended.body["meeting"]
    assert (meeting["status"], meeting["endReason"]) == ("ENDED", "host_ended")
    assert meeting_id not in chime.open_meeting_ids()
    assert api("DELETE", f"/meetings/{meeting_id}", caller=ALICE).body == ended.body


def test_ending_a_meeting_chime_already_ended_says_unknown_not_host_ended(
    api: Api, chime_client: Any
) -> None:
    meeting_id = meeting_id_of(create(api))
    chime_client.delete_meeting(MeetingId=meeting_id)
    ended = api("DELETE", f"/meetings/{meeting_id}", caller=ALICE).body["meeting"]
    # Not the host's end; the reason waits for settlement (tests/integration/test_end_reasons.py).
    assert (ended["status"], ended["endReason"]) == ("ENDED", "unknown")


# --- list --------------------------------------------------------------------------------------


def test_list_my_meetings_newest_first_with_pages(api: Api) -> None:
    ids = [meeting_id_of(create(api)) for _ in range(3)]
    create(api, BOB)
    api("DELETE", f"/meetings/{ids[1]}", caller=ALICE)
    first = api("GET", "/meetings", caller=ALICE, query={"limit": "2"})
    assert [m["meetingId"] for m in first.body["meetings"]] == [ids[2], ids[1]]
    second = api(
        "GET", "/meetings", caller=ALICE, query={"limit": "2", "nextToken": first.body["nextToken"]}
    )
    assert [m["meetingId"] for m in second.body["meetings"]] == [ids[0]]
    assert second.body["nextToken"] is None
    open_only = api("GET", "/meetings", caller=ALICE, query={"status": "open"})
    assert [m["meetingId"] for m in open_only.body["meetings"]] == [ids[2], ids[0]]
    ended = api("GET", "/meetings", caller=ALICE, query={"status": "ended"})
    assert [m["meetingId"] for m in ended.body["meetings"]] == [ids[1]]
    other_query = api(
        "GET",
        "/meetings",
        caller=ALICE,
        query={"status": "open", "nextToken": first.body["nextToken"]},
    )
    assert other_query.status == 400


def test_admin_lists_all_open_meetings_and_any_host(api: Api) -> None:
    mine = meeting_id_of(create(api))
    bobs = meeting_id_of(create(api, BOB))
    everyone = api("GET", "/meetings", caller=ADMIN, query={"status": "open"})
    assert {m["meetingId"] for m in everyone.body["meetings"]} == {mine, bobs}
    of_bob = api("GET", "/meetings", caller=ADMIN, query={"hostUserId": "bob"})
    assert [m["meetingId"] for m in of_bob.body["meetings"]] == [bobs]
    refused = api("GET", "/meetings", caller=ALICE, query={"hostUserId": "bob"})
    assert (refused.status, refused.error_code) == (403, "FORBIDDEN")
    own = api("GET", "/meetings", caller=ALICE, query={"status": "open"})
    assert [m["meetingId"] for m in own.body["meetings"]] == [mine]


def test_admin_pages_through_every_shard_and_the_legacy_partition(api: Api, backend: Any) -> None:
    """The open index spread over its shards (and one meeting still under the single `OPEN`
    partition of the layout before them): pages of two give each open meeting once, newest
    first, as one partition did."""
    ids = {meeting_id_of(create(api, Caller(f"host{i}"))) for i in range(7)}
    ended = meeting_id_of(create(api))
    api("DELETE", f"/meetings/{ended}", caller=ALICE)
    legacy = meeting_id_of(create(api, BOB))
    key = {"pk": {"S": f"MEETING#{legacy}"}, "sk": {"S": "MEETING"}}
    backend.update_item(
        TableName=TABLE_NAME,
        Key=key,
        UpdateExpression="SET #open = :legacy, #due = :legacy",
        ExpressionAttributeNames={
            "#open": deployment.OPEN_INDEX_PK,
            "#due": deployment.DUE_INDEX_PK,
        },
        ExpressionAttributeValues={":legacy": {"S": "OPEN"}},
    )
    listed: list[dict[str, Any]] = []
    token = None
    for _ in range(10):
        query = {"status": "open", "limit": "2", **({"nextToken": token} if token else {})}
        page = api("GET", "/meetings", caller=ADMIN, query=query)
        assert page.status == 200, page.body
        listed += page.body["meetings"]
        token = page.body["nextToken"]
        if token is None:
            break
    assert [m["meetingId"] for m in listed] == [
        m["meetingId"]
        for m in sorted(listed, key=lambda m: (m["createdAt"], m["meetingId"]), reverse=True)
    ]
    assert sorted(m["meetingId"] for m in listed) == sorted(ids | {legacy})


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"status": "gone"}]
)
def test_list_rejects_bad_queries(api: Api, query: dict[str, str]) -> None:
    answer = api("GET", "/meetings", caller=ALICE, query=query)
    assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize("name", ["limt", "", "meetingId"])
def test_undeclared_query_parameters_are_400(api: Api, name: str) -> None:
    # Found by fuzzing: `?=null` was ignored. A misspelt parameter would silently fall back
    # to its default, so every route refuses names it does not declare.
    meeting_id = meeting_id_of(create(api))
    for path in ("/meetings", f"/meetings/{meeting_id}", f"/meetings/{meeting_id}/attendees"):
        answer = api("GET", path, caller=ALICE, query={name: "1"})
        assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR"), path
        assert answer.body["error"]["details"] == [
            {"location": "query", "field": name, "problem": "unknown query parameter"}
        ]


@pytest.mark.parametrize(
    ("method", "template", "body"),
    [
        ("GET", "/meetings/{m}", None),
        ("DELETE", "/meetings/{m}", None),
        ("POST", "/meetings/{m}/attendees", None),
        ("POST", "/meetings/{m}/attendees/batch", {"attendees": [{"userId": "carol"}]}),
        ("GET", "/meetings/{m}/attendees", None),
        ("GET", "/meetings/{m}/attendees/{a}", None),
        ("DELETE", "/meetings/{m}/attendees/{a}", None),
        ("PUT", "/meetings/{m}/attendees/{a}/capabilities", {}),
    ],
)
def test_ids_that_are_no_guid_are_400(
    api: Api, chime: Any, method: str, template: str, body: Any
) -> None:
    # Found by fuzzing: the document stated no form for the ids, so any string was "valid".
    meeting_id = meeting_id_of(create(api))
    attendee_id = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB).body["Attendee"][
        "AttendeeId"
    ]
    malformed = [template.format(m="m-1", a=attendee_id)]
    if "{a}" in template:
        malformed.append(template.format(m=meeting_id, a=f"{attendee_id}x"))
    for path in malformed:
        answer = api(method, path, caller=ALICE, body=body)
        assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR"), path
    assert chime.open_meeting_ids() == {meeting_id}
