"""What running pipelines do as Chime's clock moves: a capture joins its meeting, writes a chunk
of each artifact every CHUNK_MS, records the meeting's events and transcript messages, fails
and resumes on demand, and stops with its meeting; a concatenation joins a stopped capture's
chunks into one object per kind."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from local.chime import autoend
from local.chime.pipelines import artifacts
from local.chime.pipelines.state import (
    AUDIO,
    COMPOSITED,
    FAILED,
    IN_PROGRESS,
    INITIALIZING,
    MEETING_EVENTS,
    STOPPED,
    TRANSCRIPTS,
    VIDEO,
    CapturePipeline,
    Chunk,
    ConcatenationPipeline,
    iso,
)
from local.chime.state import Meeting

if TYPE_CHECKING:
    from local.chime.service import ChimeState

log = logging.getLogger(__name__)
CHUNK_MS: Final = 5_000  # Chime writes chunks of up to five seconds
RESUME_AFTER_MS: Final = 5_000  # how long an injected temporary failure lasts
CONCATENATION_MS: Final = 1_000  # how long a concatenation runs once its source has stopped
# Chime events that appear in the meeting-events artifact, under the artifact's own names.
_MEETING_EVENT_NAMES: Final = {
    "chime:AttendeeJoined": "AttendeeJoined",
    "chime:AttendeeLeft": "AttendeeLeft",
    "chime:AttendeeDropped": "AttendeeLeft",
    "chime:AttendeeVideoStarted": "AttendeeVideoJoined",
    "chime:AttendeeVideoStopped": "AttendeeVideoLeft",
}
_TRANSCRIPTION_EVENT_PREFIX: Final = "chime:Transcription"


def stamp(ms: int) -> str:
    """A chunk's name: `yyyy-mm-dd-HH-MM-SS-mmm`, as Chime names them."""
    text = iso(ms)  # 2026-12-02T17:35:00.123+00:00
    return text[:23].replace("T", "-").replace(":", "-").replace(".", "-")


# --- the clock moves --------------------------------------------------------------------------
def run_due(state: ChimeState, now_ms: int) -> None:
    """Everything pipelines do up to `now_ms` (called after the auto-end rules fired)."""
    for pipeline in list(state.pipelines.values()):
        if isinstance(pipeline, CapturePipeline):
            _run_capture(state, pipeline, now_ms)
        else:
            _run_concatenation(state, pipeline, now_ms)


def _run_capture(state: ChimeState, pipeline: CapturePipeline, now_ms: int) -> None:
    if pipeline.status == INITIALIZING:
        _join(state, pipeline, now_ms)
    if pipeline.failing_until_ms is not None and pipeline.failing_until_ms <= now_ms:
        resumed_at = pipeline.failing_until_ms
        pipeline.failing_until_ms = None
        pipeline.last_chunk_ms = resumed_at
        _emit(state, pipeline, "MediaPipelineResumed", resumed_at)
    if pipeline.capturing and now_ms - pipeline.last_chunk_ms >= CHUNK_MS:
        write_chunks(state, pipeline, now_ms)


def _join(state: ChimeState, pipeline: CapturePipeline, now_ms: int) -> None:
    meeting = state.meetings[pipeline.meeting_id]  # open: its end stops its pipelines
    pipeline.status = IN_PROGRESS
    pipeline.updated_ms = pipeline.last_chunk_ms = now_ms
    meeting.pipeline_connections += 1
    autoend.refresh_conditions(meeting, now_ms)
    pipeline.pending_events.append(_meeting_event("CaptureStarted", now_ms, {}))
    _emit(state, pipeline, "MediaPipelineInProgress", now_ms)


def write_chunks(state: ChimeState, pipeline: CapturePipeline, at_ms: int) -> None:
    """A chunk of each media artifact for the time since the last chunk (if any passed), and of
    the meeting events and transcript messages recorded since."""
    chunks = _media_chunks(state, pipeline, at_ms) if at_ms > pipeline.last_chunk_ms else []
    for folder, pending in (
        (MEETING_EVENTS, pipeline.pending_events),
        (TRANSCRIPTS, pipeline.pending_transcripts),
    ):
        if pending:
            body = artifacts.json_lines(pending)
            chunks.append(Chunk(folder, f"{stamp(at_ms)}.txt", body, artifacts.TEXT_CONTENT_TYPE))
            pending.clear()
    pipeline.last_chunk_ms = at_ms
    written = {chunk.key: chunk for chunk in pipeline.chunks}
    for new in chunks:
        new.key = pipeline.sink.key(new.folder, new.key)
        earlier = written.get(new.key)
        if earlier is not None:  # text in the same millisecond as the last chunk: rewrite it
            earlier.body += new.body
        chunk = earlier or new
        if not _put(state, pipeline.sink.bucket, chunk.key, chunk.body, chunk.content_type):
            fail(state, pipeline, at_ms, permanent=False)
            return
        if earlier is None:
            pipeline.chunks.append(new)


def _media_chunks(state: ChimeState, pipeline: CapturePipeline, at_ms: int) -> list[Chunk]:
    """Mixed audio always; each video sender's and content share's video when the
    configuration enables them; the composited grid when configured."""
    meeting = state.meetings[pipeline.meeting_id]
    settings = pipeline.artifacts
    name = stamp(at_ms)
    connected = [(a, a.media) for a in meeting.connected() if a.media is not None]
    speaking = any(media.audio for _, media in connected)
    audio = artifacts.audio_chunk(speaking=speaking)
    chunks = [Chunk(AUDIO, f"{name}.wav", audio, artifacts.AUDIO_CONTENT_TYPE)]
    video_on = (settings.get("Video") or {}).get("State") == "Enabled"
    content_on = (settings.get("Content") or {}).get("State") == "Enabled"
    for attendee, media in connected:
        if video_on and media.video:
            body = artifacts.video_chunk(attendee.added_order * 40)
            key = f"{name}-{attendee.attendee_id}.y4m"
            chunks.append(Chunk(VIDEO, key, body, artifacts.VIDEO_CONTENT_TYPE))
        if content_on and media.content:
            body = artifacts.video_chunk(255)
            key = f"{name}-{attendee.content_attendee_id}.y4m"
            chunks.append(Chunk(VIDEO, key, body, artifacts.VIDEO_CONTENT_TYPE, content_share=True))
    if "CompositedVideo" in settings:
        body = artifacts.video_chunk(len(connected) * 30)
        chunks.append(Chunk(COMPOSITED, f"{name}.y4m", body, artifacts.VIDEO_CONTENT_TYPE))
    return chunks


def _put(state: ChimeState, bucket: str, key: str, body: bytes, content_type: str) -> bool:
    try:
        state.store.put(bucket, key, body, content_type)
    except Exception:  # the bucket went away or S3 is down: Chime reports a failure
        log.warning("writing s3://%s/%s failed", bucket, key, exc_info=True)
        return False
    return True


# --- stopping and failing ---------------------------------------------------------------------
def stop(state: ChimeState, pipeline: CapturePipeline, at_ms: int) -> None:
    """Deleted, or its meeting ended: the last chunk, then Stopped and MediaPipelineDeleted."""
    if pipeline.capturing:
        pipeline.pending_events.append(_meeting_event("CaptureEnded", at_ms, {}))
        write_chunks(state, pipeline, at_ms)
    _leave_meeting(state, pipeline, at_ms)
    pipeline.status = STOPPED
    pipeline.failing_until_ms = None
    pipeline.updated_ms = at_ms
    _emit(state, pipeline, "MediaPipelineDeleted", at_ms)


def fail(state: ChimeState, pipeline: CapturePipeline, at_ms: int, *, permanent: bool) -> None:
    """A temporary failure captures nothing for RESUME_AFTER_MS, then MediaPipelineResumed; a
    permanent one ends the capture (Status Failed)."""
    if not pipeline.in_meeting:
        raise ValueError(f"the media pipeline is {pipeline.status}, not {IN_PROGRESS}")
    if permanent:
        _leave_meeting(state, pipeline, at_ms)
        pipeline.status = FAILED
        pipeline.failing_until_ms = None
        pipeline.updated_ms = at_ms
        _emit(state, pipeline, "MediaPipelinePermanentFailure", at_ms)
        return
    if pipeline.failing_until_ms is None:
        _emit(state, pipeline, "MediaPipelineTemporaryFailure", at_ms)
    pipeline.failing_until_ms = at_ms + RESUME_AFTER_MS


def _leave_meeting(state: ChimeState, pipeline: CapturePipeline, at_ms: int) -> None:
    if pipeline.in_meeting:
        meeting = state.meetings[pipeline.meeting_id]
        meeting.pipeline_connections -= 1
        if meeting.is_open:
            autoend.refresh_conditions(meeting, at_ms)


def meeting_ended(state: ChimeState, meeting: Meeting, at_ms: int) -> None:
    for pipeline in list(state.pipelines.values()):
        if (
            isinstance(pipeline, CapturePipeline)
            and pipeline.meeting_id == meeting.meeting_id
            and pipeline.status in (INITIALIZING, IN_PROGRESS)
        ):
            stop(state, pipeline, at_ms)


# --- what the capture records -----------------------------------------------------------------
def record_meeting_event(state: ChimeState, meeting: Meeting, detail: dict[str, Any]) -> None:
    """A meeting event, into the meeting-events artifact (and a transcription status change
    into the transcription-messages artifact) of every capture running in the meeting."""
    event_type = detail["eventType"]
    name = _MEETING_EVENT_NAMES.get(event_type)
    transcription = event_type.startswith(_TRANSCRIPTION_EVENT_PREFIX)
    if name is None and not transcription:
        return
    for pipeline in capturing_in(state, meeting.meeting_id):
        if name is not None:
            parameters = {
                "AttendeeId": detail["attendeeId"],
                "ExternalUserId": detail["externalUserId"],
            }
            pipeline.pending_events.append(_meeting_event(name, detail["timestamp"], parameters))
        else:
            pipeline.pending_transcripts.append({"status": _transcription_status(detail)})


def record_transcript(state: ChimeState, meeting_id: str, messages: list[dict[str, Any]]) -> int:
    """Transcript messages into every running capture of the meeting; how many captures."""
    running = capturing_in(state, meeting_id)
    for pipeline in running:
        pipeline.pending_transcripts.extend(messages)
    return len(running)


def capturing_in(state: ChimeState, meeting_id: str) -> list[CapturePipeline]:
    return [
        p
        for p in state.pipelines.values()
        if isinstance(p, CapturePipeline) and p.meeting_id == meeting_id and p.capturing
    ]


def _meeting_event(name: str, at_ms: int, parameters: dict[str, str]) -> dict[str, Any]:
    return {"Timestamp": iso(at_ms), "EventType": name, "EventParameters": parameters}


def _transcription_status(detail: dict[str, Any]) -> dict[str, Any]:
    status = {
        "type": detail["eventType"].removeprefix(_TRANSCRIPTION_EVENT_PREFIX).lower(),
        "eventTimeMs": detail["timestamp"],
    }
    for name in ("transcriptionRegion", "transcriptionConfiguration", "message"):
        if name in detail:
            status[name] = detail[name]
    return status


# --- concatenation ----------------------------------------------------------------------------
def _run_concatenation(state: ChimeState, pipeline: ConcatenationPipeline, now_ms: int) -> None:
    source = state.pipelines[pipeline.source_id]
    assert isinstance(source, CapturePipeline)
    if pipeline.status == INITIALIZING and source.status in (STOPPED, FAILED):
        pipeline.status = IN_PROGRESS
        pipeline.updated_ms = now_ms
        _emit(state, pipeline, "MediaPipelineInProgress", now_ms, meeting_id=source.meeting_id)
    elif pipeline.status == IN_PROGRESS and now_ms >= pipeline.updated_ms + CONCATENATION_MS:
        done_ms = pipeline.updated_ms + CONCATENATION_MS
        for key, body, content_type in _outputs(pipeline, source):
            if _put(state, pipeline.sink.bucket, key, body, content_type):
                pipeline.written.append(key)
                continue
            pipeline.status = FAILED
            pipeline.updated_ms = done_ms
            _emit(
                state,
                pipeline,
                "MediaPipelinePermanentFailure",
                done_ms,
                meeting_id=source.meeting_id,
            )
            return
        pipeline.status = STOPPED
        pipeline.updated_ms = done_ms
        _emit(state, pipeline, "MediaPipelineDeleted", done_ms, meeting_id=source.meeting_id)


# (ArtifactsConcatenationConfiguration member, folder, file extension, media kind)
_CONCATENATED: Final = (
    ("Audio", AUDIO, "wav", "audio"),
    ("Video", VIDEO, "y4m", "video"),
    ("CompositedVideo", COMPOSITED, "y4m", "video"),
    ("MeetingEvents", MEETING_EVENTS, "txt", "text"),
    ("TranscriptionMessages", TRANSCRIPTS, "txt", "text"),
)


def _outputs(
    pipeline: ConcatenationPipeline, source: CapturePipeline
) -> list[tuple[str, bytes, str]]:
    """(key, body, content type) of each concatenated object: one per enabled kind that has
    chunks, named `<folder>/<concatenation pipeline id>.<extension>` as Chime names them."""
    enabled = pipeline.enabled()
    outputs = []
    for member, folder, extension, media in _CONCATENATED:
        chunks = [
            chunk
            for chunk in source.chunks
            # content shares are video chunks too, switched by the Content member
            if chunk.folder == folder and ("Content" if chunk.content_share else member) in enabled
        ]
        if chunks:
            key = pipeline.sink.key(folder, f"{pipeline.pipeline_id}.{extension}")
            body = artifacts.concatenate(media, [chunk.body for chunk in chunks])
            outputs.append((key, body, chunks[0].content_type))
    return outputs


# --- events -----------------------------------------------------------------------------------
def _emit(
    state: ChimeState,
    pipeline: CapturePipeline | ConcatenationPipeline,
    event_type: str,
    at_ms: int,
    *,
    meeting_id: str | None = None,
) -> None:
    """`meeting_id`: a concatenation's events name the meeting its source captured."""
    if isinstance(pipeline, CapturePipeline):
        meeting_id = pipeline.meeting_id
    assert meeting_id is not None
    state.emit_pipeline_event(state.meetings[meeting_id], pipeline.pipeline_id, event_type, at_ms)
