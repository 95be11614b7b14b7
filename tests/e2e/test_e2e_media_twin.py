"""The offline twin of recording and transcription in the local stack: the functions' endpoint
variables reach one emulator port for both Chime services and moto's S3 for the artifacts;
control routes make an attendee speak, fail a pipeline, and show the emulator's truth."""

from __future__ import annotations

import json
import wave
from io import BytesIO
from typing import Any

from local.stack import ACCOUNT_ID, LocalStack
from tests.emulator.conftest import aws_client, concatenate, start_capture


def _chime(service: str, environment: dict[str, str], variable: str) -> Any:
    return aws_client(service, environment[variable], environment["AWS_REGION"])


def test_record_a_meeting_with_speech_and_concatenate_it(
    api: Any, unique: Any, wait: Any, local_stack: LocalStack
) -> None:
    environment = local_stack.function_environment()
    assert environment["ACCOUNT_ID"] == ACCOUNT_ID == "123456789012"
    bucket = environment["RECORDINGS_BUCKET"]
    pipelines = _chime(
        "chime-sdk-media-pipelines", environment, "AWS_ENDPOINT_URL_CHIME_SDK_MEDIA_PIPELINES"
    )
    meetings = _chime("chime-sdk-meetings", environment, "AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS")
    host = api.token(unique("host"))
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]
    attendee_id = api.request("POST", f"/meetings/{meeting_id}/attendees", token=host).json[
        "Attendee"
    ]["AttendeeId"]
    media = f"/_local/meetings/{meeting_id}/attendees/{attendee_id}"
    assert api.request("POST", f"{media}/connect", body={"audio": True}).status == 200

    prefix = f"recordings/{meeting_id}/r1"
    sink = f"arn:aws:s3:::{bucket}/{prefix}"
    capture = start_capture(pipelines, meeting_id, sink=sink, account_id=ACCOUNT_ID)
    assert capture["SourceArn"] == f"arn:aws:chime::{ACCOUNT_ID}:meeting:{meeting_id}"
    meetings.start_meeting_transcription(
        MeetingId=meeting_id,
        TranscriptionConfiguration={"EngineTranscribeSettings": {"LanguageCode": "en-US"}},
    )
    said = api.request("POST", f"{media}/say", body={"text": "Hello from the twin."})
    assert said.status == 200 and said.json["messages"][1]["transcript"]["results"]
    assert api.request("POST", f"{media}/say", body={"text": ""}).status == 400

    fail = f"/_local/media-pipelines/{capture['MediaPipelineId']}/fail"
    assert api.request("POST", fail, body={"permanent": "yes"}).status == 400
    assert api.request("POST", "/_local/clock/advance", body={"seconds": 6}).status == 200
    assert api.request("DELETE", f"/meetings/{meeting_id}", token=host).status == 200
    truth = api.request("GET", f"/_local/truth/meetings/{meeting_id}").json
    assert [(p["kind"], p["status"]) for p in truth["mediaPipelines"]] == [("capture", "Stopped")]
    assert api.request("POST", fail, body={}).status == 409

    concat_id = concatenate(
        pipelines, capture["MediaPipelineArn"], destination=f"arn:aws:s3:::{bucket}/{prefix}/final"
    )["MediaPipelineId"]

    def concatenated() -> Any:  # the emulator follows the world clock, ticking every second
        view = api.request("GET", f"/_local/truth/media-pipelines/{concat_id}").json
        return view if view["status"] == "Stopped" else None

    view = wait(concatenated)
    s3 = local_stack.client("s3")
    final = f"{prefix}/final"
    assert sorted(view["keys"]) == [
        f"{final}/audio/{concat_id}.wav",
        f"{final}/meeting-events/{concat_id}.txt",
        f"{final}/transcription-messages/{concat_id}.txt",
    ]
    audio = s3.get_object(Bucket=bucket, Key=f"{final}/audio/{concat_id}.wav")["Body"].read()
    with wave.open(BytesIO(audio)) as sound:
        assert sound.getnframes() > 0
    text = s3.get_object(Bucket=bucket, Key=f"{final}/transcription-messages/{concat_id}.txt")
    lines = [json.loads(line) for line in text["Body"].read().decode().splitlines()]
    assert said.json["messages"][1] in lines
