"""The media pipelines service over HTTP with a stock boto3 client: a capture's lifecycle and
events, errors, idempotency, tags, paging, faults and injected failures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from meetings.deployment import MEDIA_PIPELINE_EVENT_DETAIL_TYPE

from local.chime import ChimeEmulator, EmulatorServer
from tests.emulator.conftest import (
    BUCKET,
    concatenate,
    create_meeting,
    event_types,
    memory_store,
    pipeline_events,
    pipeline_status,
    raw_call,
    source_arn,
    start_capture,
)


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
    assert pipeline_events(chime) == [
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
    store = memory_store(chime)
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
    assert memory_store(chime).keys(BUCKET, "rec/audio/") == []  # nothing captured meanwhile
    chime.advance(1)
    assert not chime.pipeline(pipeline_id).failing
    chime.fail_pipeline(pipeline_id, permanent=True)
    assert pipeline_status(pipelines_client, pipeline_id) == "Failed"
    with pytest.raises(ValueError):
        chime.fail_pipeline(pipeline_id)
    assert [kind for kind, _ in pipeline_events(chime)] == [
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
