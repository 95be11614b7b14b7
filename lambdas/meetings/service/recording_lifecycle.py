"""A recording's life after the request that started it: stopping its capture, starting its
concatenation, finding the concatenated files, and failing it with a reason — whoever drives
it (the API's stop, the meeting's end, Chime's pipeline events, the cleanup's checks).

What Chime guarantees, and so what is relied on (docs/recording.md, "Completion"): a capture
pipeline announces its end with `chime:MediaPipelineDeleted` (best effort, like every Chime
event) and GetMediaPipeline answers its status; a concatenation starts only after its
capture stopped and writes one file per artifact kind; Chime documents no event that says
the concatenated files are complete. So a recording becomes AVAILABLE only when both hold:
the concatenation is over (its Deleted event, or GetMediaPipeline answering Stopped or
NotFound) and every required file is in the bucket (a listing under its prefix). The cleanup
visits every recording that is not final at its `checkAt`, so a lost event only delays it.

Every write is conditioned on the recording being as read; a conflict reads it again and
applies the same step to what it now is (the steps are idempotent).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from meetings.domain.errors import (
    ConflictError,
    InvalidRequestError,
    ThrottledError,
    UpstreamError,
    UpstreamUnavailableError,
)
from meetings.domain.recording import (
    FailureCode,
    NextStep,
    PipelineEvent,
    RecordingOptions,
    RecordingRecord,
    RecordingStatus,
    Transition,
    apply_pipeline_event,
    artifacts_from_listing,
    capture_stopped,
    complete,
    concatenation_finished,
    concatenation_started,
    failed,
    output_found,
    recording_prefix,
)
from meetings.observability import count, logger
from meetings.service.ports import (
    ArtifactStore,
    Clock,
    MediaPipelines,
    RecordingRepository,
    TransactionRejectedError,
)

# How often the cleanup looks at a recording that is not final.
CAPTURING_CHECK_MS: Final = 180_000
PROCESSING_CHECK_MS: Final = 60_000
# A check that failed (Chime or S3 unavailable) is tried again this long later, doubling with
# each failure in a row up to the cap, so a recording that keeps failing does not stay first in
# the cleanup's due order and hold up the ones behind it.
CHECK_BACKOFF_MS: Final = 60_000
MAX_CHECK_BACKOFF_MS: Final = 3_600_000
# A finished concatenation whose files are still missing this long after the capture stopped
# failed; one that has not finished after PROCESSING_DEADLINE_MS failed too.
OUTPUT_GRACE_MS: Final = 15 * 60_000
PROCESSING_DEADLINE_MS: Final = 6 * 3_600_000
# Recording records are kept this long after they are final (their files per the bucket's
# lifecycle rule).
RECORD_RETENTION_SECONDS: Final = 90 * 86_400
_SAVE_ATTEMPTS: Final = 3
# Chime's GetMediaPipeline statuses.
_STOPPED: Final = frozenset({"Stopped"})
_FAILED: Final = frozenset({"Failed"})
_NAMESPACE: Final = uuid.UUID("6f1d7c2e-3b0a-4c55-9d8e-0a7b1c2d3e4f")


@dataclass(frozen=True, slots=True)
class PipelinesApplied:
    changed: int  # recordings changed
    captures: frozenset[str]  # pipelines of the events that are a recording's capture
    # Pipelines no recording names: not ours, or their record is not written yet (a capture's
    # or concatenation's events may overtake the write that follows its creation).
    unknown: frozenset[str]


def recording_id_for(meeting_id: str, sequence: int) -> str:
    """A meeting's n-th recording has one id, whoever starts it: two racing starts derive the
    same id and the same Chime request token, so they make one recording."""
    return str(uuid.uuid5(_NAMESPACE, f"{meeting_id}/{sequence}"))


def request_token(kind: str, recording_id: str) -> str:
    """Chime's ClientRequestToken for a recording's capture or concatenation."""
    return hashlib.sha256(f"{kind}|{recording_id}".encode()).hexdigest()[:48]


class RecordingLifecycle:
    def __init__(
        self,
        recordings: RecordingRepository,
        pipelines: MediaPipelines,
        artifacts: ArtifactStore,
        *,
        clock: Clock,
    ) -> None:
        self.recordings = recordings
        self._pipelines = pipelines
        self._artifacts = artifacts
        self._clock = clock

    # --- starting -------------------------------------------------------------------------

    def start_capture(
        self, meeting_id: str, options: RecordingOptions, sequence: int
    ) -> tuple[RecordingRecord, bool]:
        """Create the capture, then record it; a capture whose record cannot be written is
        deleted again (unless an identical start recorded it). True: this call recorded it."""
        recording_id = recording_id_for(meeting_id, sequence)
        capture = self._pipelines.create_capture(
            meeting_id=meeting_id,
            client_request_token=request_token("capture", recording_id),
            sink_prefix=recording_prefix(meeting_id, recording_id) + "capture",
            options=options,
        )
        now = self._clock()
        record = RecordingRecord(
            recordingId=recording_id,
            meetingId=meeting_id,
            sequence=sequence,
            startedAt=now,
            capturePipelineId=capture.pipeline_id,
            capturePipelineArn=capture.arn,
            options=options,
            checkAt=now + CAPTURING_CHECK_MS,
        )
        try:
            self.recordings.add_recording(record)
        except TransactionRejectedError as rejected:
            existing = self.recordings.get_recording(meeting_id, recording_id)
            if existing is not None:
                return existing, False  # an identical start got in first
            self._pipelines.delete(capture.pipeline_id)
            raise ConflictError("the meeting changed meanwhile, retry", retry_after=1) from rejected
        except Exception:
            if self.recordings.get_recording(meeting_id, recording_id) is None:
                self._pipelines.delete(capture.pipeline_id)
            raise
        return record, True

    # --- driving ----------------------------------------------------------------------------

    def stop(self, record: RecordingRecord) -> RecordingRecord:
        """Stop the capture (gone already is fine) and start its concatenation.

        Once the capture is stopped the recording is PROCESSING, whatever happens next: a
        concatenation Chime refuses for now (throttled, unavailable) is left to the capture's
        Deleted event and the cleanup's check, and the stop still answers with the record —
        a client retrying an error would find nothing running (404)."""
        self._pipelines.delete(record.capturePipelineId)
        try:
            return self.advance(record, lambda current: capture_stopped(current, self._clock()))
        except (ThrottledError, UpstreamError, UpstreamUnavailableError) as later:
            stopped = self.recordings.get_recording(record.meetingId, record.recordingId)
            if stopped is None or stopped.status is not RecordingStatus.PROCESSING:
                raise
            logger.warning(
                "concatenation deferred to the events and the cleanup",
                extra={"recordingId": record.recordingId, "error": type(later).__name__},
            )
            return stopped

    def apply_events(self, meeting_id: str, events: Sequence[PipelineEvent]) -> PipelinesApplied:
        """Apply pipeline events of one meeting: how many changed a recording, and which of
        the events' pipelines the recordings name as captures, and which they do not name."""
        if not events:
            return PipelinesApplied(0, frozenset(), frozenset())
        by_pipeline: dict[str, RecordingRecord] = {}
        for record in self.recordings.list_recordings(meeting_id):
            by_pipeline[record.capturePipelineId] = record
            if record.concatenationPipelineId:
                by_pipeline[record.concatenationPipelineId] = record
        changed = 0
        for event in sorted(events, key=lambda e: e.timestamp):
            known = by_pipeline.get(event.pipeline_id)
            if known is None:
                continue  # not a pipeline of ours (or its record is not written yet)
            record = known
            after = self.advance(record, _applying(event))
            changed += after != record
            by_pipeline[event.pipeline_id] = after
            by_pipeline[after.capturePipelineId] = after
            if after.concatenationPipelineId:
                by_pipeline[after.concatenationPipelineId] = after
        named = {e.pipeline_id for e in events if e.pipeline_id in by_pipeline}
        captures = {p for p in named if by_pipeline[p].capturePipelineId == p}
        unknown = {e.pipeline_id for e in events} - named
        return PipelinesApplied(changed, frozenset(captures), frozenset(unknown))

    def check(self, record: RecordingRecord) -> RecordingRecord:  # noqa: PLR0911
        """The cleanup's look at a recording that is not final: ask Chime and the bucket what
        the lost events would have said."""
        if record.status is RecordingStatus.CAPTURING:
            status = self._pipelines.get_status(record.capturePipelineId)
            if status in _FAILED:
                return self._fail(record, FailureCode.CAPTURE_FAILED, None)
            if status is None or status in _STOPPED:
                return self.advance(record, lambda current: capture_stopped(current, self._clock()))
            return self._reschedule(record)
        if record.concatenationPipelineId is None:
            return self.concatenate(record)
        if not record.concatenationDone:
            status = self._pipelines.get_status(record.concatenationPipelineId)
            if status in _FAILED:
                return self._fail(record, FailureCode.CONCATENATION_FAILED, None)
            if status is None or status in _STOPPED:
                return self.advance(record, concatenation_finished)
            if self._clock() - (record.stoppedAt or record.startedAt) > PROCESSING_DEADLINE_MS:
                return self._fail(
                    record, FailureCode.CONCATENATION_FAILED, "did not finish in time"
                )
            return self._reschedule(record)
        return self.look_for_output(record)

    def defer(self, record: RecordingRecord) -> RecordingRecord:
        """After a check of `record` failed: its next check, later with each failure in a row.
        A record changed meanwhile (the check got partway, or an event moved it) keeps the
        schedule that change gave it."""
        failures = record.checkFailures + 1
        delay = min(CHECK_BACKOFF_MS * 2 ** (failures - 1), MAX_CHECK_BACKOFF_MS)
        deferred = replace(record, checkAt=self._clock() + delay, checkFailures=failures)
        try:
            self.recordings.save_recording(deferred, seen=record)
        except TransactionRejectedError:
            return self.recordings.get_recording(record.meetingId, record.recordingId) or record
        return deferred

    def advance(
        self, record: RecordingRecord, step: Callable[[RecordingRecord], Transition]
    ) -> RecordingRecord:
        """Apply a step (and what it asks for next); the recording as it now is."""
        transition = self._save(record, step)
        if transition.next_step is NextStep.CONCATENATE:
            return self.concatenate(transition.record)
        if transition.next_step is NextStep.LOOK_FOR_OUTPUT:
            return self.look_for_output(transition.record)
        return transition.record

    def concatenate(self, record: RecordingRecord) -> RecordingRecord:
        if record.status is not RecordingStatus.PROCESSING or record.concatenationPipelineId:
            return record
        try:
            pipeline_id = self._pipelines.create_concatenation(
                client_request_token=request_token("concatenation", record.recordingId),
                capture_arn=record.capturePipelineArn,
                sink_prefix=record.output_prefix,
                options=record.options,
            )
        except InvalidRequestError as refused:
            return self._fail(record, FailureCode.START_FAILED, refused.message)
        return self.advance(record, lambda current: concatenation_started(current, pipeline_id))

    def look_for_output(self, record: RecordingRecord) -> RecordingRecord:
        if record.status is not RecordingStatus.PROCESSING:
            return record
        listing = self._artifacts.list_objects(record.output_prefix)
        artifacts = artifacts_from_listing(record.output_prefix, listing)
        now = self._clock()
        if complete(record.options, artifacts):
            return self.advance(record, lambda current: output_found(current, artifacts, now))
        if record.concatenationDone and now - (record.stoppedAt or now) > OUTPUT_GRACE_MS:
            return self._fail(record, FailureCode.OUTPUT_MISSING, None)
        return self._reschedule(record)

    def _fail(
        self, record: RecordingRecord, code: FailureCode, message: str | None
    ) -> RecordingRecord:
        return self.advance(record, lambda current: failed(current, code, message, self._clock()))

    def _reschedule(self, record: RecordingRecord) -> RecordingRecord:
        """Nothing new: look again one interval later (the cleanup's next visit)."""
        return self._save(record, lambda current: Transition(current, True)).record

    # --- writing ----------------------------------------------------------------------------

    def _save(
        self, record: RecordingRecord, step: Callable[[RecordingRecord], Transition]
    ) -> Transition:
        current = record
        for _ in range(_SAVE_ATTEMPTS):
            transition = step(current)
            if not transition.changed:
                return transition
            scheduled = self._scheduled(transition.record)
            try:
                self.recordings.save_recording(scheduled, seen=current)
            except TransactionRejectedError:
                fresh = self.recordings.get_recording(record.meetingId, record.recordingId)
                if fresh is None:
                    return Transition(current, False)
                current = fresh
                continue
            if scheduled.status is not current.status and scheduled.status.is_final:
                # For alarms: RecordingsFailed, and RecordingsAvailable to compare with.
                count(f"Recordings{scheduled.status.title()}")
            return replace(transition, record=scheduled)
        raise ConflictError("the recording keeps changing, retry", retry_after=1)

    def _scheduled(self, record: RecordingRecord) -> RecordingRecord:
        """The record with its next check (or, once final, none and its expiry)."""
        now = self._clock()
        if record.status.is_final:
            return replace(
                record,
                checkAt=None,
                checkFailures=0,
                expiresAt=now // 1000 + RECORD_RETENTION_SECONDS,
            )
        interval = (
            CAPTURING_CHECK_MS
            if record.status is RecordingStatus.CAPTURING
            else PROCESSING_CHECK_MS
        )
        return replace(record, checkAt=now + interval, checkFailures=0)


def _applying(event: PipelineEvent) -> Callable[[RecordingRecord], Transition]:
    return lambda current: apply_pipeline_event(current, event)


def running(records: Sequence[RecordingRecord]) -> RecordingRecord | None:
    """The recording that is capturing (a meeting has at most one)."""
    return next((r for r in records if r.status is RecordingStatus.CAPTURING), None)
