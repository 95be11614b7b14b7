"""ChimeEmulator: the emulated Chime SDK Meetings and Media Pipelines services behind one lock,
with their Python API (media plane, virtual clock, faults, events, pipelines, speech) for tests
and the local stack."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.chime import media, operations, transcription
from local.chime.clock import Clock, VirtualClock
from local.chime.config import EmulatorConfig
from local.chime.events import CallbackSink, Envelope, EventBridgeSink, EventOutbox, EventSink
from local.chime.faults import FaultInjector, RateLimiter, apply_fault
from local.chime.model import MEDIA_PIPELINES, MEETINGS
from local.chime.pipelines import capture
from local.chime.pipelines import operations as pipeline_operations
from local.chime.pipelines.state import CapturePipeline, Pipeline
from local.chime.pipelines.store import ArtifactStore, MemoryArtifactStore, S3ArtifactStore
from local.chime.service import ChimeState
from local.chime.state import Media

OPERATIONS: dict[str, dict[str, operations.Operation]] = {
    MEETINGS: operations.OPERATIONS,
    MEDIA_PIPELINES: pipeline_operations.OPERATIONS,
}


@dataclass(frozen=True)
class MeetingTruth:
    """What the emulated Chime knows about one meeting: when it was created and ended, and why
    (`end_reason`: an auto-end rule of autoend.py, `deleted` or `primary_ended`; None if open)."""

    meeting_id: str
    external_meeting_id: str
    created_ms: int
    ended_ms: int | None
    end_reason: str | None


@dataclass(frozen=True)
class PipelineTruth:
    """What the emulated media pipelines service knows about one pipeline: `kind` capture or
    concatenation, its Status, the meeting it captures (or whose capture it joins), whether a
    temporary failure is in progress, its sink, and the keys of the objects it wrote."""

    pipeline_id: str
    kind: str
    status: str
    meeting_id: str
    failing: bool
    bucket: str
    prefix: str
    keys: tuple[str, ...]


class ChimeEmulator:
    def __init__(
        self,
        config: EmulatorConfig | None = None,
        start_ms: int | None = None,
        *,
        clock: Clock | None = None,
        artifact_store: ArtifactStore | None = None,
    ) -> None:
        """`clock`: a clock shared with others (the local stack's world clock); by default the
        emulator keeps its own virtual clock (from `start_ms`, following real time if the
        config says so). `artifact_store`: where media pipelines write (by default S3 at
        `config.s3_endpoint_url`, or in memory without one)."""
        self.config = config or EmulatorConfig()
        self.artifact_store: ArtifactStore = artifact_store or (
            S3ArtifactStore(self.config.s3_endpoint_url, self.config.region)
            if self.config.s3_endpoint_url
            else MemoryArtifactStore()
        )
        self._start_ms = start_ms
        self._shared_clock = clock
        self._lock = threading.RLock()
        self._outbox = EventOutbox()
        self._faults = FaultInjector()
        self._rate = RateLimiter(self.config.rate_limit_per_second)
        if self.config.eventbridge_endpoint_url:
            self._outbox.add_sink(
                EventBridgeSink(
                    self.config.eventbridge_endpoint_url,
                    self.config.region,
                    self.config.event_bus_name,
                )
            )
        self._state = self._fresh_state()

    def _fresh_state(self) -> ChimeState:
        clock = self._shared_clock or VirtualClock(
            self._start_ms, follow_wall_clock=self.config.follow_wall_clock
        )
        return ChimeState(self.config, clock, self._outbox, self.artifact_store)

    def use_artifact_store(self, store: ArtifactStore) -> None:
        """Write media pipelines' artifacts there from now on (the local stack knows its S3
        endpoint only once moto has started)."""
        with self._lock:
            self.artifact_store = store
            self._state.store = store

    # --- the API, as the HTTP server calls it ---------------------------------------------
    def admit(self, operation: str) -> None:
        """Rate quota, then any injected fault (its latency is slept here, unlocked)."""
        self._rate.admit()
        apply_fault(self._faults.take(operation), operation)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one validated Meetings operation; raises ChimeError and changes nothing on bad
        input."""
        return self._run(OPERATIONS[MEETINGS][operation], params)

    def call_media_pipelines(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The same for a Media Pipelines operation."""
        return self._run(OPERATIONS[MEDIA_PIPELINES][operation], params)

    def _run(self, handler: operations.Operation, params: dict[str, Any]) -> dict[str, Any]:
        try:
            with self._lock:
                self._catch_up()
                return handler(self._state, params)
        finally:
            self._outbox.flush()

    # --- the simulated media plane ----------------------------------------------------------
    def connect(
        self,
        meeting_id: str,
        attendee_id: str,
        *,
        audio: bool = True,
        video: bool = False,
        content: bool = False,
        viewing_content: bool = False,
    ) -> None:
        """An attendee's client connects (again: a hand-off) with this media.

        Raises ChimeError: NotFound (meeting ended / attendee deleted), BadRequest (media its
        capabilities forbid), LimitExceeded (25 video senders, 2 content shares).
        """
        wanted = Media(audio, video, content, viewing_content)
        self._locked(lambda: media.connect(self._state, meeting_id, attendee_id, wanted))

    def leave(self, meeting_id: str, attendee_id: str) -> None:
        self._locked(lambda: media.disconnect(self._state, meeting_id, attendee_id, dropped=False))

    def drop(self, meeting_id: str, attendee_id: str) -> None:
        self._locked(lambda: media.disconnect(self._state, meeting_id, attendee_id, dropped=True))

    # --- the clock ----------------------------------------------------------------------------
    def now_ms(self) -> int:
        with self._lock:
            return self._state.clock.now_ms()

    def advance(self, seconds: float) -> None:
        """Move Chime's clock; meetings whose auto-end rule comes due end at that instant."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._locked(lambda: self._state.clock.advance_ms(round(seconds * 1000)))

    def tick(self) -> None:
        """Apply the auto-end rules up to now (the server calls it when following real time)."""
        self._locked(lambda: None)

    def _catch_up(self) -> None:
        self._state.catch_up(self._state.clock.now_ms())

    def _locked(self, action: Callable[[], None]) -> None:
        try:
            with self._lock:
                self._catch_up()
                action()
                self._catch_up()
        finally:
            self._outbox.flush()

    # --- faults -------------------------------------------------------------------------------
    def inject_fault(
        self,
        operation: str = "*",
        error: str | None = "ServiceUnavailableException",
        count: int | None = 1,
        latency_ms: int = 0,
        retry_after_seconds: int = 1,
    ) -> None:
        """The next `count` calls of `operation` (`"*"`: any) wait `latency_ms`, then fail
        with `error` (an error shape of the model; None: latency only). `count=None` lasts
        until cleared. Replaces the fault pending for that operation."""
        self._faults.inject(operation, error, count, latency_ms, retry_after_seconds)

    def clear_faults(self) -> None:
        self._faults.clear()

    # --- events -------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Envelope], object]) -> Callable[[], None]:
        """Call `callback(envelope)` for each event, in order; returns an unsubscribe function."""
        sink = CallbackSink(callback)
        self._outbox.add_sink(sink)
        return lambda: self._outbox.remove_sink(sink)

    def add_sink(self, sink: EventSink) -> None:
        """A lasting event sink (survives reset(), unlike subscribers)."""
        self._outbox.add_sink(sink)

    @property
    def events(self) -> list[Envelope]:
        with self._lock:
            return copy.deepcopy(self._state.events)

    # --- inspection for tests -----------------------------------------------------------------
    def open_meeting_ids(self) -> set[str]:
        with self._lock:
            self._catch_up()
            return set(self._state.open_order)

    def end_reason(self, meeting_id: str) -> str | None:
        """Why a meeting ended (an auto-end rule, `deleted`, `primary_ended`); None if open."""
        with self._lock:
            self._catch_up()
            meeting = self._state.meetings.get(meeting_id.lower())
            if meeting is None:
                raise KeyError(meeting_id)
            return meeting.end_reason

    def truth(self, meeting_id: str) -> MeetingTruth:
        """The emulator's own record of a meeting (any rule due by now fires first); KeyError
        for a meeting it never created."""
        try:
            with self._lock:
                self._catch_up()
                meeting = self._state.meetings.get(meeting_id.lower())
                if meeting is None:
                    raise KeyError(meeting_id)
                return MeetingTruth(
                    meeting_id=meeting.meeting_id,
                    external_meeting_id=meeting.external_meeting_id,
                    created_ms=meeting.created_ms,
                    ended_ms=meeting.ended_ms,
                    end_reason=meeting.end_reason,
                )
        finally:
            self._outbox.flush()  # the events of a rule that came due on the way

    # --- media pipelines and speech -----------------------------------------------------------
    def say(self, meeting_id: str, attendee_id: str, text: str) -> list[dict[str, Any]]:
        """The attendee (connected with audio) says `text`: while transcription runs, returns
        the transcript messages (partial, then final) that every running capture of the meeting
        records; [] when nothing is transcribed. ChimeError (LookupError / ValueError) when the
        meeting or attendee is gone or the attendee has no audio."""
        said: list[dict[str, Any]] = []

        def speak() -> None:
            said.extend(transcription.say(self._state, meeting_id, attendee_id, text))

        self._locked(speak)
        return copy.deepcopy(said)

    def fail_pipeline(self, pipeline_id: str, *, permanent: bool = False) -> None:
        """A capture pipeline in progress fails: temporarily (MediaPipelineTemporaryFailure,
        nothing captured, MediaPipelineResumed 5 s of Chime time later) or for good
        (MediaPipelinePermanentFailure, Status Failed). KeyError: no such capture pipeline;
        ValueError: it is not in progress."""

        def failure() -> None:
            pipeline = self._state.pipelines.get(pipeline_id.lower())
            if not isinstance(pipeline, CapturePipeline):
                raise KeyError(pipeline_id)
            capture.fail(self._state, pipeline, self._state.clock.now_ms(), permanent=permanent)

        self._locked(failure)

    def fail_transcription(
        self, meeting_id: str, *, permanent: bool = False, next_start: bool = False
    ) -> None:
        """The meeting's transcription fails: interrupted (TranscriptionInterrupted, then
        TranscriptionResumed 5 s of Chime time later) or for good (TranscriptionFailed, off);
        with `next_start`, its next StartMeetingTranscription is accepted, then fails
        (TranscriptionFailed without TranscriptionStarted). ChimeError NotFound (LookupError)
        for an unknown or ended meeting; ValueError when transcription is not active."""

        def failure() -> None:
            meeting = self._state.open_meeting(meeting_id)
            now = self._state.clock.now_ms()
            transcription.fail(
                self._state, meeting, now, permanent=permanent, next_start=next_start
            )

        self._locked(failure)

    def pipeline(self, pipeline_id: str) -> PipelineTruth:
        """The emulator's record of a media pipeline (KeyError: it never created it)."""
        try:
            with self._lock:
                self._catch_up()
                found = self._state.pipelines.get(pipeline_id.lower())
                if found is None:
                    raise KeyError(pipeline_id)
                return _truth_of(self._state, found)
        finally:
            self._outbox.flush()

    def pipeline_ids(self, meeting_id: str | None = None) -> list[str]:
        """Every media pipeline's id (of one meeting's, captures and their concatenations), in
        creation order."""
        with self._lock:
            return [
                pipeline_id
                for pipeline_id, found in self._state.pipelines.items()
                if meeting_id is None
                or _truth_of(self._state, found).meeting_id == meeting_id.lower()
            ]

    def transcription_active(self, meeting_id: str) -> bool:
        with self._lock:
            meeting = self._state.meetings.get(meeting_id.lower())
            return meeting is not None and meeting.transcription is not None

    def reset(self) -> None:
        """Forget every meeting, pipeline, event, fault and subscriber (and the objects of an
        in-memory artifact store); the clock restarts (a shared
        clock is not the emulator's to restart: it keeps its time)."""
        with self._lock:
            self._outbox.clear()
            self._outbox.remove_sinks(CallbackSink)
            self._faults.clear()
            self._rate.reset()
            if isinstance(self.artifact_store, MemoryArtifactStore):
                self.artifact_store.clear()
            self._state = self._fresh_state()


def _truth_of(state: ChimeState, pipeline: Pipeline) -> PipelineTruth:
    if isinstance(pipeline, CapturePipeline):
        kind, meeting_id, failing = (
            "capture",
            pipeline.meeting_id,
            pipeline.failing_until_ms is not None,
        )
        keys = tuple(chunk.key for chunk in pipeline.chunks)
    else:
        source = state.pipelines[pipeline.source_id]
        assert isinstance(source, CapturePipeline)
        kind, meeting_id, failing = "concatenation", source.meeting_id, False
        keys = tuple(pipeline.written)
    return PipelineTruth(
        pipeline_id=pipeline.pipeline_id,
        kind=kind,
        status=pipeline.status,
        meeting_id=meeting_id,
        failing=failing,
        bucket=pipeline.sink.bucket,
        prefix=pipeline.sink.prefix,
        keys=keys,
    )
