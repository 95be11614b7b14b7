"""What the media pipelines service remembers: capture and concatenation pipelines, and the
chunks a capture has written (kept, so that a concatenation joins exactly what was written)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

# MediaPipelineStatus values the emulator uses (the model lists more).
INITIALIZING: Final = "Initializing"
IN_PROGRESS: Final = "InProgress"
STOPPED: Final = "Stopped"
FAILED: Final = "Failed"
# Artifact folders under the sink prefix, as Chime names them.
AUDIO: Final = "audio"
VIDEO: Final = "video"
COMPOSITED: Final = "composited-video"
MEETING_EVENTS: Final = "meeting-events"
TRANSCRIPTS: Final = "transcription-messages"


def iso(ms: int) -> str:
    """An instant as the model's Iso8601Timestamp (botocore parses it to a datetime)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


@dataclass
class Chunk:
    folder: str
    key: str
    body: bytes
    content_type: str
    content_share: bool = False  # a video chunk of a content share (`<attendeeId>#content`)


@dataclass
class Sink:
    bucket: str
    prefix: str  # no leading or trailing slash; may be empty

    def key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)


@dataclass
class CapturePipeline:
    pipeline_id: str
    arn: str
    meeting_id: str
    request: dict[str, Any]  # the create request's members (without the token)
    sink: Sink
    created_ms: int
    updated_ms: int
    # What to capture: the request's ArtifactsConfiguration, or Chime's defaults.
    artifacts: dict[str, Any] = field(default_factory=dict)
    status: str = INITIALIZING
    tags: dict[str, str] = field(default_factory=dict)
    # A temporary failure in progress: nothing is captured until it resumes at this instant.
    failing_until_ms: int | None = None
    last_chunk_ms: int = 0
    chunks: list[Chunk] = field(default_factory=list)
    pending_events: list[dict[str, Any]] = field(default_factory=list)
    pending_transcripts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def in_meeting(self) -> bool:
        """Joined the meeting (counted like an attendee) until it stops or fails for good."""
        return self.status == IN_PROGRESS

    @property
    def capturing(self) -> bool:
        return self.in_meeting and self.failing_until_ms is None

    def as_api(self) -> dict[str, Any]:
        view = {
            "MediaPipelineId": self.pipeline_id,
            "MediaPipelineArn": self.arn,
            "SourceType": self.request["SourceType"],
            "SourceArn": self.request["SourceArn"],
            "Status": self.status,
            "SinkType": self.request["SinkType"],
            "SinkArn": self.request["SinkArn"],
            "CreatedTimestamp": iso(self.created_ms),
            "UpdatedTimestamp": iso(self.updated_ms),
        }
        for name in ("ChimeSdkMeetingConfiguration", "SseAwsKeyManagementParams", "SinkIamRoleArn"):
            if name in self.request:
                view[name] = copy.deepcopy(self.request[name])
        return view


@dataclass
class ConcatenationPipeline:
    pipeline_id: str
    arn: str
    source_id: str  # the capture pipeline it concatenates
    request: dict[str, Any]
    sink: Sink
    created_ms: int
    updated_ms: int
    status: str = INITIALIZING
    tags: dict[str, str] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)  # keys of the concatenated objects

    def enabled(self) -> set[str]:
        """The artifact kinds (ArtifactsConcatenationConfiguration members) to concatenate."""
        source = self.request["Sources"][0]["MediaCapturePipelineSourceConfiguration"]
        kinds = source["ChimeSdkMeetingConfiguration"]["ArtifactsConfiguration"]
        return {name for name, setting in kinds.items() if setting.get("State") == "Enabled"}

    def as_api(self) -> dict[str, Any]:
        return {
            "MediaPipelineId": self.pipeline_id,
            "MediaPipelineArn": self.arn,
            "Sources": copy.deepcopy(self.request["Sources"]),
            "Sinks": copy.deepcopy(self.request["Sinks"]),
            "Status": self.status,
            "CreatedTimestamp": iso(self.created_ms),
            "UpdatedTimestamp": iso(self.updated_ms),
        }


Pipeline = CapturePipeline | ConcatenationPipeline
