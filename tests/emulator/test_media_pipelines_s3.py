"""Artifacts in a real S3 API (moto's server): a recorded meeting's chunks and its
concatenation are objects a boto3 `s3` client reads back as valid files."""

from __future__ import annotations

import json
import logging
import wave
from collections.abc import Iterator
from io import BytesIO

import pytest
from moto.server import ThreadedMotoServer

from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer
from tests.emulator.conftest import (
    aws_client,
    concatenate,
    pipeline_status,
    source_arn,
    start_capture,
)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_a_recording_lands_in_s3_as_valid_files(s3_endpoint: str) -> None:
    s3 = aws_client("s3", s3_endpoint)
    s3.create_bucket(Bucket="meetings-recordings")
    chime = ChimeEmulator(EmulatorConfig(s3_endpoint_url=s3_endpoint), start_ms=1_800_000_000_000)
    with EmulatorServer(chime) as server:
        meetings = aws_client("chime-sdk-meetings", server.endpoint_url)
        pipelines = aws_client("chime-sdk-media-pipelines", server.endpoint_url)
        meeting_id = meetings.create_meeting(MediaRegion="eu-west-1", ExternalMeetingId="room")[
            "Meeting"
        ]["MeetingId"]
        with pytest.raises(pipelines.exceptions.BadRequestException, match="bucket"):
            start_capture(pipelines, meeting_id, sink="arn:aws:s3:::no-such-bucket")
        alice = meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="alice")
        chime.connect(meeting_id, alice["Attendee"]["AttendeeId"], audio=True)
        capture = start_capture(
            pipelines, meeting_id, sink="arn:aws:s3:::meetings-recordings/recordings/m1/r1"
        )
        meetings.start_meeting_transcription(
            MeetingId=meeting_id,
            TranscriptionConfiguration={"EngineTranscribeSettings": {"LanguageCode": "en-US"}},
        )
        chime.say(meeting_id, alice["Attendee"]["AttendeeId"], "Recording works.")
        chime.advance(5)
        chime.tick()
        meetings.delete_meeting(MeetingId=meeting_id)
        concat_id = concatenate(
            pipelines,
            capture["MediaPipelineArn"],
            destination="arn:aws:s3:::meetings-recordings/recordings/m1/r1/final",
        )["MediaPipelineId"]
        chime.tick()
        chime.advance(1)
        assert pipeline_status(pipelines, concat_id) == "Stopped"
        assert source_arn(meeting_id) == capture["SourceArn"]

    listed = s3.list_objects_v2(Bucket="meetings-recordings", Prefix="recordings/m1/r1/final/")
    keys = sorted(item["Key"] for item in listed["Contents"])
    prefix = "recordings/m1/r1/final"
    assert keys == [
        f"{prefix}/audio/{concat_id}.wav",
        f"{prefix}/meeting-events/{concat_id}.txt",
        f"{prefix}/transcription-messages/{concat_id}.txt",
    ]
    audio = s3.get_object(Bucket="meetings-recordings", Key=keys[0])
    assert audio["ContentType"] == "audio/wav"
    with wave.open(BytesIO(audio["Body"].read())) as sound:
        assert sound.getnframes() == 800 and sound.getframerate() == 8000
    transcript = s3.get_object(Bucket="meetings-recordings", Key=keys[2])["Body"].read()
    messages = [json.loads(line) for line in transcript.decode().splitlines()]
    finals = [
        result["alternatives"][0]["transcript"]
        for message in messages
        if "transcript" in message
        for result in message["transcript"]["results"]
        if not result["isPartial"]
    ]
    assert finals == ["Recording works."]
    chunks = s3.list_objects_v2(Bucket="meetings-recordings", Prefix="recordings/m1/r1/audio/")
    assert [item["Key"] for item in chunks["Contents"]] == [
        "recordings/m1/r1/audio/2027-01-15-08-00-05-000.wav"
    ]
