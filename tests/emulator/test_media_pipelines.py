"""The media pipelines service over HTTP with a stock boto3 client: capture and concatenation
lifecycles, their events, errors, idempotency, tags, paging, faults and failures."""

from __future__ import annotations

import json
import wave
from io import BytesIO
from typing import Any

import pytest
from meetings.deployment import MEDIA_PIPELINE_EVENT_DETAIL_TYPE

from local.chime import ChimeEmulator, EmulatorServer
from local.chime.clock import VirtualClock
from local.chime.pipelines.store import MemoryArtifactStore
from tests.emulator.conftest import (
    BUCKET,
    add_attendee,
    aws_client,
    concatenate,
    create_meeting,
    detail_events,
    event_types,
    pipeline_status,
    raw_call,
    source_arn,
    start_capture,
)


def _store(chime: ChimeEmulator) -> MemoryArtifactStore:
    assert isinstance(chime.artifact_store, MemoryArtifactStore)
    return chime.artifact_store


def _pipeline_events(chime: ChimeEmulator) -> list[tuple[str, str]]:
    return detail_events(chime, MEDIA_PIPELINE_EVENT_DETAIL_TYPE)


def test_a_capture_joins_captures_and_stops_when_deleted(
    pipelines_client: Any, chime: ChimeEmulator, meeting: dict[str, Any], chime_client: Any
) -> None:
    pipeline = start_capture(pipelines_client, meeting["MeetingId"])
    pipeline_id = pipeline["MediaPipelineId"]
    assert pipeline["Status"] == "Initializing"
    assert pipeline["MediaPipelineArn"].endswith(f":123456789012:media-pipeline/{pipeline_id}")
    assert pipeline["SinkArn"] == f"arn:aws:s3:::{BUCKET}/rec"
    assert pipeline_status(pipelines_client, pipeline_id) == "InProgress"
    listed = pipelines_client.list_media_pipelines()["MediaPipelines"]
    assert [item["MediaPipelineId"] for item in listed] == [pipeline_id]
    chime.advance(5)
    assert (
        pipelines_client.delete_media_pipeline(MediaPipelineId=pipeline_id)["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 204
    )
    assert pipeline_status(pipelines_client, pipeline_id) == "Stopped"
    assert pipelines_client.list_media_pipelines()["MediaPipelines"] == []
    assert _pipeline_events(chime) == [
        ("MediaPipelineInProgress", pipeline_id),
        ("MediaPipelineDeleted", pipeline_id),
    ]
    envelope = next(e for e in chime.events if e["detail-type"] == MEDIA_PIPELINE_EVENT_DETAIL_TYPE)
    assert envelope["source"] == "aws.chime"
    assert set(envelope["detail"]) == {
        "version", "eventType", "timestamp", "meetingId", "externalMeetingId",
        "mediaPipelineId", "mediaRegion",
    }  # fmt: skip
    assert envelope["detail"]["meetingId"] == meeting["MeetingId"]
    store = _store(chime)
    assert len(store.keys(BUCKET, "rec/audio/")) == 1
    lines = [
        json.loads(line)
        for key in store.keys(BUCKET, "rec/meeting-events/")
        for line in store.get(BUCKET, key).decode().splitlines()
    ]
    assert [line["EventType"] for line in lines] == ["CaptureStarted", "CaptureEnded"]
    with pytest.raises(pipelines_client.exceptions.NotFoundException):
        pipelines_client.delete_media_pipeline(MediaPipelineId=pipeline_id)
    chime_client.get_meeting(MeetingId=meeting["MeetingId"])  # the meeting goes on


def test_a_capture_stops_when_its_meeting_ends(
    pipelines_client: Any, chime: ChimeEmulator, meeting: dict[str, Any], chime_client: Any
) -> None:
    pipeline_id = start_capture(pipelines_client, meeting["MeetingId"])["MediaPipelineId"]
    assert pipeline_status(pipelines_client, pipeline_id) == "InProgress"
    chime_client.delete_meeting(MeetingId=meeting["MeetingId"])
    assert pipeline_status(pipelines_client, pipeline_id) == "Stopped"
    types = [(item["detail-type"], item["detail"]["eventType"]) for item in chime.events][-2:]
    assert types == [
        ("Chime Meeting State Change", "chime:MeetingEnded"),
        (MEDIA_PIPELINE_EVENT_DETAIL_TYPE, "chime:MediaPipelineDeleted"),
    ]


def test_a_capture_counts_like_an_attendees_audio_for_the_auto_end_rules(
    pipelines_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    meeting_id = meeting["MeetingId"]
    pipeline_id = start_capture(pipelines_client, meeting_id)["MediaPipelineId"]
    assert pipeline_status(pipelines_client, pipeline_id) == "InProgress"
    chime.advance(600)  # no attendee's audio, yet no 5-minute end: the pipeline is audio
    assert chime.end_reason(meeting_id) is None
    pipelines_client.delete_media_pipeline(MediaPipelineId=pipeline_id)
    chime.advance(301)
    assert chime.end_reason(meeting_id) == "no_audio_5min"


def test_a_meeting_alone_with_its_capture_ends_by_the_30_minute_rule(
    pipelines_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    start_capture(pipelines_client, meeting["MeetingId"])
    chime.tick()  # the pipeline joins
    chime.advance(1801)  # fewer than two audio connections for more than 30 minutes
    assert chime.end_reason(meeting["MeetingId"]) == "single_attendee_30min"


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
    assert _pipeline_events(chime) == [
        ("MediaPipelineInProgress", capture["MediaPipelineId"]),
        ("MediaPipelineDeleted", capture["MediaPipelineId"]),
        ("MediaPipelineInProgress", concat_id),
        ("MediaPipelineDeleted", concat_id),
    ]
    last = chime.events[-1]["detail"]
    assert last["meetingId"] == meeting_id and last["mediaPipelineId"] == concat_id
    store = _store(chime)
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
    assert _store(chime).keys(BUCKET, concat_id) == [f"{concat_id}/audio/{concat_id}.wav"]
    assert _store(chime).keys(BUCKET, capture["MediaPipelineId"])


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        ({"SourceArn": source_arn("00000000-0000-0000-0000-000000000000")}, "does not exist"),
        ({"SourceArn": "arn:aws:chime::999999999999:meeting:x"}, "this account"),
        ({"SinkArn": "arn:aws:sqs:us-east-1:123456789012:queue"}, "S3 bucket ARN"),
        ({"SourceType": "Meeting"}, "enum value set"),
        ({"SinkArn": "arn:aws:s3:::b@d"}, "regular expression"),
        (
            {
                "ChimeSdkMeetingConfiguration": {
                    "ArtifactsConfiguration": {
                        "Audio": {"MuxType": "AudioWithCompositedVideo"},
                        "Video": {"State": "Disabled"},
                        "Content": {"State": "Disabled"},
                    }
                }
            },
            "CompositedVideo",
        ),
        ({"Tags": [{"Key": "aws:x", "Value": "v"}]}, "reserved prefix"),
    ],
)
def test_invalid_captures_are_bad_requests_and_change_nothing(
    chime: ChimeEmulator,
    chime_server: EmulatorServer,
    meeting: dict[str, Any],
    change: dict[str, Any],
    phrase: str,
) -> None:
    body = {
        "SourceType": "ChimeSdkMeeting",
        "SourceArn": source_arn(meeting["MeetingId"]),
        "SinkType": "S3Bucket",
        "SinkArn": f"arn:aws:s3:::{BUCKET}",
        **change,
    }
    status, answer = raw_call(
        chime_server.endpoint_url, "POST", "/sdk-media-capture-pipelines", body
    )
    assert status == 400 and phrase in answer["Message"]
    assert chime.pipeline_ids() == []


def test_a_capture_of_an_ended_meeting_or_a_second_one_is_refused(
    pipelines_client: Any, chime_client: Any, meeting: dict[str, Any]
) -> None:
    start_capture(pipelines_client, meeting["MeetingId"])
    with pytest.raises(pipelines_client.exceptions.ResourceLimitExceededException):
        start_capture(pipelines_client, meeting["MeetingId"])
    chime_client.delete_meeting(MeetingId=meeting["MeetingId"])
    with pytest.raises(pipelines_client.exceptions.BadRequestException) as caught:
        start_capture(pipelines_client, meeting["MeetingId"])
    assert caught.value.response["Error"]["Message"] == "The meeting has ended"


def test_the_client_request_token_makes_creation_idempotent(
    pipelines_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    first = start_capture(pipelines_client, meeting["MeetingId"], ClientRequestToken="rec-1")
    again = start_capture(pipelines_client, meeting["MeetingId"], ClientRequestToken="rec-1")
    assert again["MediaPipelineId"] == first["MediaPipelineId"]
    assert again["Status"] == "InProgress"  # the same pipeline, as it is now
    with pytest.raises(pipelines_client.exceptions.BadRequestException):
        start_capture(
            pipelines_client,
            meeting["MeetingId"],
            sink=f"arn:aws:s3:::{BUCKET}/other",
            ClientRequestToken="rec-1",
        )
    concat = concatenate(pipelines_client, first["MediaPipelineArn"])
    assert chime.pipeline_ids() == [first["MediaPipelineId"], concat["MediaPipelineId"]]
    assert chime.pipeline_ids(meeting["MeetingId"]) == chime.pipeline_ids()


def test_unknown_pipelines_and_arns(pipelines_client: Any, chime: ChimeEmulator) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(pipelines_client.exceptions.NotFoundException):
        pipelines_client.get_media_pipeline(MediaPipelineId=unknown)
    with pytest.raises(pipelines_client.exceptions.NotFoundException):
        pipelines_client.delete_media_pipeline(MediaPipelineId=unknown)
    with pytest.raises(pipelines_client.exceptions.BadRequestException):
        pipelines_client.get_media_pipeline(MediaPipelineId="x" * 36)
    arn = f"arn:aws:chime:us-east-1:123456789012:media-pipeline/{unknown}"
    with pytest.raises(pipelines_client.exceptions.NotFoundException):
        pipelines_client.list_tags_for_resource(ResourceARN=arn)
    with pytest.raises(pipelines_client.exceptions.BadRequestException):
        concatenate(pipelines_client, arn)
    with pytest.raises(KeyError):
        chime.pipeline(unknown)


def test_tags_on_pipelines_and_on_meetings_share_the_tags_path(
    pipelines_client: Any, chime_client: Any, meeting: dict[str, Any]
) -> None:
    arn = start_capture(
        pipelines_client, meeting["MeetingId"], Tags=[{"Key": "team", "Value": "a"}]
    )["MediaPipelineArn"]
    pipelines_client.tag_resource(ResourceARN=arn, Tags=[{"Key": "cost", "Value": "b"}])
    pipelines_client.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert pipelines_client.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "cost", "Value": "b"}
    ]
    meeting_arn = meeting["MeetingArn"]
    chime_client.tag_resource(ResourceARN=meeting_arn, Tags=[{"Key": "room", "Value": "c"}])
    assert chime_client.list_tags_for_resource(ResourceARN=meeting_arn)["Tags"] == [
        {"Key": "room", "Value": "c"}
    ]


def test_listing_pages_through_running_pipelines(pipelines_client: Any, chime_client: Any) -> None:
    ids = [
        start_capture(pipelines_client, create_meeting(chime_client)["MeetingId"])[
            "MediaPipelineId"
        ]
        for _ in range(3)
    ]
    first = pipelines_client.list_media_pipelines(MaxResults=2)
    rest = pipelines_client.list_media_pipelines(MaxResults=2, NextToken=first["NextToken"])
    seen = [p["MediaPipelineId"] for p in first["MediaPipelines"] + rest["MediaPipelines"]]
    assert seen == ids and "NextToken" not in rest
    captures = pipelines_client.list_media_capture_pipelines()["MediaCapturePipelines"]
    assert [p["MediaPipelineId"] for p in captures] == ids
    with pytest.raises(pipelines_client.exceptions.BadRequestException):
        pipelines_client.list_media_pipelines(NextToken="garbage")


def test_faults_take_the_services_own_error_shapes(
    pipelines_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    chime.inject_fault("CreateMediaCapturePipeline", "ThrottledClientException", count=1)
    with pytest.raises(pipelines_client.exceptions.ThrottledClientException) as caught:
        start_capture(pipelines_client, meeting["MeetingId"])
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert chime.pipeline_ids() == []
    start_capture(pipelines_client, meeting["MeetingId"])
    with pytest.raises(ValueError, match="unknown error"):
        chime.inject_fault("GetMediaPipeline", "ThrottlingException")  # a meetings shape


def test_injected_pipeline_failures_pause_or_end_the_capture(
    pipelines_client: Any, chime: ChimeEmulator, chime_client: Any
) -> None:
    first = create_meeting(chime_client)
    pipeline_id = start_capture(pipelines_client, first["MeetingId"])["MediaPipelineId"]
    chime.tick()
    chime.fail_pipeline(pipeline_id)
    assert chime.pipeline(pipeline_id).failing
    chime.advance(4)
    assert _store(chime).keys(BUCKET, "rec/audio/") == []  # nothing captured meanwhile
    chime.advance(1)
    assert not chime.pipeline(pipeline_id).failing
    chime.fail_pipeline(pipeline_id, permanent=True)
    assert pipeline_status(pipelines_client, pipeline_id) == "Failed"
    with pytest.raises(ValueError):
        chime.fail_pipeline(pipeline_id)
    assert [kind for kind, _ in _pipeline_events(chime)] == [
        "MediaPipelineInProgress",
        "MediaPipelineTemporaryFailure",
        "MediaPipelineResumed",
        "MediaPipelinePermanentFailure",
    ]
    assert "MeetingEnded" not in event_types(chime)  # a failed pipeline leaves the meeting be


def test_operations_the_emulator_does_not_serve_answer_501(
    chime: ChimeEmulator, chime_server: EmulatorServer
) -> None:
    path = "/media-insights-pipeline-configurations"
    status, answer = raw_call(chime_server.endpoint_url, "GET", path)
    assert status == 501 and "does not implement" in answer["message"]


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
    assert [kind for kind, _ in _pipeline_events(chime)] == [
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
    names = [key.removeprefix("rec/") for key in _store(chime).keys(BUCKET, "rec/")]
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
    video = _store(chime).get(BUCKET, f"final/video/{concat_id}.y4m")
    assert video.count(b"FRAME\n") == 2  # the camera and the content share
    assert _store(chime).keys(BUCKET, f"final/composited-video/{concat_id}")
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
    assert _pipeline_events(chime) == [("MediaPipelineDeleted", pipeline_id)]
