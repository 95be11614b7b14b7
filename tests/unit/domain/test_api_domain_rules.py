"""Pure request-path rules: validation, identity, authorization, pagination tokens, views."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from meetings.domain import authorization, pagination
from meetings.domain.errors import (
    AttendeeNotFoundError,
    AttendeeRemovedError,
    ForbiddenError,
    InvalidRequestError,
    MeetingNotFoundError,
    UnauthorizedError,
)
from meetings.domain.identity import (
    DERIVED_USER_ID_PREFIX,
    Identity,
    external_user_id_for,
    identity_from_claims,
    parse_groups,
)
from meetings.domain.instants import rfc3339
from meetings.domain.records import (
    AttendeeRecord,
    Capabilities,
    Capability,
    MeetingRecord,
    UserPointerRecord,
)
from meetings.domain.validation import (
    attendee_limit,
    capabilities_problem,
    chime_meeting_features,
    is_valid_chime_external_id,
    media_region_problem,
    request_token_for_key,
    request_token_for_room,
    room_name_problem,
    tags_problem,
)
from meetings.handlers.views import meeting_view

MEETING = MeetingRecord(
    meetingId="m-1",
    externalMeetingId="room-1",
    mediaRegion="us-east-1",
    hostUserId="alice",
    createdAt=0,
)
HOST = Identity("alice", frozenset(), is_admin=False)
ADMIN = Identity("root", frozenset({"admins"}), is_admin=True)
BOB = Identity("bob", frozenset(), is_admin=False)
STRANGER = Identity("eve", frozenset(), is_admin=False)
BOB_POINTER = UserPointerRecord(
    meetingId="m-1", userId="bob", attendeeId="a-bob", externalUserId="bob"
)
BOB_BARRED = UserPointerRecord(
    meetingId="m-1", userId="bob", attendeeId="a-bob", externalUserId="bob", barred=True
)
BOB_ATTENDEE = AttendeeRecord(
    attendeeId="a-bob", meetingId="m-1", userId="bob", externalUserId="bob", addedAt=1
)


# --- room names, regions, tags, features ------------------------------------------------------


@pytest.mark.parametrize("name", ["room-42", "Ab", "Sales: Q4 (EMEA) #1", "café", "x" * 64])
def test_room_names_chime_accepts(name: str) -> None:
    assert room_name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "x" * 65,
        "aws:room",
        "AWS:room",
        "auto-123",
        "Auto-123",
        "emoji-😀",
        "tab\x00null",
        "a*b",
    ],
)
def test_room_names_rejected(name: str) -> None:
    assert room_name_problem(name) is not None


def test_media_regions_are_chimes() -> None:
    assert media_region_problem("eu-central-1") is None
    assert media_region_problem("mars-north-1") is not None


def test_tags() -> None:
    assert tags_problem({"team": "sales"}) is None
    assert tags_problem({f"k{n}": "v" for n in range(51)}) is not None
    assert tags_problem({"aws:owner": "x"}) is not None
    assert tags_problem({"bad key!": "x"}) is not None
    assert tags_problem({"team\n": "x"}) is not None  # `$` alone would let a newline end it
    assert tags_problem({"team": "x" * 257}) is not None


def test_high_resolution_caps_attendees_at_25() -> None:
    assert attendee_limit("HD", "FHD") == 250
    assert attendee_limit("FHD", "FHD") == 25
    assert attendee_limit("HD", "UHD") == 25


def test_chime_meeting_features_shape() -> None:
    features = chime_meeting_features(
        echo_reduction=True,
        video_max_resolution="None",
        content_max_resolution="FHD",
        max_attendees=9,
    )
    assert features == {
        "Audio": {"EchoReduction": "AVAILABLE"},
        "Video": {"MaxResolution": "None"},
        "Content": {"MaxResolution": "FHD"},
        "Attendee": {"MaxCount": 9},
    }


def caps(audio: str, video: str, content: str) -> Capabilities:
    return Capabilities(Capability(audio), Capability(video), Capability(content))


def test_capability_corner_cases() -> None:
    hd = chime_meeting_features(
        echo_reduction=False,
        video_max_resolution="HD",
        content_max_resolution="FHD",
        max_attendees=5,
    )
    no_video = {**hd, "Video": {"MaxResolution": "None"}}
    no_content = {**hd, "Content": {"MaxResolution": "None"}}
    assert capabilities_problem(caps("SendReceive", "SendReceive", "SendReceive"), hd) is None
    assert capabilities_problem(caps("Send", "None", "Send"), hd) is None
    assert capabilities_problem(caps("SendReceive", "None", "Receive"), hd) is not None
    assert capabilities_problem(caps("SendReceive", "Send", "SendReceive"), hd) is not None
    assert capabilities_problem(caps("SendReceive", "Receive", "None"), no_video) is not None
    assert capabilities_problem(caps("SendReceive", "None", "None"), no_video) is None
    assert capabilities_problem(caps("SendReceive", "SendReceive", "Send"), no_content) is not None


def test_request_tokens_fit_chime_and_separate_inputs() -> None:
    tokens = {
        request_token_for_key("alice", "k1"),
        request_token_for_key("alice", "k2"),
        request_token_for_key("bob", "k1"),
        request_token_for_room("Room", 1, "{}"),
        request_token_for_room("Room", 2, "{}"),
        request_token_for_room("Room", 1, '{"join": true}'),
    }
    assert len(tokens) == 6
    assert request_token_for_room("ROOM", 1, "{}") == request_token_for_room("room", 1, "{}")
    assert request_token_for_key("a", "bc") != request_token_for_key("ab", "c")
    for token in tokens:
        assert 2 <= len(token) <= 64
        assert all(char.isalnum() or char in "-_" for char in token)


# --- identity ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[admins users]", {"admins", "users"}),
        ("[admins]", {"admins"}),
        ("admins", {"admins"}),
        ('["admins","users"]', {"admins", "users"}),
        (["admins", "users"], {"admins", "users"}),
        ("[]", set()),
        (None, set()),
    ],
)
def test_groups_in_both_forms(raw: object, expected: set[str]) -> None:
    assert parse_groups(raw) == expected


def test_identity_from_claims() -> None:
    admin = identity_from_claims({"sub": "u1", "cognito:groups": "[users admins]"}, "admins")
    assert admin == Identity("u1", frozenset({"users", "admins"}), is_admin=True)
    other_group = identity_from_claims({"sub": "u1", "cognito:groups": ["admins"]}, "ops")
    assert not other_group.is_admin
    # "administrators" contains "admins" as a substring: not a member.
    assert not identity_from_claims(
        {"sub": "u", "cognito:groups": "[administrators]"}, "admins"
    ).is_admin


@pytest.mark.parametrize("claims", [None, {}, {"iss": "x"}, {"sub": ""}, {"sub": 7}])
def test_no_caller_without_sub(claims: dict[str, object] | None) -> None:
    with pytest.raises(UnauthorizedError):
        identity_from_claims(claims, "admins")


def test_external_user_id_is_the_user_id_when_safe() -> None:
    sub = "0b5c1c6e-2f1d-4f5e-9c61-5f2ad0c2e8a1"
    assert external_user_id_for(sub) == sub


@pytest.mark.parametrize("user_id", ["Bob", "x", "aws:bob", "b" * 65, "emoji😀", "tab*star"])
def test_external_user_id_derived_otherwise(user_id: str) -> None:
    derived = external_user_id_for(user_id)
    assert derived.startswith(DERIVED_USER_ID_PREFIX)
    assert derived == external_user_id_for(user_id)  # stable
    assert derived == derived.casefold()  # case-safe
    assert is_valid_chime_external_id(derived)
    assert derived != external_user_id_for(user_id.swapcase() or "other")


def test_users_differing_by_case_get_different_attendees() -> None:
    assert external_user_id_for("bob") != external_user_id_for("Bob")


# --- authorization ------------------------------------------------------------------------------


def test_meeting_visibility() -> None:
    assert authorization.visible_meeting(HOST, MEETING, None) is MEETING
    assert authorization.visible_meeting(ADMIN, MEETING, None) is MEETING
    assert authorization.visible_meeting(BOB, MEETING, BOB_POINTER) is MEETING
    for identity, pointer in [(BOB, BOB_BARRED), (STRANGER, None), (STRANGER, BOB_POINTER)]:
        with pytest.raises(MeetingNotFoundError):
            authorization.visible_meeting(identity, MEETING, pointer)
    with pytest.raises(MeetingNotFoundError):
        authorization.visible_meeting(HOST, None, None)


def test_only_managers_manage() -> None:
    assert authorization.managed_meeting(ADMIN, MEETING, None) is MEETING
    with pytest.raises(ForbiddenError):
        authorization.managed_meeting(BOB, MEETING, BOB_POINTER)
    with pytest.raises(MeetingNotFoundError):
        authorization.managed_meeting(STRANGER, MEETING, None)


def test_attendee_visibility() -> None:
    assert (
        authorization.visible_attendee(BOB, MEETING, BOB_ATTENDEE, BOB_POINTER)[1] is BOB_ATTENDEE
    )
    assert authorization.visible_attendee(HOST, MEETING, BOB_ATTENDEE, None)[1] is BOB_ATTENDEE
    carol_pointer = UserPointerRecord(
        meetingId="m-1", userId="carol", attendeeId="a-c", externalUserId="carol"
    )
    carol = Identity("carol", frozenset(), is_admin=False)
    with pytest.raises(AttendeeNotFoundError):
        authorization.visible_attendee(carol, MEETING, BOB_ATTENDEE, carol_pointer)
    with pytest.raises(MeetingNotFoundError):
        authorization.visible_attendee(BOB, MEETING, BOB_ATTENDEE, BOB_BARRED)
    with pytest.raises(AttendeeNotFoundError):
        authorization.visible_attendee(HOST, MEETING, None, None)


def test_removed_users_may_not_join_and_only_admins_list_others() -> None:
    authorization.may_join(None)
    authorization.may_join(BOB_POINTER)
    with pytest.raises(AttendeeRemovedError):
        authorization.may_join(BOB_BARRED)
    authorization.may_list_host(ADMIN, "alice")
    authorization.may_list_host(HOST, "alice")
    with pytest.raises(ForbiddenError):
        authorization.may_list_host(BOB, "alice")


# --- pagination tokens --------------------------------------------------------------------------

KEY = {"pk": "MEETING#m-1", "sk": "MEETING", "hostPk": "HOST#alice", "hostSk": "2026#m-1"}
NAMES = frozenset(KEY)
FIXED = {"hostPk": "HOST#alice"}


def decode(token: str | None, binding: str, now: int = 1_000) -> dict[str, str] | None:
    return pagination.decode_token(token, binding, now, key_names=NAMES, fixed=FIXED)


def test_token_round_trip() -> None:
    binding = pagination.query_binding("alice", host="alice", status=None)
    token = pagination.encode_token(KEY, binding, 500)
    assert token is not None and "=" not in token
    assert decode(token, binding) == KEY
    assert pagination.encode_token(None, binding, 500) is None
    assert decode(None, binding) is None


def forge(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_foreign_stale_and_forged_tokens_are_400() -> None:
    binding = pagination.query_binding("alice", host="alice", status=None)
    token = pagination.encode_token(KEY, binding, 500)
    other_caller = pagination.query_binding("bob", host="alice", status=None)
    other_query = pagination.query_binding("alice", host="alice", status="open")
    bad_tokens: list[tuple[str, str, int]] = [
        (str(token), other_caller, 1_000),
        (str(token), other_query, 1_000),
        (str(token), binding, 500 + pagination.TOKEN_LIFETIME_MS + 1),
        ("!!!", binding, 1_000),
        ("", binding, 1_000),
        (forge([1, 2]), binding, 1_000),
        (
            forge({"v": 1, "b": binding, "t": 500, "k": {**KEY, "hostPk": "HOST#bob"}}),
            binding,
            1_000,
        ),
        (forge({"v": 1, "b": binding, "t": 500, "k": {"pk": "x"}}), binding, 1_000),
        (forge({"v": 1, "b": binding, "t": 500, "k": {**KEY, "sk": 5}}), binding, 1_000),
        (forge({"v": 2, "b": binding, "t": 500, "k": KEY}), binding, 1_000),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), binding, 1_000),
    ]
    for bad, query, now in bad_tokens:
        with pytest.raises(InvalidRequestError):
            decode(bad, query, now)


@given(st.integers(min_value=-(10**12), max_value=253_402_300_799_999))
def test_rfc3339_agrees_with_datetime(epoch_ms: int) -> None:
    """The table's sort keys order by this text: it must be the instant, to the millisecond,
    before 1970 too (floor division of negative instants)."""
    instant = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    expected = instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
    assert rfc3339(epoch_ms) == expected


def test_views_render_rfc3339_milliseconds() -> None:
    assert rfc3339(1_764_097_200_007) == "2025-11-25T19:00:00.007Z"
    view = meeting_view(MEETING)
    assert view["createdAt"] == "1970-01-01T00:00:00.000Z"
    assert view["startedAt"] is None and view["endReason"] is None
    assert view["attendees"] == {"total": 0, "connected": 0, "peakConnected": 0}
