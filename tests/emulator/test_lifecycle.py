"""The simulated media plane and the events it emits: envelope, fields and order."""

from __future__ import annotations

from typing import Any

import pytest

from local.chime import ChimeEmulator
from tests.emulator.conftest import add_attendee, create_meeting, event_types


def test_the_envelope_is_chimes(chime_client: Any, chime: ChimeEmulator) -> None:
    meeting = create_meeting(chime_client, ExternalMeetingId="room-7", MediaRegion="eu-west-2")
    bob = add_attendee(chime_client, meeting["MeetingId"])
    chime.connect(meeting["MeetingId"], bob["AttendeeId"])
    started, _, _, joined = chime.events
    assert set(started) == {
        "version", "id", "detail-type", "source", "account", "time", "region", "resources",
        "detail",
    }  # fmt: skip
    assert started["source"] == "aws.chime"
    assert started["detail-type"] == "Chime Meeting State Change"
    assert (started["account"], started["region"]) == ("123456789012", "us-east-1")
    assert started["detail"] == {
        "version": "0",
        "eventType": "chime:MeetingStarted",
        "timestamp": chime.now_ms(),
        "meetingId": meeting["MeetingId"],
        "externalMeetingId": "room-7",
        "mediaRegion": "eu-west-2",
    }
    assert joined["detail"]["attendeeId"] == bob["AttendeeId"]
    assert joined["detail"]["externalUserId"] == "bob"
    assert joined["detail"]["networkType"] == "Voip"
    assert started["time"].endswith("Z")
    assert "JoinToken" not in str(chime.events)


def test_a_full_lifecycle_in_order(chime_client: Any, chime: ChimeEmulator) -> None:
    meeting = create_meeting(chime_client)
    meeting_id = meeting["MeetingId"]
    alice = add_attendee(chime_client, meeting_id, "alice")
    bob = add_attendee(chime_client, meeting_id, "bob")
    chime.connect(meeting_id, alice["AttendeeId"], audio=True, video=True)
    chime.connect(meeting_id, bob["AttendeeId"], audio=True)
    chime.connect(meeting_id, bob["AttendeeId"], audio=True, content=True)  # starts sharing
    chime.connect(meeting_id, bob["AttendeeId"], audio=True)  # stops sharing
    chime.drop(meeting_id, bob["AttendeeId"])
    chime.connect(meeting_id, bob["AttendeeId"])  # back after the drop
    chime.leave(meeting_id, alice["AttendeeId"])
    chime_client.delete_attendee(MeetingId=meeting_id, AttendeeId=alice["AttendeeId"])
    chime_client.delete_meeting(MeetingId=meeting_id)
    assert event_types(chime) == [
        "MeetingStarted",
        "AttendeeAdded",
        "AttendeeAdded",
        "AttendeeAuthorized",
        "AttendeeJoined",
        "AttendeeVideoStarted",
        "AttendeeAuthorized",
        "AttendeeJoined",
        "AttendeeAuthorized",
        "AttendeeContentJoined",
        "AttendeeContentVideoStarted",
        "AttendeeAuthorized",
        "AttendeeContentVideoStopped",
        "AttendeeContentLeft",
        "AttendeeDropped",
        "AttendeeAuthorized",
        "AttendeeJoined",
        "AttendeeVideoStopped",
        "AttendeeLeft",
        "AttendeeDeleted",
        "AttendeeLeft",
        "MeetingEnded",
    ]
    assert chime.end_reason(meeting_id) == "deleted"


def test_content_share_events_name_the_content_attendee(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    bob = add_attendee(chime_client, meeting["MeetingId"])
    chime.connect(meeting["MeetingId"], bob["AttendeeId"], content=True)
    chime.drop(meeting["MeetingId"], bob["AttendeeId"])
    content_events = [e["detail"] for e in chime.events if "Content" in e["detail"]["eventType"]]
    content_id = bob["AttendeeId"] + "#content"
    assert [e["eventType"] for e in content_events] == [
        "chime:AttendeeContentJoined",
        "chime:AttendeeContentVideoStarted",
        "chime:AttendeeContentVideoStopped",
        "chime:AttendeeContentDropped",
    ]
    assert {(e["attendeeId"], e["externalUserId"]) for e in content_events} == {
        (content_id, content_id)
    }
    assert content_events[0]["networkType"] == "Voip"
    assert "networkType" not in content_events[1]


def test_deleting_a_connected_attendee_disconnects_it_first(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    bob = add_attendee(chime_client, meeting["MeetingId"])
    chime.connect(meeting["MeetingId"], bob["AttendeeId"], video=True)
    chime_client.delete_attendee(MeetingId=meeting["MeetingId"], AttendeeId=bob["AttendeeId"])
    assert event_types(chime)[-3:] == ["AttendeeVideoStopped", "AttendeeLeft", "AttendeeDeleted"]


def test_a_viewer_only_connection_sends_no_join(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    bob = add_attendee(chime_client, meeting["MeetingId"])
    chime.connect(meeting["MeetingId"], bob["AttendeeId"], audio=False, viewing_content=True)
    chime.leave(meeting["MeetingId"], bob["AttendeeId"])
    assert event_types(chime)[-1] == "AttendeeAuthorized"


def test_taking_a_capability_away_stops_its_stream(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    bob = add_attendee(chime_client, meeting["MeetingId"])
    chime.connect(meeting["MeetingId"], bob["AttendeeId"], video=True, content=True)
    chime_client.update_attendee_capabilities(
        MeetingId=meeting["MeetingId"],
        AttendeeId=bob["AttendeeId"],
        Capabilities={"Audio": "SendReceive", "Video": "Receive", "Content": "None"},
    )
    assert event_types(chime)[-4:] == [
        "AttendeeVideoStopped",
        "AttendeeContentVideoStopped",
        "AttendeeContentLeft",
        "AttendeeCapabilitiesUpdated",
    ]


@pytest.mark.parametrize(
    ("capabilities", "media"),
    [
        ({"Audio": "None", "Video": "SendReceive", "Content": "SendReceive"}, {"audio": True}),
        ({"Audio": "SendReceive", "Video": "Receive", "Content": "Send"}, {"video": True}),
        ({"Audio": "SendReceive", "Video": "Receive", "Content": "None"}, {"content": True}),
        (
            {"Audio": "SendReceive", "Video": "Receive", "Content": "Send"},
            {"audio": False, "viewing_content": True},
        ),
    ],
)
def test_the_media_plane_honours_capabilities(
    chime_client: Any,
    chime: ChimeEmulator,
    meeting: dict[str, Any],
    capabilities: dict[str, str],
    media: dict[str, bool],
) -> None:
    bob = add_attendee(chime_client, meeting["MeetingId"], Capabilities=capabilities)
    before = len(chime.events)
    with pytest.raises(ValueError, match="capabilities do not allow"):
        chime.connect(meeting["MeetingId"], bob["AttendeeId"], **media)
    assert len(chime.events) == before


def test_media_plane_refusals(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    bob = add_attendee(chime_client, meeting_id)
    with pytest.raises(ValueError, match="at least one"):
        chime.connect(meeting_id, bob["AttendeeId"], audio=False)
    with pytest.raises(ValueError, match="not connected"):
        chime.leave(meeting_id, bob["AttendeeId"])
    with pytest.raises(LookupError):
        chime.connect(meeting_id, "00000000-0000-0000-0000-000000000000")
    sharers = [add_attendee(chime_client, meeting_id, f"sharer-{n}") for n in range(3)]
    chime.connect(meeting_id, sharers[0]["AttendeeId"], content=True)
    chime.connect(meeting_id, sharers[1]["AttendeeId"], content=True)
    with pytest.raises(ValueError, match="2 content shares"):
        chime.connect(meeting_id, sharers[2]["AttendeeId"], content=True)


def test_at_most_25_video_senders(chime_client: Any, chime: ChimeEmulator) -> None:
    meeting = create_meeting(chime_client)
    answer = chime_client.batch_create_attendee(
        MeetingId=meeting["MeetingId"],
        Attendees=[{"ExternalUserId": f"user-{n}"} for n in range(26)],
    )
    attendees = answer["Attendees"]
    for attendee in attendees[:25]:
        chime.connect(meeting["MeetingId"], attendee["AttendeeId"], video=True)
    with pytest.raises(ValueError, match="25 video senders"):
        chime.connect(meeting["MeetingId"], attendees[25]["AttendeeId"], video=True)
    chime.connect(meeting["MeetingId"], attendees[0]["AttendeeId"], video=True)  # reconnect ok


def test_subscribers_get_every_event_in_order(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    received: list[dict[str, Any]] = []
    unsubscribe = chime.subscribe(received.append)
    bob = add_attendee(chime_client, meeting["MeetingId"])
    chime.connect(meeting["MeetingId"], bob["AttendeeId"])
    assert [e["id"] for e in received] == [e["id"] for e in chime.events[1:]]
    unsubscribe()
    chime.leave(meeting["MeetingId"], bob["AttendeeId"])
    assert len(received) == 3


def test_a_failing_subscriber_does_not_break_the_service(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    received: list[str] = []

    def broken(_: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    chime.subscribe(broken)
    chime.subscribe(lambda event: received.append(event["detail"]["eventType"]))
    create_meeting(chime_client)
    assert received == ["chime:MeetingStarted"]


def test_a_subscriber_may_call_the_emulator_back(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    """The events Lambda calls GetMeeting while handling an event: no deadlock."""
    seen: list[str] = []

    def handler(event: dict[str, Any]) -> None:
        got = chime_client.get_meeting(MeetingId=event["detail"]["meetingId"])
        seen.append(got["Meeting"]["MeetingId"])

    chime.subscribe(handler)
    add_attendee(chime_client, meeting["MeetingId"])
    assert seen == [meeting["MeetingId"]]


def test_reset_forgets_everything(chime_client: Any, chime: ChimeEmulator) -> None:
    received: list[Any] = []
    chime.subscribe(received.append)
    create_meeting(chime_client)
    chime.inject_fault("GetMeeting", "ServiceFailureException")
    chime.reset()
    assert (chime.events, chime.open_meeting_ids()) == ([], set())
    create_meeting(chime_client)
    assert len(received) == 1
    with pytest.raises(chime_client.exceptions.NotFoundException):
        chime_client.get_meeting(MeetingId="00000000-0000-0000-0000-000000000000")
