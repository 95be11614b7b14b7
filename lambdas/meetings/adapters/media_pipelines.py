"""Amazon Chime SDK media pipelines (capture and concatenation) behind the MediaPipelines
port; every failure becomes a domain error.

Captures write their chunks to the recordings bucket under the recording's prefix; the
concatenation writes one file per artifact kind under the recording's output prefix (Chime's
folder names: audio/, video/, composited-video/, transcription-messages/, meeting-events/).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from meetings.adapters import aws_clients
from meetings.adapters.chime import DEFAULT_RETRY_AFTER_SECONDS, domain_error_for
from meetings.domain.errors import (
    ChimeResourceGoneError,
    ThrottledError,
    UpstreamUnavailableError,
)
from meetings.domain.recording import RecordingOptions
from meetings.service.ports import CapturePipeline

if TYPE_CHECKING:
    from mypy_boto3_chime_sdk_media_pipelines import ChimeSDKMediaPipelinesClient

PIPELINE_LIMIT_RETRY_AFTER_SECONDS: Final = 60


@contextmanager
def _translated(operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ThrottledClientException":
            raise ThrottledError(retry_after=DEFAULT_RETRY_AFTER_SECONDS) from error
        if code == "ResourceLimitExceededException":
            raise UpstreamUnavailableError(
                "the account's limit of media pipelines is reached, retry later",
                retry_after=PIPELINE_LIMIT_RETRY_AFTER_SECONDS,
            ) from error
        raise domain_error_for(error, operation) from error
    except BotoCoreError as error:
        raise UpstreamUnavailableError(retry_after=DEFAULT_RETRY_AFTER_SECONDS) from error


def _state(enabled: bool) -> dict[str, str]:
    return {"State": "Enabled" if enabled else "Disabled"}


def capture_artifacts(options: RecordingOptions) -> dict[str, Any]:
    """ArtifactsConfiguration of a capture."""
    artifacts: dict[str, Any] = {
        "Audio": {"MuxType": options.audio},
        "Video": {**_state(options.video), **({"MuxType": "VideoOnly"} if options.video else {})},
        "Content": {
            **_state(options.content),
            **({"MuxType": "ContentOnly"} if options.content else {}),
        },
    }
    if options.composited:
        artifacts["CompositedVideo"] = {
            "Layout": "GridView",
            "Resolution": options.resolution,
            "GridViewConfiguration": {"ContentShareLayout": options.layout},
        }
    return artifacts


def concatenation_artifacts(options: RecordingOptions) -> dict[str, Any]:
    """ArtifactsConfiguration of a concatenation: what the capture recorded, plus its
    transcription messages and meeting events (data-channel messages are not kept)."""
    return {
        "Audio": {"State": "Enabled"},
        "Video": _state(options.video),
        "Content": _state(options.content),
        "DataChannel": _state(False),
        "TranscriptionMessages": _state(True),
        "MeetingEvents": _state(True),
        "CompositedVideo": _state(options.composited),
    }


class MediaPipelinesGateway:
    """The media pipeline calls (port: MediaPipelines)."""

    def __init__(
        self,
        bucket: str,
        account_id: str,
        client: ChimeSDKMediaPipelinesClient | None = None,
    ) -> None:
        self._bucket = bucket
        self._account_id = account_id
        self._client = client

    @property
    def client(self) -> ChimeSDKMediaPipelinesClient:
        if self._client is None:
            self._client = aws_clients.media_pipelines_client()
        return self._client

    def _sink(self, prefix: str) -> str:
        return f"arn:aws:s3:::{self._bucket}/{prefix}"

    def meeting_arn(self, meeting_id: str) -> str:
        # The form Chime's media pipeline guide gives for a meeting source (no Region).
        return f"arn:aws:chime::{self._account_id}:meeting:{meeting_id}"

    def create_capture(
        self,
        *,
        meeting_id: str,
        client_request_token: str,
        sink_prefix: str,
        options: RecordingOptions,
    ) -> CapturePipeline:
        configuration: Any = {"ArtifactsConfiguration": capture_artifacts(options)}
        with _translated("CreateMediaCapturePipeline"):
            answer: Any = self.client.create_media_capture_pipeline(
                SourceType="ChimeSdkMeeting",
                SourceArn=self.meeting_arn(meeting_id),
                SinkType="S3Bucket",
                SinkArn=self._sink(sink_prefix),
                ClientRequestToken=client_request_token,
                ChimeSdkMeetingConfiguration=configuration,
            )
        pipeline = answer["MediaCapturePipeline"]
        return CapturePipeline(pipeline["MediaPipelineId"], pipeline["MediaPipelineArn"])

    def create_concatenation(
        self,
        *,
        client_request_token: str,
        capture_arn: str,
        sink_prefix: str,
        options: RecordingOptions,
    ) -> str:
        source = {
            "Type": "MediaCapturePipeline",
            "MediaCapturePipelineSourceConfiguration": {
                "MediaPipelineArn": capture_arn,
                "ChimeSdkMeetingConfiguration": {
                    "ArtifactsConfiguration": concatenation_artifacts(options)
                },
            },
        }
        sink = {
            "Type": "S3Bucket",
            "S3BucketSinkConfiguration": {"Destination": self._sink(sink_prefix)},
        }
        with _translated("CreateMediaConcatenationPipeline"):
            answer: Any = self.client.create_media_concatenation_pipeline(
                Sources=[source],  # type: ignore[list-item]
                Sinks=[sink],  # type: ignore[list-item]
                ClientRequestToken=client_request_token,
            )
        return str(answer["MediaConcatenationPipeline"]["MediaPipelineId"])

    def get_status(self, pipeline_id: str) -> str | None:
        try:
            with _translated("GetMediaPipeline"):
                answer: Any = self.client.get_media_pipeline(MediaPipelineId=pipeline_id)
        except ChimeResourceGoneError:
            return None
        pipeline = answer.get("MediaPipeline") or {}
        for kind in ("MediaCapturePipeline", "MediaConcatenationPipeline"):
            if kind in pipeline:
                return str(pipeline[kind].get("Status") or "") or None
        return None

    def delete(self, pipeline_id: str) -> bool:
        try:
            with _translated("DeleteMediaPipeline"):
                self.client.delete_media_pipeline(MediaPipelineId=pipeline_id)
        except ChimeResourceGoneError:
            return False
        return True
