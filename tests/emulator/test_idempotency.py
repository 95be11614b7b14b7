"""Chime's idempotency: ClientRequestToken on meeting creation, ExternalUserId per meeting."""

from __future__ import annotations

from typing import Any

import pytest

from local.chime import ChimeEmulator
from tests.emulator.conftest import add_attendee, create_meeting, event_types


def test_same_token_same_request_returns_the_same_meeting(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    first = create_meeting(chime_client, ClientRequestToken="retry-me")
    again = create_meeting(chime_client, ClientRequestToken="retry-me")
    assert again == first
    assert chime.open_meeting_ids() == {first["MeetingId"]}
    assert event_types(chime) == ["MeetingStarted"]


def test_same_token_after_the_meeting_ended_still_names_the_ended_meeting(
    chime_client: Any,
) -> None:
    first = create_meeting(chime_client, ClientRequestToken="room-42-token")
    chime_client.delete_meeting(MeetingId=first["MeetingId"])
    again = create_meeting(chime_client, ClientRequestToken="room-42-token")
    assert again["MeetingId"] == first["MeetingId"]
    with pytest.raises(chime_client.exceptions.NotFoundException, match="meeting has ended"):
        add_attendee(chime_client, again["MeetingId"])


def test_same_token_with_a_different_request_is_a_conflict(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    create_meeting(chime_client, ClientRequestToken="shared")
    with pytest.raises(chime_client.exceptions.ConflictException) as caught:
        create_meeting(chime_client, ClientRequestToken="shared", ExternalMeetingId="other")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert len(chime.open_meeting_ids()) == 1


def test_the_token_of_create_meeting_with_attendees_replays_its_answer(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    request = {
        "ClientRequestToken": "with-attendees",
        "MediaRegion": "us-east-1",
        "ExternalMeetingId": "room",
        "Attendees": [{"ExternalUserId": "alice"}],
    }
    first = chime_client.create_meeting_with_attendees(**request)
    again = chime_client.create_meeting_with_attendees(**request)
    assert (again["Meeting"], again["Attendees"]) == (first["Meeting"], first["Attendees"])
    assert event_types(chime) == ["MeetingStarted", "AttendeeAdded"]
    with pytest.raises(chime_client.exceptions.ConflictException):
        create_meeting(chime_client, ClientRequestToken="with-attendees", ExternalMeetingId="room")


def test_without_a_token_boto3_makes_a_new_meeting_each_time(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    create_meeting(chime_client)
    create_meeting(chime_client)
    assert len(chime.open_meeting_ids()) == 2


def test_same_external_user_id_same_attendee_and_join_token(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    first = add_attendee(chime_client, meeting["MeetingId"], "bob")
    again = add_attendee(
        chime_client,
        meeting["MeetingId"],
        "bob",
        Capabilities={"Audio": "Receive", "Video": "None", "Content": "None"},
    )
    assert again == first
    batch = chime_client.batch_create_attendee(
        MeetingId=meeting["MeetingId"],
        Attendees=[{"ExternalUserId": "bob"}, {"ExternalUserId": "bob"}],
    )
    assert batch["Attendees"] == [first]
    assert event_types(chime).count("AttendeeAdded") == 1


def test_external_user_ids_are_per_meeting(chime_client: Any, meeting: dict[str, Any]) -> None:
    other = create_meeting(chime_client, ExternalMeetingId="other-room")
    here = add_attendee(chime_client, meeting["MeetingId"], "bob")
    there = add_attendee(chime_client, other["MeetingId"], "bob")
    assert here["AttendeeId"] != there["AttendeeId"]


def test_external_user_ids_are_case_sensitive(chime_client: Any, meeting: dict[str, Any]) -> None:
    lower = add_attendee(chime_client, meeting["MeetingId"], "bob")
    upper = add_attendee(chime_client, meeting["MeetingId"], "Bob")
    assert lower["AttendeeId"] != upper["AttendeeId"]


def test_a_deleted_attendees_external_user_id_makes_a_new_attendee(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    first = add_attendee(chime_client, meeting["MeetingId"], "bob")
    chime_client.delete_attendee(MeetingId=meeting["MeetingId"], AttendeeId=first["AttendeeId"])
    second = add_attendee(chime_client, meeting["MeetingId"], "bob")
    assert second["AttendeeId"] != first["AttendeeId"]
    assert second["JoinToken"] != first["JoinToken"]
    with pytest.raises(chime_client.exceptions.NotFoundException):
        chime_client.delete_attendee(MeetingId=meeting["MeetingId"], AttendeeId=first["AttendeeId"])
    with pytest.raises(LookupError):
        chime.connect(meeting["MeetingId"], first["AttendeeId"])


def test_after_the_meeting_ends_every_call_on_it_is_not_found(
    chime_client: Any, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    bob = add_attendee(chime_client, meeting_id)
    chime_client.delete_meeting(MeetingId=meeting_id)
    calls = [
        lambda: chime_client.get_meeting(MeetingId=meeting_id),
        lambda: add_attendee(chime_client, meeting_id, "late"),
        lambda: chime_client.get_attendee(MeetingId=meeting_id, AttendeeId=bob["AttendeeId"]),
        lambda: chime_client.list_attendees(MeetingId=meeting_id),
        lambda: chime_client.delete_meeting(MeetingId=meeting_id),
        lambda: chime_client.delete_attendee(MeetingId=meeting_id, AttendeeId=bob["AttendeeId"]),
    ]
    for call in calls:
        with pytest.raises(chime_client.exceptions.NotFoundException, match="meeting has ended"):
            call()
    with pytest.raises(chime_client.exceptions.ResourceNotFoundException):
        chime_client.list_tags_for_resource(ResourceARN=meeting["MeetingArn"])


def test_an_unknown_meeting_is_not_found(chime_client: Any) -> None:
    with pytest.raises(chime_client.exceptions.NotFoundException, match="does not exist"):
        chime_client.get_meeting(MeetingId="00000000-0000-0000-0000-000000000000")
