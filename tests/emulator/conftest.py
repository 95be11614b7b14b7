"""Helpers for the emulator's own tests."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any
from urllib.error import HTTPError

import boto3
import pytest
from botocore.config import Config
from meetings.deployment import MEDIA_PIPELINE_EVENT_DETAIL_TYPE

from local.chime import ChimeEmulator, EmulatorServer
from local.chime.pipelines.store import MemoryArtifactStore


def create_meeting(client: Any, **overrides: Any) -> dict[str, Any]:
    request = {"MediaRegion": "us-east-1", "ExternalMeetingId": "room-42", **overrides}
    return client.create_meeting(**request)["Meeting"]  # type: ignore[no-any-return]


def add_attendee(client: Any, meeting_id: str, user: str = "bob", **extra: Any) -> dict[str, Any]:
    answer = client.create_attendee(MeetingId=meeting_id, ExternalUserId=user, **extra)
    return answer["Attendee"]  # type: ignore[no-any-return]


def event_types(chime: ChimeEmulator) -> list[str]:
    return [item["detail"]["eventType"].removeprefix("chime:") for item in chime.events]


def unknown_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def meeting(chime_client: Any) -> dict[str, Any]:
    return create_meeting(chime_client)


def raw_call(endpoint_url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """An unsigned HTTP call, for input boto3 refuses to send (it checks minimum lengths)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(endpoint_url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except HTTPError as error:
        return error.code, json.loads(error.read())


ACCOUNT_ID = "123456789012"  # EmulatorConfig's default account
BUCKET = "recordings"
ALL_KINDS = (
    "Audio",
    "Video",
    "Content",
    "DataChannel",
    "TranscriptionMessages",
    "MeetingEvents",
    "CompositedVideo",
)


def aws_client(service: str, endpoint_url: str, region: str = "us-east-1") -> Any:
    """A stock boto3 client to a local endpoint: dummy credentials, no retries."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def pipelines_client(chime: ChimeEmulator, chime_server: EmulatorServer) -> Any:
    """A stock boto3 `chime-sdk-media-pipelines` client to the same emulator server."""
    return aws_client("chime-sdk-media-pipelines", chime_server.endpoint_url)


def source_arn(meeting_id: str, account_id: str = ACCOUNT_ID) -> str:
    return f"arn:aws:chime::{account_id}:meeting:{meeting_id}"


def start_capture(
    client: Any,
    meeting_id: str,
    sink: str = f"arn:aws:s3:::{BUCKET}/rec",
    account_id: str = ACCOUNT_ID,
    **extra: Any,
) -> dict[str, Any]:
    answer = client.create_media_capture_pipeline(
        SourceType="ChimeSdkMeeting",
        SourceArn=source_arn(meeting_id, account_id),
        SinkType="S3Bucket",
        SinkArn=sink,
        **extra,
    )
    return answer["MediaCapturePipeline"]  # type: ignore[no-any-return]


def concatenate(
    client: Any,
    capture_arn: str,
    destination: str = f"arn:aws:s3:::{BUCKET}/final",
    disabled: tuple[str, ...] = (),
) -> dict[str, Any]:
    kinds = {kind: {"State": "Disabled" if kind in disabled else "Enabled"} for kind in ALL_KINDS}
    answer = client.create_media_concatenation_pipeline(
        Sources=[
            {
                "Type": "MediaCapturePipeline",
                "MediaCapturePipelineSourceConfiguration": {
                    "MediaPipelineArn": capture_arn,
                    "ChimeSdkMeetingConfiguration": {"ArtifactsConfiguration": kinds},
                },
            }
        ],
        Sinks=[{"Type": "S3Bucket", "S3BucketSinkConfiguration": {"Destination": destination}}],
    )
    return answer["MediaConcatenationPipeline"]  # type: ignore[no-any-return]


def pipeline_status(client: Any, pipeline_id: str) -> str:
    found = client.get_media_pipeline(MediaPipelineId=pipeline_id)["MediaPipeline"]
    view = found.get("MediaCapturePipeline") or found["MediaConcatenationPipeline"]
    return str(view["Status"])


def detail_events(chime: ChimeEmulator, detail_type: str) -> list[tuple[str, str]]:
    """(eventType without `chime:`, mediaPipelineId or "") of one detail-type's events."""
    return [
        (
            item["detail"]["eventType"].removeprefix("chime:"),
            item["detail"].get("mediaPipelineId", ""),
        )
        for item in chime.events
        if item["detail-type"] == detail_type
    ]


def pipeline_events(chime: ChimeEmulator) -> list[tuple[str, str]]:
    """(eventType, mediaPipelineId) of every `Chime Media Pipeline State Change` event."""
    return detail_events(chime, MEDIA_PIPELINE_EVENT_DETAIL_TYPE)


def memory_store(chime: ChimeEmulator) -> MemoryArtifactStore:
    assert isinstance(chime.artifact_store, MemoryArtifactStore)
    return chime.artifact_store
