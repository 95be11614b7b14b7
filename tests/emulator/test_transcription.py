"""Live transcription: its events and their detail, failures on demand, and a simulated
attendee's sentence becoming transcript messages in every running capture."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.chime import ChimeEmulator, ChimeError
from local.chime.pipelines.store import MemoryArtifactStore
from tests.emulator.conftest import BUCKET, add_attendee, event_types, start_capture

ENGLISH = {"EngineTranscribeSettings": {"LanguageCode": "en-US", "Region": "us-west-2"}}


def _start(client: Any, meeting_id: str, configuration: dict[str, Any] = ENGLISH) -> None:
    client.start_meeting_transcription(
        MeetingId=meeting_id, TranscriptionConfiguration=configuration
    )


def _details(chime: ChimeEmulator, prefix: str = "chime:Transcription") -> list[dict[str, Any]]:
    return [e["detail"] for e in chime.events if e["detail"]["eventType"].startswith(prefix)]


def test_transcription_events_carry_region_and_configuration(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    _start(chime_client, meeting_id)
    chime_client.stop_meeting_transcription(MeetingId=meeting_id)
    _start(chime_client, meeting_id, {"EngineTranscribeSettings": {"IdentifyLanguage": True}})
    chime_client.delete_meeting(MeetingId=meeting_id)
    details = _details(chime)
    assert [d["eventType"] for d in details] == [
        "chime:TranscriptionStarted",
        "chime:TranscriptionStopped",
        "chime:TranscriptionStarted",
        "chime:TranscriptionStopped",  # the meeting's end stops it, before MeetingEnded
    ]
    assert event_types(chime)[-1] == "MeetingEnded"
    assert details[0]["transcriptionRegion"] == "us-west-2"
    assert json.loads(details[0]["transcriptionConfiguration"]) == ENGLISH
    assert details[2]["transcriptionRegion"] == meeting["MediaRegion"]  # auto: the closest


def test_said_sentences_become_partial_and_final_transcript_messages_in_captures(
    chime_client: Any, pipelines_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    alice = add_attendee(chime_client, meeting_id, "alice")
    chime.connect(meeting_id, alice["AttendeeId"], audio=True)
    start_capture(pipelines_client, meeting_id)
    assert chime.say(meeting_id, alice["AttendeeId"], "Nobody is listening.") == []
    _start(chime_client, meeting_id)
    partial, final = chime.say(meeting_id, alice["AttendeeId"], "Hello there, Bob!")
    first = partial["transcript"]["results"][0]
    last = final["transcript"]["results"][0]
    assert (first["isPartial"], last["isPartial"]) == (True, False)
    assert first["resultId"] == last["resultId"]
    assert first["alternatives"][0]["transcript"] == "Hello there"
    assert last["alternatives"][0]["transcript"] == "Hello there, Bob!"
    assert last["languageCode"] == "en-US"
    items = last["alternatives"][0]["items"]
    assert [(i["type"], i["content"]) for i in items] == [
        ("pronunciation", "Hello"),
        ("pronunciation", "there"),
        ("punctuation", ","),
        ("pronunciation", "Bob"),
        ("punctuation", "!"),
    ]
    assert items[0]["attendee"] == {
        "attendeeId": alice["AttendeeId"],
        "externalUserId": "alice",
    }
    chime_client.delete_meeting(MeetingId=meeting_id)
    store = chime.artifact_store
    assert isinstance(store, MemoryArtifactStore)
    lines = [
        json.loads(line)
        for key in store.keys(BUCKET, "rec/transcription-messages/")
        for line in store.get(BUCKET, key).decode().splitlines()
    ]
    assert [next(iter(line)) for line in lines] == ["status", "transcript", "transcript", "status"]
    assert [line["status"]["type"] for line in (lines[0], lines[-1])] == ["started", "stopped"]
    assert lines[1:3] == [partial, final]


def test_only_a_connected_attendee_with_audio_can_say_something(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    bob = add_attendee(chime_client, meeting_id, "bob")
    with pytest.raises(ValueError, match="not connected with audio"):
        chime.say(meeting_id, bob["AttendeeId"], "Hello")
    chime.connect(meeting_id, bob["AttendeeId"], audio=True)
    with pytest.raises(ValueError, match="at least one word"):
        chime.say(meeting_id, bob["AttendeeId"], "?!")
    with pytest.raises(LookupError):
        chime.say(meeting_id, "00000000-0000-0000-0000-000000000000", "Hello")


def test_injected_transcription_failures(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    alice = add_attendee(chime_client, meeting_id, "alice")
    chime.connect(meeting_id, alice["AttendeeId"], audio=True)
    with pytest.raises(ValueError, match="not active"):
        chime.fail_transcription(meeting_id)
    _start(chime_client, meeting_id)
    chime.fail_transcription(meeting_id)
    assert chime.say(meeting_id, alice["AttendeeId"], "Lost words") == []
    chime.advance(5)
    assert len(chime.say(meeting_id, alice["AttendeeId"], "Heard again")) == 2
    chime.fail_transcription(meeting_id, permanent=True)
    assert not chime.transcription_active(meeting_id)
    details = _details(chime)
    assert [d["eventType"].removeprefix("chime:") for d in details] == [
        "TranscriptionStarted",
        "TranscriptionInterrupted",
        "TranscriptionResumed",
        "TranscriptionFailed",
    ]
    assert details[1]["message"] and details[3]["message"]
    assert details[2]["timestamp"] == details[1]["timestamp"] + 5000
    chime.fail_transcription(meeting_id, next_start=True)
    _start(chime_client, meeting_id)  # accepted, then it fails without starting
    assert not chime.transcription_active(meeting_id)
    assert _details(chime)[-1]["eventType"] == "chime:TranscriptionFailed"
    _start(chime_client, meeting_id)  # the next start works
    assert chime.transcription_active(meeting_id)
    chime_client.delete_meeting(MeetingId=meeting_id)
    with pytest.raises(ChimeError):
        chime.fail_transcription(meeting_id)
