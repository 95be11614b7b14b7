"""Concatenation pipelines and the artifacts behind them: one object per kind from a stopped
capture's chunks, every kind of media, failed writes, and a capture that never joined."""

from __future__ import annotations

import wave
from io import BytesIO
from typing import Any

import pytest

from local.chime import ChimeEmulator, EmulatorServer
from local.chime.clock import VirtualClock
from local.chime.pipelines.store import MemoryArtifactStore
from tests.emulator.conftest import (
    BUCKET,
    add_attendee,
    aws_client,
    concatenate,
    create_meeting,
    memory_store,
    pipeline_events,
    pipeline_status,
    source_arn,
    start_capture,
)


def test_concatenation_waits_for_the_capture_then_writes_one_object_per_kind(
    pipelines_client: Any, chime: ChimeEmulator, meeting: dict[str, Any], chime_client: Any
) -> None:
    meeting_id = meeting["MeetingId"]
    alice = add_attendee(chime_client, meeting_id, "alice")
    capture = start_capture(pipelines_client, meeting_id)
    chime.connect(meeting_id, alice["AttendeeId"], audio=True, video=True)
    for _ in range(3):
        chime.advance(5)
        chime.tick()
    concatenation = concatenate(pipelines_client, capture["MediaPipelineArn"])
    concat_id = concatenation["MediaPipelineId"]
    assert concatenation["Status"] == "Initializing"
    chime.advance(10)
    assert pipeline_status(pipelines_client, concat_id) == "Initializing"  # capture still runs
    chime_client.delete_meeting(MeetingId=meeting_id)
    assert pipeline_status(pipelines_client, concat_id) == "InProgress"
    with pytest.raises(pipelines_client.exceptions.ConflictException):
        pipelines_client.delete_media_pipeline(MediaPipelineId=concat_id)
    chime.advance(1)
    assert pipeline_status(pipelines_client, concat_id) == "Stopped"
    assert pipeline_events(chime) == [
        ("MediaPipelineInProgress", capture["MediaPipelineId"]),
        ("MediaPipelineDeleted", capture["MediaPipelineId"]),
        ("MediaPipelineInProgress", concat_id),
        ("MediaPipelineDeleted", concat_id),
    ]
    last = chime.events[-1]["detail"]
    assert last["meetingId"] == meeting_id and last["mediaPipelineId"] == concat_id
    store = memory_store(chime)
    assert store.keys(BUCKET, "final/") == [
        f"final/{folder}/{concat_id}.{extension}"
        for folder, extension in (
            ("audio", "wav"),
            ("meeting-events", "txt"),
            ("video", "y4m"),
        )
    ]
    chunks = store.keys(BUCKET, "rec/audio/")
    # at 5, 10 and 15 s, then one for the 10 s jump (at most one per catch-up); the end, in
    # that same millisecond, adds no media
    assert len(chunks) == 4
    with wave.open(BytesIO(store.get(BUCKET, f"final/audio/{concat_id}.wav"))) as audio:
        assert (audio.getnchannels(), audio.getframerate(), audio.getsampwidth()) == (1, 8000, 2)
        assert audio.getnframes() == 800 * len(chunks)
    video = store.get(BUCKET, f"final/video/{concat_id}.y4m")
    assert video.startswith(b"YUV4MPEG2 W16 H16") and video.count(b"FRAME\n") == 4
    assert sorted(chime.pipeline(concat_id).keys) == store.keys(BUCKET, "final/")


def test_concatenation_skips_disabled_kinds_and_can_be_cancelled(
    pipelines_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    capture = start_capture(pipelines_client, meeting["MeetingId"], sink=f"arn:aws:s3:::{BUCKET}")
    waiting = concatenate(pipelines_client, capture["MediaPipelineArn"])
    pipelines_client.delete_media_pipeline(MediaPipelineId=waiting["MediaPipelineId"])
    assert pipeline_status(pipelines_client, waiting["MediaPipelineId"]) == "Stopped"
    chime.advance(6)
    pipelines_client.delete_media_pipeline(MediaPipelineId=capture["MediaPipelineId"])
    concat_id = concatenate(
        pipelines_client,
        capture["MediaPipelineArn"],
        destination=f"arn:aws:s3:::{BUCKET}",
        disabled=("MeetingEvents",),
    )["MediaPipelineId"]
    chime.advance(1)
    chime.tick()
    chime.advance(1)
    assert pipeline_status(pipelines_client, concat_id) == "Stopped"
    # without a prefix, each pipeline writes under its own id
    assert memory_store(chime).keys(BUCKET, concat_id) == [f"{concat_id}/audio/{concat_id}.wav"]
    assert memory_store(chime).keys(BUCKET, capture["MediaPipelineId"])


class _RefusingStore(MemoryArtifactStore):
    """Every bucket exists; writes fail while `refusing`."""

    refusing = False

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        if self.refusing:
            raise ConnectionError("S3 is down")
        super().put(bucket, key, body, content_type)


def test_writes_that_fail_are_pipeline_failures() -> None:
    store = _RefusingStore()
    chime = ChimeEmulator(artifact_store=store)
    with EmulatorServer(chime) as server:
        meetings = aws_client("chime-sdk-meetings", server.endpoint_url)
        pipelines = aws_client("chime-sdk-media-pipelines", server.endpoint_url)
        meeting_id = create_meeting(meetings)["MeetingId"]
        capture = start_capture(pipelines, meeting_id)
        chime.tick()
        store.refusing = True
        chime.advance(5)
        assert chime.pipeline(capture["MediaPipelineId"]).failing
        store.refusing = False
        chime.advance(5)  # resumed, and the next chunk is written
        chime.advance(5)
        assert store.keys(BUCKET, "rec/audio/")
        meetings.delete_meeting(MeetingId=meeting_id)
        concat_id = concatenate(pipelines, capture["MediaPipelineArn"])["MediaPipelineId"]
        chime.tick()
        store.refusing = True
        chime.advance(1)
        assert pipeline_status(pipelines, concat_id) == "Failed"
    assert [kind for kind, _ in pipeline_events(chime)] == [
        "MediaPipelineInProgress",
        "MediaPipelineTemporaryFailure",
        "MediaPipelineResumed",
        "MediaPipelineDeleted",
        "MediaPipelineInProgress",
        "MediaPipelinePermanentFailure",
    ]


def test_every_kind_of_media_and_the_older_capture_operations(
    pipelines_client: Any, chime: ChimeEmulator, chime_client: Any, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    alice = add_attendee(chime_client, meeting_id, "alice")["AttendeeId"]
    configuration = {
        "ArtifactsConfiguration": {
            "Audio": {"MuxType": "AudioWithCompositedVideo"},
            "Video": {"State": "Enabled"},
            "Content": {"State": "Enabled"},
            "CompositedVideo": {"GridViewConfiguration": {"ContentShareLayout": "Vertical"}},
        }
    }
    capture = start_capture(
        pipelines_client, meeting_id, ChimeSdkMeetingConfiguration=configuration
    )
    chime.connect(meeting_id, alice, audio=True, video=True, content=True)
    chime.advance(5)
    got = pipelines_client.get_media_capture_pipeline(MediaPipelineId=capture["MediaPipelineId"])
    assert got["MediaCapturePipeline"]["ChimeSdkMeetingConfiguration"] == configuration
    pipelines_client.delete_media_capture_pipeline(MediaPipelineId=capture["MediaPipelineId"])
    names = [key.removeprefix("rec/") for key in memory_store(chime).keys(BUCKET, "rec/")]
    assert [name.split("/")[0] for name in names] == [
        "audio",
        "composited-video",
        "meeting-events",
        "video",
        "video",
    ]
    assert names[-2].endswith(f"-{alice}#content.y4m") and names[-1].endswith(f"-{alice}.y4m")
    concat_id = concatenate(pipelines_client, capture["MediaPipelineArn"])["MediaPipelineId"]
    chime.tick()
    chime.advance(1)
    video = memory_store(chime).get(BUCKET, f"final/video/{concat_id}.y4m")
    assert video.count(b"FRAME\n") == 2  # the camera and the content share
    assert memory_store(chime).keys(BUCKET, f"final/composited-video/{concat_id}")
    with pytest.raises(pipelines_client.exceptions.NotFoundException):
        pipelines_client.get_media_capture_pipeline(MediaPipelineId=concat_id)
    with pytest.raises(pipelines_client.exceptions.NotFoundException):
        pipelines_client.delete_media_capture_pipeline(MediaPipelineId=concat_id)


def test_a_meeting_that_ends_before_its_capture_joins() -> None:
    clock = VirtualClock(start_ms=0)  # a shared clock may jump without the emulator's knowing
    chime = ChimeEmulator(clock=clock)
    request = {"MediaRegion": "us-east-1", "ExternalMeetingId": "room", "ClientRequestToken": "t1"}
    meeting_id = chime.call("CreateMeeting", request)["Meeting"]["MeetingId"]
    capture = {
        "SourceType": "ChimeSdkMeeting",
        "SourceArn": source_arn(meeting_id),
        "SinkType": "S3Bucket",
        "SinkArn": f"arn:aws:s3:::{BUCKET}",
    }
    answer = chime.call_media_pipelines("CreateMediaCapturePipeline", capture)
    pipeline_id = answer["MediaCapturePipeline"]["MediaPipelineId"]
    clock.advance_ms(300_001)
    chime.tick()  # the meeting ends (nobody joined) before the capture could join it
    assert chime.end_reason(meeting_id) == "no_audio_5min"
    assert chime.pipeline(pipeline_id).status == "Stopped"
    assert pipeline_events(chime) == [("MediaPipelineDeleted", pipeline_id)]
