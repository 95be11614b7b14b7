"""The wire: routes from botocore's model, every operation through a stock boto3 client, the
error format, and pagination."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.error import HTTPError

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from local.chime import ChimeEmulator, EmulatorServer
from local.chime.model import find_route, routes, service_model
from local.chime.operations import OPERATIONS
from tests.emulator.conftest import add_attendee, create_meeting, event_types, unknown_id

TRANSCRIBE = {"EngineTranscribeSettings": {"LanguageCode": "en-US"}}


def test_every_operation_of_the_model_has_a_route_and_an_implementation() -> None:
    names = set(service_model().operation_names)
    assert len(names) == 16
    assert {route.operation.name for route in routes()} == names
    assert set(OPERATIONS) == names


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("POST", "/meetings", {}, "CreateMeeting"),
        ("POST", "/meetings", {"operation": ["create-attendees"]}, "CreateMeetingWithAttendees"),
        ("POST", "/meetings/m1/attendees", {"operation": ["batch-create"]}, "BatchCreateAttendee"),
        ("POST", "/meetings/m1/attendees", {}, "CreateAttendee"),
        ("GET", "/tags", {"arn": ["arn:x"]}, "ListTagsForResource"),
        ("POST", "/tags", {"operation": ["untag-resource"]}, "UntagResource"),
        ("POST", "/meetings/m1/transcription", {"operation": ["stop"]}, "StopMeetingTranscription"),
    ],
)
def test_routes_match_method_path_and_fixed_query(
    method: str, path: str, query: dict[str, list[str]], expected: str
) -> None:
    found = find_route(method, path, query)
    assert found is not None
    assert found[0].name == expected


def test_a_path_no_operation_has_is_404(chime_server: EmulatorServer) -> None:
    request = urllib.request.Request(chime_server.endpoint_url + "/nothing", method="GET")
    with pytest.raises(HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 404
    assert caught.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_meeting_operations(chime_client: Any, chime: ChimeEmulator) -> None:
    created = create_meeting(chime_client, Tags=[{"Key": "team", "Value": "sales"}])
    meeting_id = created["MeetingId"]
    assert created["MeetingArn"].endswith(f":meeting/{meeting_id}")
    assert set(created["MediaPlacement"]) >= {"AudioHostUrl", "SignalingUrl", "ScreenDataUrl"}
    assert chime_client.get_meeting(MeetingId=meeting_id)["Meeting"] == created
    response = chime_client.delete_meeting(MeetingId=meeting_id)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert chime.open_meeting_ids() == set()


def test_create_meeting_with_attendees(chime_client: Any) -> None:
    answer = chime_client.create_meeting_with_attendees(
        MediaRegion="eu-west-1",
        ExternalMeetingId="room",
        Attendees=[{"ExternalUserId": "alice"}, {"ExternalUserId": "bob"}],
    )
    assert [a["ExternalUserId"] for a in answer["Attendees"]] == ["alice", "bob"]
    assert answer["Errors"] == []
    assert answer["Meeting"]["MediaRegion"] == "eu-west-1"


def test_attendee_operations(chime_client: Any, meeting: dict[str, Any]) -> None:
    meeting_id = meeting["MeetingId"]
    alice = add_attendee(chime_client, meeting_id, "alice")
    assert alice["Capabilities"] == {
        "Audio": "SendReceive",
        "Video": "SendReceive",
        "Content": "SendReceive",
    }
    assert len(alice["JoinToken"]) >= 2
    got = chime_client.get_attendee(MeetingId=meeting_id, AttendeeId=alice["AttendeeId"])
    assert got["Attendee"] == alice
    batch = chime_client.batch_create_attendee(
        MeetingId=meeting_id, Attendees=[{"ExternalUserId": "bob"}, {"ExternalUserId": "carol"}]
    )
    assert [a["ExternalUserId"] for a in batch["Attendees"]] == ["bob", "carol"]
    listed = chime_client.list_attendees(MeetingId=meeting_id)["Attendees"]
    assert [a["ExternalUserId"] for a in listed] == ["alice", "bob", "carol"]
    chime_client.delete_attendee(MeetingId=meeting_id, AttendeeId=alice["AttendeeId"])
    with pytest.raises(chime_client.exceptions.NotFoundException):
        chime_client.get_attendee(MeetingId=meeting_id, AttendeeId=alice["AttendeeId"])
    listed = chime_client.list_attendees(MeetingId=meeting_id)["Attendees"]
    assert [a["ExternalUserId"] for a in listed] == ["bob", "carol"]


def test_capability_operations(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    alice = add_attendee(chime_client, meeting_id, "alice")
    bob = add_attendee(chime_client, meeting_id, "bob")
    receive_only = {"Audio": "Receive", "Video": "Receive", "Content": "Receive"}
    updated = chime_client.update_attendee_capabilities(
        MeetingId=meeting_id, AttendeeId=alice["AttendeeId"], Capabilities=receive_only
    )
    assert updated["Attendee"]["Capabilities"] == receive_only
    chime_client.batch_update_attendee_capabilities_except(
        MeetingId=meeting_id,
        ExcludedAttendeeIds=[{"AttendeeId": alice["AttendeeId"]}],
        Capabilities={"Audio": "SendReceive", "Video": "None", "Content": "None"},
    )
    got = chime_client.get_attendee(MeetingId=meeting_id, AttendeeId=bob["AttendeeId"])
    assert got["Attendee"]["Capabilities"]["Video"] == "None"
    got = chime_client.get_attendee(MeetingId=meeting_id, AttendeeId=alice["AttendeeId"])
    assert got["Attendee"]["Capabilities"] == receive_only
    updates = [e["detail"] for e in chime.events if e["detail"]["eventType"].endswith("Updated")]
    assert [u["attendeeId"] for u in updates] == [alice["AttendeeId"], bob["AttendeeId"]]
    assert updates[0]["attendeeCapabilities"] == {
        "audio": "Receive",
        "video": "Receive",
        "content": "Receive",
    }
    assert updates[0]["success"] == 1


def test_tag_operations(chime_client: Any, meeting: dict[str, Any]) -> None:
    arn = meeting["MeetingArn"]
    chime_client.tag_resource(
        ResourceARN=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    )
    chime_client.untag_resource(ResourceARN=arn, TagKeys=["a", "never-set"])
    assert chime_client.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "b", "Value": "2"}
    ]


def test_transcription_operations(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    chime_client.start_meeting_transcription(
        MeetingId=meeting_id, TranscriptionConfiguration=TRANSCRIBE
    )
    assert chime.transcription_active(meeting_id)
    with pytest.raises(chime_client.exceptions.UnprocessableEntityException):
        chime_client.start_meeting_transcription(
            MeetingId=meeting_id, TranscriptionConfiguration=TRANSCRIBE
        )
    chime_client.stop_meeting_transcription(MeetingId=meeting_id)
    assert not chime.transcription_active(meeting_id)
    with pytest.raises(chime_client.exceptions.UnprocessableEntityException):
        chime_client.stop_meeting_transcription(MeetingId=meeting_id)
    assert event_types(chime)[-2:] == ["TranscriptionStarted", "TranscriptionStopped"]


def test_transcription_stops_before_the_meeting_ends(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    chime_client.start_meeting_transcription(
        MeetingId=meeting["MeetingId"], TranscriptionConfiguration=TRANSCRIBE
    )
    chime_client.delete_meeting(MeetingId=meeting["MeetingId"])
    assert event_types(chime)[-2:] == ["TranscriptionStopped", "MeetingEnded"]


def test_an_error_carries_status_header_and_modeled_body(chime_client: Any) -> None:
    with pytest.raises(chime_client.exceptions.NotFoundException) as caught:
        chime_client.get_meeting(MeetingId=unknown_id())
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "NotFoundException"
    assert response["Code"] == "NotFound"
    assert response["RequestId"] == response["ResponseMetadata"]["RequestId"]


def test_invalid_json_body_is_bad_request(
    chime_server: EmulatorServer, chime: ChimeEmulator
) -> None:
    request = urllib.request.Request(
        chime_server.endpoint_url + "/meetings", data=b"{not json", method="POST"
    )
    with pytest.raises(HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["Code"] == "BadRequest"
    assert chime.open_meeting_ids() == set()


def test_a_non_integer_query_parameter_is_bad_request(
    chime_server: EmulatorServer, meeting: dict[str, Any]
) -> None:
    url = f"{chime_server.endpoint_url}/meetings/{meeting['MeetingId']}/attendees?max-results=ten"
    with pytest.raises(HTTPError) as caught:
        urllib.request.urlopen(url)
    assert caught.value.code == 400


def test_list_attendees_pages_through_next_token(
    chime_client: Any, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    users = [f"user-{n:02}" for n in range(23)]
    chime_client.batch_create_attendee(
        MeetingId=meeting_id, Attendees=[{"ExternalUserId": user} for user in users]
    )
    seen: list[str] = []
    pages = 0
    request: dict[str, Any] = {"MeetingId": meeting_id, "MaxResults": 10}
    while True:
        page = chime_client.list_attendees(**request)
        pages += 1
        seen += [a["ExternalUserId"] for a in page["Attendees"]]
        if "NextToken" not in page:
            break
        request["NextToken"] = page["NextToken"]
    assert (seen, pages) == (users, 3)
    default_page = chime_client.list_attendees(MeetingId=meeting_id)
    assert len(default_page["Attendees"]) == 10


def test_a_forged_next_token_is_bad_request(chime_client: Any, meeting: dict[str, Any]) -> None:
    with pytest.raises(chime_client.exceptions.BadRequestException):
        chime_client.list_attendees(MeetingId=meeting["MeetingId"], NextToken="not-ours")


def test_every_paginator_botocore_defines_walks_all_pages(
    chime_client: Any, meeting: dict[str, Any]
) -> None:
    """botocore 1.44 defines no paginator for this service; any a later one adds must work."""
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("chime-sdk-meetings", "paginators-1")
    chime_client.batch_create_attendee(
        MeetingId=meeting["MeetingId"],
        Attendees=[{"ExternalUserId": f"u-{n}"} for n in range(12)],
    )
    for operation in model["pagination"]:
        name = botocore.xform_name(operation)
        assert chime_client.can_paginate(name)
        pages = list(chime_client.get_paginator(name).paginate(MeetingId=meeting["MeetingId"]))
        assert pages


def test_request_ids_differ_per_call(chime_client: Any) -> None:
    first = chime_client.create_meeting(MediaRegion="us-east-1", ExternalMeetingId="r1")
    second = chime_client.create_meeting(MediaRegion="us-east-1", ExternalMeetingId="r2")
    ids = {r["ResponseMetadata"]["RequestId"] for r in (first, second)}
    assert len(ids) == 2


def test_the_endpoint_variable_reaches_the_emulator(
    chime_server: EmulatorServer, chime: ChimeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS", chime_server.endpoint_url)
    client = boto3.client(
        "chime-sdk-meetings",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    created = client.create_meeting(MediaRegion="us-east-1", ExternalMeetingId="via-env")
    assert chime.open_meeting_ids() == {created["Meeting"]["MeetingId"]}


def test_a_malformed_meeting_id_raises_the_modeled_bad_request(chime_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        chime_client.get_meeting(MeetingId="not-a-guid")
    assert type(caught.value) is chime_client.exceptions.BadRequestException
    assert "MeetingId" in caught.value.response["Message"]
