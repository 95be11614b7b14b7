"""A recorded meeting over the local stack: created with recording and transcription that start
with the first attendee, two simulated attendees, a sentence said, the meeting ended — then the
concatenated audio and transcription messages downloaded from their links and the transcript
read, as a client app would."""

from __future__ import annotations

import urllib.request
from typing import Any


def _connect(api: Any, meeting_id: str, attendee_id: str) -> None:
    path = f"/_local/meetings/{meeting_id}/attendees/{attendee_id}/connect"
    assert api.request("POST", path, body={"audio": True}).status == 200


def _download(artifact: dict[str, Any]) -> bytes:
    with urllib.request.urlopen(artifact["url"]) as download:
        data: bytes = download.read()
    assert len(data) == artifact["bytes"]
    return data


def test_record_end_download_and_read_the_transcript(api: Any, unique: Any, wait: Any) -> None:
    alice, bob = api.token(unique("alice")), api.token(unique("bob"))
    body = {"recording": {"auto": True}, "transcription": {"languageCode": "en-US"}}
    created = api.request("POST", "/meetings", token=alice, body=body)
    assert created.status == 201, created.body
    meeting_id = created.json["meeting"]["meetingId"]
    path = f"/meetings/{meeting_id}"
    attendees = [
        api.request("POST", f"{path}/attendees", token=token).json["Attendee"]["AttendeeId"]
        for token in (alice, bob)
    ]
    for attendee_id in attendees:
        _connect(api, meeting_id, attendee_id)

    def recording_and_transcription() -> Any:
        view = api.request("GET", path, token=alice).json["meeting"]
        transcription = view["transcription"] or {}
        running = view["recording"] and transcription.get("status") == "STARTED"
        return view if running else None

    view = wait(recording_and_transcription)
    assert view, "the first attendee did not start recording and transcription"
    said = f"/_local/meetings/{meeting_id}/attendees/{attendees[1]}/say"
    assert api.request("POST", said, body={"text": "Bob was here."}).status == 200
    assert api.request("POST", "/_local/clock/advance", body={"seconds": 6}).status == 200
    assert api.request("DELETE", path, token=alice).status == 200
    assert api.request("POST", "/_local/clock/advance", body={"seconds": 2}).status == 200

    def available() -> Any:
        listed = api.request("GET", f"{path}/recordings", token=alice).json["recordings"]
        return listed if listed and listed[0]["status"] == "AVAILABLE" else None

    listed = wait(available, timeout=60)
    assert listed, "the recording did not become AVAILABLE"
    recording_id = listed[0]["recordingId"]
    one = api.request("GET", f"{path}/recordings/{recording_id}", token=alice)
    assert one.headers["cache-control"] == "no-store"
    artifacts = {a["kind"]: a for a in one.json["recording"]["artifacts"]}
    downloaded = {kind: _download(artifacts[kind]) for kind in ("audio", "transcript")}
    assert downloaded["audio"][:4] == b"RIFF"
    assert b"Bob was here." in downloaded["transcript"]  # the raw transcription messages
    transcript = api.request("GET", f"{path}/transcript", token=alice).json["lines"]
    assert [(line["attendeeId"], line["text"]) for line in transcript] == [
        (attendees[1], "Bob was here.")
    ]
