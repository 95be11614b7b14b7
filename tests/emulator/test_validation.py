"""Bad input → the modeled 4xx and no change: constraints from botocore's model, the patterns
the model keeps in its text, and Chime's semantic rules (docs/chime.md)."""

from __future__ import annotations

from typing import Any

import pytest

from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer
from local.chime.model import service_model
from local.chime.validation import validate
from tests.emulator.conftest import add_attendee, create_meeting, raw_call, unknown_id

VALID = {"ClientRequestToken": "token-1", "MediaRegion": "us-east-1", "ExternalMeetingId": "r"}


def _create_meeting_errors(**request: Any) -> str:
    shape = service_model().operation_model("CreateMeeting").input_shape
    with pytest.raises(ValueError, match="validation error") as caught:
        validate(shape, {**VALID, **request})
    return str(caught.value)


@pytest.mark.parametrize(
    ("member", "value", "constraint"),
    [
        ("ExternalMeetingId", "x" * 65, "length less than or equal to 64"),
        ("ExternalMeetingId", "x", "length greater than or equal to 2"),
        ("ClientRequestToken", "has space", "regular expression pattern"),
        ("MediaRegion", 7, "must be a string"),
        ("MediaPlacementNetworkType", "Ipv6Only", "enum value set"),
        ("TenantIds", [], "length greater than or equal to 1"),
        ("TenantIds", ["aaaa-bad"], "regular expression pattern"),
        ("Tags", [{"Key": "k"}], "must not be null"),
        ("MeetingFeatures", {"Attendee": {"MaxCount": 251}}, "value less than or equal to 250"),
        ("MeetingFeatures", {"Attendee": {"MaxCount": "9"}}, "must be an integer"),
        ("MeetingFeatures", {"Video": {"MaxResolution": "UHD"}}, "enum value set"),
        ("MeetingFeatures", [], "must be an object"),
        ("Tags", {}, "must be a list"),
    ],
)
def test_model_constraints_are_enforced(member: str, value: Any, constraint: str) -> None:
    assert constraint in _create_meeting_errors(**{member: value})


def test_every_problem_is_listed_at_once() -> None:
    message = _create_meeting_errors(ExternalMeetingId="x", MediaRegion="")
    assert message.startswith("2 validation errors detected")


def test_a_missing_required_member_is_named() -> None:
    shape = service_model().operation_model("CreateMeeting").input_shape
    with pytest.raises(ValueError, match=r"'ExternalMeetingId' failed.*must not be null"):
        validate(shape, {"ClientRequestToken": "tt", "MediaRegion": "us-east-1"})


def test_booleans_are_checked() -> None:
    shape = service_model().operation_model("StartMeetingTranscription").input_shape
    config = {"EngineTranscribeSettings": {"LanguageCode": "en-US", "IdentifyLanguage": "yes"}}
    with pytest.raises(ValueError, match="must be a boolean"):
        validate(shape, {"MeetingId": unknown_id(), "TranscriptionConfiguration": config})


def _refused(chime: ChimeEmulator, call: Any, error: str, **request: Any) -> str:
    """Assert the call fails with `error` and leaves no trace, returning the message."""
    before = (chime.open_meeting_ids(), len(chime.events))
    with pytest.raises(Exception) as caught:
        call(**request)
    assert type(caught.value).__name__ == error
    assert (chime.open_meeting_ids(), len(chime.events)) == before
    return str(caught.value.response["Message"])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"ExternalMeetingId": "x" * 65}, "less than or equal to 64"),
        ({"ExternalMeetingId": "room<script>"}, "allowed pattern"),
        # The model's `\s` and `\w` are Java's: ASCII only.
        ({"ExternalMeetingId": "room\u3000one"}, "allowed pattern"),
        ({"Tags": [{"Key": "team", "Value": "caf\u00e9"}]}, "regular expression"),
        ({"ExternalMeetingId": "aws:room"}, "reserved prefix"),
        ({"ExternalMeetingId": "AWS:room"}, "reserved prefix"),
        ({"MeetingHostId": "host;1"}, "allowed pattern"),
        ({"MediaRegion": "mars-north-1"}, "media Region"),
        ({"ClientRequestToken": "bad token!"}, "regular expression"),
        ({"Tags": [{"Key": "aws:owner", "Value": "x"}]}, "reserved prefix"),
        ({"Tags": [{"Key": f"k{n}", "Value": "v"} for n in range(51)]}, "less than or equal to 50"),
        ({"MeetingFeatures": {"Video": {"MaxResolution": "FHD"}}}, "requires"),
        ({"MeetingFeatures": {"Content": {"MaxResolution": "UHD"}}}, "requires"),
        (
            {"MeetingFeatures": {"Video": {"MaxResolution": "FHD"}, "Attendee": {"MaxCount": 26}}},
            "at most 25",
        ),
        ({"PrimaryMeetingId": unknown_id()}, "active meeting"),
    ],
)
def test_create_meeting_refuses_bad_input(
    chime_client: Any, chime: ChimeEmulator, overrides: dict[str, Any], phrase: str
) -> None:
    request = {"MediaRegion": "us-east-1", "ExternalMeetingId": "room", **overrides}
    message = _refused(chime, chime_client.create_meeting, "BadRequestException", **request)
    assert phrase in message


def test_external_ids_accept_the_documented_characters(chime_client: Any) -> None:
    odd = "Zoë & «Team» (1)/[a]{b}|c:d,e.f@g+h=i#j'k\"l m"
    meeting = create_meeting(chime_client, ExternalMeetingId=odd)
    assert meeting["ExternalMeetingId"] == odd
    assert add_attendee(chime_client, meeting["MeetingId"], odd)["ExternalUserId"] == odd


def test_high_resolution_meeting_caps_attendees_at_25(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    features = {"Video": {"MaxResolution": "FHD"}, "Attendee": {"MaxCount": 25}}
    meeting = create_meeting(chime_client, MeetingFeatures=features)
    chime_client.batch_create_attendee(
        MeetingId=meeting["MeetingId"],
        Attendees=[{"ExternalUserId": f"user-{n}"} for n in range(25)],
    )
    _refused(
        chime,
        chime_client.create_attendee,
        "LimitExceededException",
        MeetingId=meeting["MeetingId"],
        ExternalUserId="one-too-many",
    )


def test_max_count_limits_attendees_and_deleted_ones_free_a_place(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    meeting = create_meeting(chime_client, MeetingFeatures={"Attendee": {"MaxCount": 2}})
    meeting_id = meeting["MeetingId"]
    first = add_attendee(chime_client, meeting_id, "a1")
    add_attendee(chime_client, meeting_id, "a2")
    with pytest.raises(chime_client.exceptions.LimitExceededException) as caught:
        add_attendee(chime_client, meeting_id, "a3")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["Code"] == "ResourceLimitExceeded"
    assert add_attendee(chime_client, meeting_id, "a2")["ExternalUserId"] == "a2"  # idempotent
    chime_client.delete_attendee(MeetingId=meeting_id, AttendeeId=first["AttendeeId"])
    assert add_attendee(chime_client, meeting_id, "a3")["ExternalUserId"] == "a3"


def test_a_batch_that_would_pass_max_count_is_refused_whole(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    meeting = create_meeting(chime_client, MeetingFeatures={"Attendee": {"MaxCount": 3}})
    _refused(
        chime,
        chime_client.batch_create_attendee,
        "LimitExceededException",
        MeetingId=meeting["MeetingId"],
        Attendees=[{"ExternalUserId": f"user-{n}"} for n in range(4)],
    )


def test_batch_sizes(
    chime_client: Any, chime: ChimeEmulator, chime_server: EmulatorServer, meeting: dict[str, Any]
) -> None:
    too_many = [{"ExternalUserId": f"user-{n}"} for n in range(101)]
    message = _refused(
        chime,
        chime_client.batch_create_attendee,
        "BadRequestException",
        MeetingId=meeting["MeetingId"],
        Attendees=too_many,
    )
    assert "less than or equal to 100" in message
    path = f"/meetings/{meeting['MeetingId']}/attendees?operation=batch-create"
    status, body = raw_call(chime_server.endpoint_url, "POST", path, {"Attendees": []})
    assert (status, body["Code"]) == (400, "BadRequest")
    assert "greater than or equal to 1" in body["Message"]


def test_create_meeting_with_attendees_takes_at_most_10(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    message = _refused(
        chime,
        chime_client.create_meeting_with_attendees,
        "BadRequestException",
        MediaRegion="us-east-1",
        ExternalMeetingId="room",
        Attendees=[{"ExternalUserId": f"user-{n}"} for n in range(11)],
    )
    assert "at most 10" in message


def test_invalid_batch_items_become_errors_and_the_rest_is_created(
    chime_client: Any, meeting: dict[str, Any]
) -> None:
    answer = chime_client.batch_create_attendee(
        MeetingId=meeting["MeetingId"],
        Attendees=[
            {"ExternalUserId": "fine"},
            {"ExternalUserId": "aws:reserved"},
            {
                "ExternalUserId": "content-without-video",
                "Capabilities": {"Audio": "SendReceive", "Video": "None", "Content": "Receive"},
            },
        ],
    )
    assert [a["ExternalUserId"] for a in answer["Attendees"]] == ["fine"]
    assert [(e["ExternalUserId"], e["ErrorCode"]) for e in answer["Errors"]] == [
        ("aws:reserved", "BadRequest"),
        ("content-without-video", "BadRequest"),
    ]


@pytest.mark.parametrize(
    ("features", "capabilities", "phrase"),
    [
        (None, {"Audio": "SendReceive", "Video": "Send", "Content": "SendReceive"}, "requires"),
        (None, {"Audio": "SendReceive", "Video": "None", "Content": "Receive"}, "requires"),
        (
            {"Video": {"MaxResolution": "None"}},
            {"Audio": "None", "Video": "Receive", "Content": "None"},
            "video is off",
        ),
        (
            {"Content": {"MaxResolution": "None"}},
            {"Audio": "None", "Video": "Receive", "Content": "Send"},
            "content is off",
        ),
    ],
)
def test_capability_corner_cases_are_refused(
    chime_client: Any,
    chime: ChimeEmulator,
    features: dict[str, Any] | None,
    capabilities: dict[str, str],
    phrase: str,
) -> None:
    meeting = create_meeting(chime_client, **({"MeetingFeatures": features} if features else {}))
    message = _refused(
        chime,
        chime_client.create_attendee,
        "BadRequestException",
        MeetingId=meeting["MeetingId"],
        ExternalUserId="bob",
        Capabilities=capabilities,
    )
    assert phrase in message
    bob_free = add_attendee(chime_client, meeting["MeetingId"], "carol")
    message = _refused(
        chime,
        chime_client.update_attendee_capabilities,
        "BadRequestException",
        MeetingId=meeting["MeetingId"],
        AttendeeId=bob_free["AttendeeId"],
        Capabilities=capabilities,
    )
    assert phrase in message


def test_video_receive_with_content_send_only_is_allowed(
    chime_client: Any, meeting: dict[str, Any]
) -> None:
    capabilities = {"Audio": "SendReceive", "Video": "Receive", "Content": "Send"}
    attendee = add_attendee(chime_client, meeting["MeetingId"], Capabilities=capabilities)
    assert attendee["Capabilities"] == capabilities


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        ({"Video": {"MaxResolution": "None"}}, ("SendReceive", "Receive", "SendReceive")),
        (
            {"Video": {"MaxResolution": "None"}, "Content": {"MaxResolution": "None"}},
            ("SendReceive", "None", "None"),
        ),
        ({"Content": {"MaxResolution": "None"}}, ("SendReceive", "SendReceive", "None")),
    ],
)
def test_default_capabilities_follow_the_meeting_features(
    chime_client: Any, features: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    meeting = create_meeting(chime_client, MeetingFeatures=features)
    capabilities = add_attendee(chime_client, meeting["MeetingId"])["Capabilities"]
    assert (capabilities["Audio"], capabilities["Video"], capabilities["Content"]) == expected


def test_attendee_ids_follow_the_external_id_rules(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    for user, phrase in (("aws:me", "reserved prefix"), ("tab\x00", "allowed pattern")):
        message = _refused(
            chime,
            chime_client.create_attendee,
            "BadRequestException",
            MeetingId=meeting["MeetingId"],
            ExternalUserId=user,
        )
        assert phrase in message


def test_tags_past_50_are_too_many(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    arn = meeting["MeetingArn"]
    chime_client.tag_resource(
        ResourceARN=arn, Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(50)]
    )
    chime_client.tag_resource(ResourceARN=arn, Tags=[{"Key": "k0", "Value": "replaced"}])
    with pytest.raises(chime_client.exceptions.TooManyTagsException) as caught:
        chime_client.tag_resource(ResourceARN=arn, Tags=[{"Key": "k50", "Value": "v"}])
    assert caught.value.response["ResourceName"] == arn
    tags = chime_client.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert len(tags) == 50
    assert {"Key": "k0", "Value": "replaced"} in tags
    with pytest.raises(chime_client.exceptions.BadRequestException):
        chime_client.tag_resource(ResourceARN=arn, Tags=[{"Key": "aws:x", "Value": "v"}])


@pytest.mark.parametrize(
    "arn_of",
    [
        lambda m: m["MeetingArn"].replace(m["MeetingId"], unknown_id()),
        lambda m: "arn:aws:s3:::bucket",
    ],
)
def test_tags_of_an_unknown_resource_are_not_found(
    chime_client: Any, meeting: dict[str, Any], arn_of: Any
) -> None:
    with pytest.raises(chime_client.exceptions.ResourceNotFoundException):
        chime_client.list_tags_for_resource(ResourceARN=arn_of(meeting))
    with pytest.raises(chime_client.exceptions.ResourceNotFoundException):
        chime_client.untag_resource(ResourceARN=arn_of(meeting), TagKeys=["a"])


def test_a_malformed_arn_is_bad_request(chime_client: Any) -> None:
    with pytest.raises(chime_client.exceptions.BadRequestException):
        chime_client.list_tags_for_resource(ResourceARN="meeting-42")


@pytest.mark.parametrize(
    "configuration",
    [
        {},
        {
            "EngineTranscribeSettings": {"LanguageCode": "en-US"},
            "EngineTranscribeMedicalSettings": {
                "LanguageCode": "en-US",
                "Specialty": "PRIMARYCARE",
                "Type": "CONVERSATION",
            },
        },
        {"EngineTranscribeSettings": {}},
        {"EngineTranscribeSettings": {"LanguageCode": "en-US", "IdentifyLanguage": True}},
    ],
)
def test_transcription_configuration_is_checked(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any], configuration: Any
) -> None:
    _refused(
        chime,
        chime_client.start_meeting_transcription,
        "BadRequestException",
        MeetingId=meeting["MeetingId"],
        TranscriptionConfiguration=configuration,
    )
    assert not chime.transcription_active(meeting["MeetingId"])


def test_medical_transcription_is_accepted(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    chime_client.start_meeting_transcription(
        MeetingId=meeting["MeetingId"],
        TranscriptionConfiguration={
            "EngineTranscribeMedicalSettings": {
                "LanguageCode": "en-US",
                "Specialty": "CARDIOLOGY",
                "Type": "DICTATION",
            }
        },
    )
    assert chime.transcription_active(meeting["MeetingId"])


def test_list_attendees_max_results_range(
    chime_server: EmulatorServer, meeting: dict[str, Any]
) -> None:
    for size, phrase in ((0, "greater than or equal to 1"), (101, "less than or equal to 100")):
        path = f"/meetings/{meeting['MeetingId']}/attendees?max-results={size}"
        status, body = raw_call(chime_server.endpoint_url, "GET", path)
        assert status == 400
        assert phrase in body["Message"]


def test_the_active_meeting_quota(make_chime_client: Any) -> None:
    emulator = ChimeEmulator(EmulatorConfig(max_active_meetings=2))
    with EmulatorServer(emulator) as server:
        client = make_chime_client(server.endpoint_url)
        first = create_meeting(client)
        create_meeting(client)
        with pytest.raises(client.exceptions.LimitExceededException):
            create_meeting(client)
        client.delete_meeting(MeetingId=first["MeetingId"])
        create_meeting(client)
