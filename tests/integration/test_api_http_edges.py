"""HTTP edges through the handler: media types (415), body size (413), empty bodies, and ids
too long for the table's keys (400, never a 500 and never an orphaned Chime attendee)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from meetings import wiring
from meetings.handlers.http import MAX_BODY_BYTES

from local.chime import ChimeEmulator
from tests.integration.conftest import ApiAnswer, Caller
from tests.integration.test_api_write_races import FakeHttp

HOST = Caller(sub="host-1")
MEETING_ID = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "APPLICATION/JSON; charset=UTF-8",
        " application/json ;x=1",
    ],
)
def test_json_media_types_compare_case_insensitively(
    api: Callable[..., ApiAnswer], content_type: str
) -> None:
    answer = api(
        "POST", "/meetings", caller=HOST, raw_body="{}", headers={"content-type": content_type}
    )
    assert answer.status == 201, answer.body


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
        "application/octet-stream",
        "",
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/meetings", "{}"),
        ("POST", f"/meetings/{MEETING_ID}/attendees/batch", '{"attendees":[{"userId":"bob"}]}'),
        ("PUT", f"/meetings/{MEETING_ID}/attendees/{MEETING_ID}/capabilities", "{}"),
        ("POST", f"/meetings/{MEETING_ID}/attendees", "{}"),
        ("GET", "/meetings", "{}"),
    ],
)
def test_a_body_that_is_not_json_is_415(
    api: Callable[..., ApiAnswer], content_type: str, method: str, path: str, body: str
) -> None:
    answer = api(method, path, caller=HOST, raw_body=body, headers={"content-type": content_type})
    assert (answer.status, answer.error_code) == (415, "UNSUPPORTED_MEDIA_TYPE"), answer.body
    assert answer.body["error"]["requestId"]


def test_a_content_encoding_is_415(api: Callable[..., ApiAnswer]) -> None:
    gzip = {"content-encoding": "gzip"}
    answer = api("POST", "/meetings", caller=HOST, raw_body="{}", headers=gzip)
    assert (answer.status, answer.error_code) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_an_empty_body_is_no_body_whatever_its_content_type(
    api: Callable[..., ApiAnswer],
) -> None:
    """POST /meetings' body is optional: an empty one is `{}` (a client sending a form
    header with nothing in it still creates); a required body stays required (400)."""
    created = api(
        "POST", "/meetings", caller=HOST, raw_body="", headers={"content-type": "text/plain"}
    )
    assert created.status == 201, created.body
    meeting_id = created.body["meeting"]["meetingId"]
    missing = api(
        "POST",
        f"/meetings/{meeting_id}/attendees/batch",
        caller=HOST,
        raw_body="",
        headers={"content-type": "text/plain"},
    )
    assert (missing.status, missing.error_code) == (400, "VALIDATION_ERROR")


def test_a_body_over_the_limit_is_413(api: Callable[..., ApiAnswer]) -> None:
    oversize = json.dumps({"tags": {"t": "x" * MAX_BODY_BYTES}})
    answer = api("POST", "/meetings", caller=HOST, raw_body=oversize)
    assert (answer.status, answer.error_code) == (413, "PAYLOAD_TOO_LARGE")


def test_a_base64_body_is_read_as_sent(api: Callable[..., ApiAnswer]) -> None:
    from meetings.handlers.api import handler  # noqa: PLC0415

    from tests.integration.conftest import api_event, lambda_context  # noqa: PLC0415

    event = api_event("POST", "/meetings", caller=HOST, raw_body="")
    event["body"] = base64.b64encode(b'{"join": true}').decode()
    event["isBase64Encoded"] = True
    event["headers"]["content-type"] = "Application/Json"
    assert handler(event, lambda_context())["statusCode"] == 201
    event["body"] = base64.b64encode(b"x=1").decode()
    event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    assert handler(event, lambda_context())["statusCode"] == 415


def test_unknown_routes_stay_404_and_405_whatever_the_body(
    api: Callable[..., ApiAnswer],
) -> None:
    text = {"content-type": "text/plain"}
    assert api("POST", "/nowhere", caller=HOST, raw_body="x", headers=text).status == 404
    assert api("PATCH", "/meetings", caller=HOST, raw_body="x", headers=text).status == 405


# --- ids too long for a table key ------------------------------------------------------------


def _live_attendees(chime_client: Any, meeting_id: str) -> list[dict[str, Any]]:
    return list(chime_client.list_attendees(MeetingId=meeting_id)["Attendees"])


def _new_meeting(api: Callable[..., ApiAnswer]) -> str:
    created = api("POST", "/meetings", caller=HOST, body={})
    assert created.status == 201, created.body
    return str(created.body["meeting"]["meetingId"])


@pytest.mark.parametrize(
    "user_id",
    ["\u00e9" * 256 + "x", "\U0001f600" * 129, "\u4e2d" * 200, "\ud800bob"],
    ids=["257 chars", "516 bytes", "600 bytes", "lone surrogate"],
)
def test_a_provisioned_user_id_over_the_key_limits_is_400_and_creates_nothing(
    api: Callable[..., ApiAnswer], chime_client: Any, user_id: str
) -> None:
    meeting_id = _new_meeting(api)
    answer = api(
        "POST",
        f"/meetings/{meeting_id}/attendees/batch",
        caller=HOST,
        raw_body=json.dumps({"attendees": [{"userId": user_id}]}),
    )
    assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR"), answer.body
    assert _live_attendees(chime_client, meeting_id) == []


def test_a_user_id_at_the_limits_is_provisioned(
    api: Callable[..., ApiAnswer], chime_client: Any
) -> None:
    meeting_id = _new_meeting(api)
    longest = "\u00e9" * 256  # 256 characters, 512 bytes
    answer = api(
        "POST",
        f"/meetings/{meeting_id}/attendees/batch",
        caller=HOST,
        body={"attendees": [{"userId": longest}]},
    )
    assert answer.status == 200, answer.body
    assert [entry["userId"] for entry in answer.body["attendees"]] == [longest]
    assert len(_live_attendees(chime_client, meeting_id)) == 1


def test_a_token_subject_over_the_key_limits_is_400(
    api: Callable[..., ApiAnswer], chime: ChimeEmulator
) -> None:
    answer = api("POST", "/meetings", caller=Caller(sub="\U0001f600" * 200), body={"join": True})
    assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR")
    assert answer.body["error"]["details"][0]["location"] == "token"
    assert chime.open_meeting_ids() == set()


def test_a_host_user_id_query_over_the_key_limits_is_400(api: Callable[..., ApiAnswer]) -> None:
    admin = Caller(sub="admin", groups=["admins"])
    assert api("GET", "/meetings", caller=admin, query={"hostUserId": "\u4e2d" * 170}).status == 200
    answer = api("GET", "/meetings", caller=admin, query={"hostUserId": "\u4e2d" * 200})
    assert (answer.status, answer.error_code) == (400, "VALIDATION_ERROR")


def test_an_unexpected_write_error_in_provision_undoes_the_chime_attendee(
    api: Callable[..., ApiAnswer], chime_client: Any
) -> None:
    """A write DynamoDB refuses for a reason the code does not expect (here a
    ValidationException) is this user's error in the answer, and its Chime attendee is undone."""
    meeting_id = _new_meeting(api)
    client = wiring.container().meeting_store.client

    def refuse(params: dict[str, Any], **_: Any) -> Any:
        request = json.loads(params["body"])
        if "bob" not in json.dumps(request):
            return None
        error = {"Error": {"Code": "ValidationException", "Message": "key too long"}}

        return FakeHttp(), error

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", refuse)
    answer = api(
        "POST",
        f"/meetings/{meeting_id}/attendees/batch",
        caller=HOST,
        body={"attendees": [{"userId": "bob"}, {"userId": "carol"}]},
    )
    assert answer.status == 200, answer.body
    assert [entry["userId"] for entry in answer.body["attendees"]] == ["carol"]
    assert [(error["userId"], error["code"]) for error in answer.body["errors"]] == [
        ("bob", "INTERNAL")
    ]
    assert [a["ExternalUserId"] for a in _live_attendees(chime_client, meeting_id)] == ["carol"]
