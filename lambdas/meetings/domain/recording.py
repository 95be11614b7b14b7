"""A meeting's recording: its record, its options, and the state machine Chime's media
pipeline events drive (docs/recording.md).

    CAPTURING ──capture stopped──▶ PROCESSING ──concatenated output found──▶ AVAILABLE
        │                              │
        └──────── permanent failure ───┴──────────────────────────────────▶ FAILED

A status only moves forward (CAPTURING < PROCESSING < AVAILABLE | FAILED) and the last two
never change, so an event applied twice, or late, changes nothing: a late
`MediaPipelineInProgress` after `MediaPipelineDeleted` leaves the recording PROCESSING, a
duplicate `Deleted` asks for no second concatenation. What a transition asks the caller to do
next (start the concatenation, look for its output) is returned with it, never done here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from typing import Any, Final

from meetings.deployment import (
    CHIME_EVENT_SOURCE,
    MEDIA_PIPELINE_EVENT_DETAIL_TYPE,
    RECORDINGS_PREFIX,
)


class RecordingStatus(StrEnum):
    CAPTURING = "CAPTURING"
    PROCESSING = "PROCESSING"
    AVAILABLE = "AVAILABLE"
    FAILED = "FAILED"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def is_final(self) -> bool:
        return self in (RecordingStatus.AVAILABLE, RecordingStatus.FAILED)


_RANKS: Final = {
    RecordingStatus.CAPTURING: 0,
    RecordingStatus.PROCESSING: 1,
    RecordingStatus.AVAILABLE: 2,
    RecordingStatus.FAILED: 2,
}


class FailureCode(StrEnum):
    CAPTURE_FAILED = "CAPTURE_FAILED"  # the capture pipeline's PermanentFailure
    CONCATENATION_FAILED = "CONCATENATION_FAILED"  # the concatenation's PermanentFailure / Failed
    OUTPUT_MISSING = "OUTPUT_MISSING"  # concatenation done, no file after the grace period
    START_FAILED = "START_FAILED"  # Chime refused the concatenation for good


# --- options ---------------------------------------------------------------------------------

AUDIO_MUX_TYPES: Final = ("AudioOnly", "AudioWithActiveSpeakerVideo", "AudioWithCompositedVideo")
COMPOSITED_AUDIO: Final = "AudioWithCompositedVideo"
COMPOSITED_RESOLUTIONS: Final = ("HD", "FHD")
CONTENT_SHARE_LAYOUTS: Final = ("PresenterOnly", "Horizontal", "Vertical", "ActiveSpeakerOnly")


@dataclass(frozen=True, slots=True)
class RecordingOptions:
    """What a capture records (Chime's ArtifactsConfiguration, in the API's words)."""

    audio: str = "AudioOnly"  # Audio MuxType
    video: bool = False  # each attendee's video chunks
    content: bool = False  # content-share chunks
    resolution: str = "FHD"  # composited video (audio AudioWithCompositedVideo only)
    layout: str = "PresenterOnly"  # composited video: how a content share is laid out

    @property
    def composited(self) -> bool:
        return self.audio == COMPOSITED_AUDIO

    def as_dict(self) -> dict[str, Any]:
        return {
            "audio": self.audio,
            "video": self.video,
            "content": self.content,
            "resolution": self.resolution,
            "layout": self.layout,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> RecordingOptions:
        raw = raw or {}
        return cls(**{name: raw[name] for name in cls.__slots__ if name in raw})


def recording_options_problem(options: RecordingOptions) -> str | None:
    """Why Chime would refuse these artifact options, or None."""
    if options.audio not in AUDIO_MUX_TYPES:
        return f"audio must be one of {', '.join(AUDIO_MUX_TYPES)}"
    if options.resolution not in COMPOSITED_RESOLUTIONS:
        return f"resolution must be one of {', '.join(COMPOSITED_RESOLUTIONS)}"
    if options.layout not in CONTENT_SHARE_LAYOUTS:
        return f"layout must be one of {', '.join(CONTENT_SHARE_LAYOUTS)}"
    if options.composited and (options.video or options.content):
        # The composited file already holds the videos and the share: Chime refuses
        # individual video or content chunks next to it.
        return "video and content chunks cannot be captured with AudioWithCompositedVideo"
    return None


# --- the record -------------------------------------------------------------------------------


class ArtifactKind(StrEnum):
    AUDIO = "audio"
    VIDEO = "video"
    COMPOSITED = "composited"
    TRANSCRIPT = "transcript"
    EVENTS = "events"


# The concatenation's folders (Chime's S3 layout) and what each file is (Chime names them
# `<pipeline id>.mp4` or `.txt`; the content type follows the extension when it says more).
ARTIFACT_FOLDERS: Final[dict[str, tuple[ArtifactKind, str]]] = {
    "audio": (ArtifactKind.AUDIO, "audio/mp4"),
    "video": (ArtifactKind.VIDEO, "video/mp4"),
    "composited-video": (ArtifactKind.COMPOSITED, "video/mp4"),
    "transcription-messages": (ArtifactKind.TRANSCRIPT, "text/plain"),
    "meeting-events": (ArtifactKind.EVENTS, "text/plain"),
}
_CONTENT_TYPES: Final = {".wav": "audio/wav", ".txt": "text/plain", ".json": "application/json"}


@dataclass(frozen=True, slots=True)
class Artifact:
    kind: ArtifactKind
    key: str  # the object's key in the recordings bucket
    contentType: str  # noqa: N815 - item attribute names are camelCase
    bytes: int


@dataclass(frozen=True, slots=True)
class RecordingRecord:
    recordingId: str  # noqa: N815
    meetingId: str  # noqa: N815
    sequence: int  # 1 for a meeting's first recording, then 2, ...: the list's order
    startedAt: int  # noqa: N815 - epoch ms, the backend's clock
    capturePipelineId: str  # noqa: N815
    capturePipelineArn: str  # noqa: N815
    options: RecordingOptions = field(default_factory=RecordingOptions)
    status: RecordingStatus = RecordingStatus.CAPTURING
    stoppedAt: int | None = None  # noqa: N815
    availableAt: int | None = None  # noqa: N815
    concatenationPipelineId: str | None = None  # noqa: N815
    concatenationDone: bool = False  # noqa: N815 - Chime says the concatenation finished
    failureCode: str | None = None  # noqa: N815
    failureMessage: str | None = None  # noqa: N815
    artifacts: tuple[Artifact, ...] = ()
    # Epoch ms at which the cleanup looks at this recording again (absent once final).
    checkAt: int | None = None  # noqa: N815
    # Checks in a row that failed (Chime or S3 unavailable): how far the next one is put off.
    checkFailures: int = 0  # noqa: N815
    expiresAt: int | None = None  # noqa: N815 - TTL (epoch seconds), set once final

    @property
    def capture_prefix(self) -> str:
        return recording_prefix(self.meetingId, self.recordingId) + "capture"

    @property
    def output_prefix(self) -> str:
        return recording_prefix(self.meetingId, self.recordingId) + "concatenated"


def recording_prefix(meeting_id: str, recording_id: str) -> str:
    """Where every object of a recording lives: `recordings/<meetingId>/<recordingId>/`."""
    return f"{RECORDINGS_PREFIX}/{meeting_id}/{recording_id}/"


# --- Chime's pipeline events ----------------------------------------------------------------


class PipelineEventType(StrEnum):
    IN_PROGRESS = "chime:MediaPipelineInProgress"
    DELETED = "chime:MediaPipelineDeleted"
    TEMPORARY_FAILURE = "chime:MediaPipelineTemporaryFailure"
    RESUMED = "chime:MediaPipelineResumed"
    PERMANENT_FAILURE = "chime:MediaPipelinePermanentFailure"
    OTHER = "other"  # stream, live-connector and kinesis events: nothing of ours


class MalformedPipelineEventError(ValueError):
    """Not a media pipeline event the backend can apply (never retried)."""


@dataclass(frozen=True, slots=True)
class PipelineEvent:
    event_type: PipelineEventType
    meeting_id: str
    pipeline_id: str
    timestamp: int
    message: str | None = None


def is_pipeline_envelope(envelope: Mapping[str, Any]) -> bool:
    return envelope.get("detail-type") == MEDIA_PIPELINE_EVENT_DETAIL_TYPE


def parse_pipeline_event(envelope: Mapping[str, Any]) -> PipelineEvent:
    if envelope.get("source") != CHIME_EVENT_SOURCE or not is_pipeline_envelope(envelope):
        raise MalformedPipelineEventError("not a Chime media pipeline event")
    detail = envelope.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedPipelineEventError("detail is not an object")
    texts = {}
    for name in ("eventType", "meetingId", "mediaPipelineId"):
        value = detail.get(name)
        if not isinstance(value, str) or not value:
            raise MalformedPipelineEventError(f"detail.{name} is missing or not a string")
        texts[name] = value
    timestamp = detail.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float) or timestamp < 0:
        raise MalformedPipelineEventError("detail.timestamp is not epoch milliseconds")
    try:
        event_type = PipelineEventType(texts["eventType"])
    except ValueError:
        event_type = PipelineEventType.OTHER
    # Chime documents no reason field; whatever text it sends with a failure is kept.
    sent = [detail.get(name) for name in ("errorMessage", "message", "reason")]
    message = next((text for text in sent if isinstance(text, str) and text), None)
    return PipelineEvent(
        event_type, texts["meetingId"], texts["mediaPipelineId"], int(timestamp), message
    )


# --- the state machine ------------------------------------------------------------------------


class NextStep(Enum):
    NOTHING = "nothing"
    CONCATENATE = "concatenate"  # the capture stopped: start (or repair) the concatenation
    LOOK_FOR_OUTPUT = "look_for_output"  # the concatenation finished: find its files


@dataclass(frozen=True, slots=True)
class Transition:
    record: RecordingRecord
    changed: bool
    next_step: NextStep = NextStep.NOTHING


def _unchanged(record: RecordingRecord, next_step: NextStep = NextStep.NOTHING) -> Transition:
    return Transition(record, False, next_step)


def capture_stopped(record: RecordingRecord, at: int) -> Transition:
    """The capture ended (deleted by us, by Chime with the meeting, or gone)."""
    if record.status is not RecordingStatus.CAPTURING:
        # Already stopped: a concatenation that was never started is asked for again.
        wants = record.status is RecordingStatus.PROCESSING and not record.concatenationPipelineId
        return _unchanged(record, NextStep.CONCATENATE if wants else NextStep.NOTHING)
    stopped = replace(record, status=RecordingStatus.PROCESSING, stoppedAt=at)
    return Transition(stopped, True, NextStep.CONCATENATE)


def failed(record: RecordingRecord, code: FailureCode, message: str | None, at: int) -> Transition:
    if record.status.is_final:
        return _unchanged(record)
    return Transition(
        replace(
            record,
            status=RecordingStatus.FAILED,
            stoppedAt=record.stoppedAt if record.stoppedAt is not None else at,
            failureCode=str(code),
            failureMessage=message or _DEFAULT_MESSAGES[code],
        ),
        True,
    )


_DEFAULT_MESSAGES: Final = {
    FailureCode.CAPTURE_FAILED: "the capture pipeline failed permanently",
    FailureCode.CONCATENATION_FAILED: "the concatenation pipeline failed",
    FailureCode.OUTPUT_MISSING: "the concatenation finished without writing a file",
    FailureCode.START_FAILED: "Chime refused to concatenate the capture",
}


def concatenation_started(record: RecordingRecord, pipeline_id: str) -> Transition:
    if record.status is not RecordingStatus.PROCESSING or record.concatenationPipelineId:
        return _unchanged(record)
    return Transition(replace(record, concatenationPipelineId=pipeline_id), True)


def concatenation_finished(record: RecordingRecord) -> Transition:
    if record.status is not RecordingStatus.PROCESSING:
        return _unchanged(record)
    if record.concatenationDone:
        return _unchanged(record, NextStep.LOOK_FOR_OUTPUT)
    return Transition(replace(record, concatenationDone=True), True, NextStep.LOOK_FOR_OUTPUT)


def output_found(record: RecordingRecord, artifacts: tuple[Artifact, ...], at: int) -> Transition:
    """The concatenated files are there: the recording is AVAILABLE (once)."""
    if record.status is not RecordingStatus.PROCESSING:
        return _unchanged(record)
    return Transition(
        replace(record, status=RecordingStatus.AVAILABLE, availableAt=at, artifacts=artifacts),
        True,
    )


def apply_pipeline_event(record: RecordingRecord, event: PipelineEvent) -> Transition:
    """What one pipeline event (in any order, any number of times) does to the recording."""
    if event.pipeline_id == record.capturePipelineId:
        if event.event_type is PipelineEventType.DELETED:
            return capture_stopped(record, event.timestamp)
        if event.event_type is PipelineEventType.PERMANENT_FAILURE:
            return failed(record, FailureCode.CAPTURE_FAILED, event.message, event.timestamp)
        return _unchanged(record)  # InProgress, TemporaryFailure, Resumed: no state of ours
    if event.pipeline_id == record.concatenationPipelineId:
        if event.event_type is PipelineEventType.DELETED:
            return concatenation_finished(record)
        if event.event_type is PipelineEventType.PERMANENT_FAILURE:
            return failed(record, FailureCode.CONCATENATION_FAILED, event.message, event.timestamp)
    return _unchanged(record)


def required_kinds(options: RecordingOptions) -> frozenset[ArtifactKind]:
    """The files a finished concatenation must have written: the audio always, the
    composited video when asked for (transcript and events exist only if there were any)."""
    kinds = {ArtifactKind.AUDIO}
    if options.composited:
        kinds.add(ArtifactKind.COMPOSITED)
    return frozenset(kinds)


def artifacts_from_listing(output_prefix: str, objects: Mapping[str, int]) -> tuple[Artifact, ...]:
    """The concatenated files among the objects (key → bytes) under the output prefix."""
    found = []
    for key, size in sorted(objects.items()):
        folder = key.removeprefix(output_prefix).strip("/").split("/", 1)[0]
        if folder in ARTIFACT_FOLDERS and size > 0:
            kind, content_type = ARTIFACT_FOLDERS[folder]
            extension = key[key.rfind(".") :] if "." in key.rsplit("/", 1)[-1] else ""
            found.append(Artifact(kind, key, _CONTENT_TYPES.get(extension, content_type), size))
    return tuple(found)


def complete(options: RecordingOptions, artifacts: tuple[Artifact, ...]) -> bool:
    return required_kinds(options) <= {artifact.kind for artifact in artifacts}
