"""A recording's life over in-memory ports: pipeline events in every order and repeated, lost
events repaired by the cleanup's checks, failures recorded with their reason."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from meetings import deployment
from meetings.domain.errors import ThrottledError, UpstreamUnavailableError
from meetings.domain.recording import (
    ArtifactKind,
    PipelineEvent,
    PipelineEventType,
    RecordingOptions,
    RecordingRecord,
    RecordingStatus,
    parse_pipeline_event,
)
from meetings.service.media_events import DUE_PAGE, MediaEvents
from meetings.service.recording_lifecycle import (
    OUTPUT_GRACE_MS,
    RecordingLifecycle,
    recording_id_for,
    request_token,
)

from tests.unit.service.media_fakes import (
    MEETING_ID,
    FakeBucket,
    FakePipelines,
    MemoryRecordings,
    without_schedule,
    write_output,
)

T0 = 1_764_200_000_000


class World:
    def __init__(self) -> None:
        self.now = T0
        self.recordings = MemoryRecordings()
        self.pipelines = FakePipelines()
        self.bucket = FakeBucket()
        self.lifecycle = RecordingLifecycle(
            self.recordings, self.pipelines, self.bucket, clock=lambda: self.now
        )

    def start(self, options: RecordingOptions | None = None) -> RecordingRecord:
        record, created = self.lifecycle.start_capture(MEETING_ID, options or RecordingOptions(), 1)
        assert created
        return record

    def current(self, record: RecordingRecord) -> RecordingRecord:
        found = self.recordings.get_recording(MEETING_ID, record.recordingId)
        assert found is not None
        return found


def pipeline_envelope(event_type: str, pipeline_id: str, timestamp: int) -> dict[str, Any]:
    return {
        "source": deployment.CHIME_EVENT_SOURCE,
        "detail-type": deployment.MEDIA_PIPELINE_EVENT_DETAIL_TYPE,
        "detail": {
            "version": "0",
            "eventType": event_type,
            "timestamp": timestamp,
            "meetingId": MEETING_ID,
            "externalMeetingId": "room-42",
            "mediaPipelineId": pipeline_id,
            "mediaRegion": "us-east-1",
        },
    }


def event(kind: PipelineEventType, pipeline_id: str, at: int) -> PipelineEvent:
    return parse_pipeline_event(pipeline_envelope(kind.value, pipeline_id, at))


def test_starting_twice_derives_one_recording() -> None:
    world = World()
    first = world.start()
    again, created = world.lifecycle.start_capture(MEETING_ID, RecordingOptions(), 1)
    assert (again, created) == (first, False)
    assert first.recordingId == recording_id_for(MEETING_ID, 1)
    assert len(world.pipelines.by_token) == 1  # the same Chime request token


def test_stop_concatenates_and_the_output_makes_it_available() -> None:
    world = World()
    record = world.start(RecordingOptions(audio="AudioWithCompositedVideo"))
    stopped = world.lifecycle.stop(record)
    assert stopped.status is RecordingStatus.PROCESSING
    assert stopped.concatenationPipelineId is not None
    concatenation = stopped.concatenationPipelineId
    write_output(world.bucket, stopped, "audio", "transcription-messages")
    done = event(PipelineEventType.DELETED, concatenation, T0 + 5_000)
    world.lifecycle.apply_events(MEETING_ID, [done])
    # The composited video is required by these options and not there yet: still PROCESSING.
    assert world.current(record).status is RecordingStatus.PROCESSING
    write_output(world.bucket, stopped, "composited-video")
    world.now += 60_000
    available = world.lifecycle.check(world.current(record))
    assert available.status is RecordingStatus.AVAILABLE
    kinds = {artifact.kind for artifact in available.artifacts}
    assert kinds == {ArtifactKind.AUDIO, ArtifactKind.COMPOSITED, ArtifactKind.TRANSCRIPT}
    assert available.checkAt is None and available.expiresAt is not None


def _events_of_a_full_life(world: World, record: RecordingRecord) -> list[PipelineEvent]:
    capture = record.capturePipelineId
    # The id Chime will answer the concatenation's (derived) request token with.
    token = request_token("concatenation", record.recordingId)
    concatenation = world.pipelines._pipeline(token)
    return [
        event(PipelineEventType.IN_PROGRESS, capture, T0 + 1_000),
        event(PipelineEventType.TEMPORARY_FAILURE, capture, T0 + 2_000),
        event(PipelineEventType.RESUMED, capture, T0 + 3_000),
        event(PipelineEventType.DELETED, capture, T0 + 4_000),
        event(PipelineEventType.IN_PROGRESS, concatenation, T0 + 5_000),
        event(PipelineEventType.DELETED, concatenation, T0 + 6_000),
    ]


def test_every_order_and_repetition_of_the_events_ends_the_same() -> None:
    outcomes = set()
    reference = World()
    events = _events_of_a_full_life(reference, reference.start())
    orders = list(itertools.permutations(events))[::37]  # a spread of the 720 orders
    for order in orders:
        world = World()
        record = world.start()
        _events_of_a_full_life(world, record)
        world.bucket.objects[f"{record.output_prefix}/audio/x.mp4"] = b"audio"
        for chunk in (order[:3], order[3:], order[1:4]):  # three batches, some events twice
            world.lifecycle.apply_events(MEETING_ID, list(chunk))
        final = world.current(record)
        # A Deleted of the concatenation that came before the capture's was of no recording
        # yet: the cleanup's check finds the concatenation stopped.
        world.pipelines.status[final.concatenationPipelineId or ""] = "Stopped"
        world.now += 60_000
        if not final.status.is_final:
            final = world.lifecycle.check(final)
        outcomes.add(without_schedule(final))
        assert world.pipelines.calls.count("create_concatenation") <= 2  # idempotent token
    assert len(outcomes) == 1
    (final,) = outcomes
    assert final.status is RecordingStatus.AVAILABLE
    assert final.stoppedAt == T0 + 4_000


def test_a_late_in_progress_after_deleted_changes_nothing() -> None:
    world = World()
    record = world.start()
    capture = record.capturePipelineId
    world.lifecycle.apply_events(MEETING_ID, [event(PipelineEventType.DELETED, capture, T0 + 9)])
    processing = world.current(record)
    writes = world.recordings.writes
    world.lifecycle.apply_events(MEETING_ID, [event(PipelineEventType.IN_PROGRESS, capture, T0)])
    world.lifecycle.apply_events(MEETING_ID, [event(PipelineEventType.DELETED, capture, T0 + 9)])
    assert world.current(record) == processing
    assert world.recordings.writes == writes


def test_a_permanent_failure_fails_it_with_the_reason_and_for_good() -> None:
    world = World()
    record = world.start()
    failure = pipeline_envelope(
        PipelineEventType.PERMANENT_FAILURE.value, record.capturePipelineId, T0 + 10
    )
    failure["detail"]["errorMessage"] = "S3 bucket policy denies PutObject"
    world.lifecycle.apply_events(MEETING_ID, [parse_pipeline_event(failure)])
    failed = world.current(record)
    assert (failed.status, failed.failureCode) == (RecordingStatus.FAILED, "CAPTURE_FAILED")
    assert failed.failureMessage == "S3 bucket policy denies PutObject"
    world.lifecycle.apply_events(
        MEETING_ID, [event(PipelineEventType.DELETED, record.capturePipelineId, T0 + 20)]
    )
    assert world.current(record) == failed
    assert "create_concatenation" not in world.pipelines.calls


def test_lost_events_are_repaired_by_the_checks() -> None:
    world = World()
    record = world.start()
    events = MediaEvents(world.lifecycle, transcriptions=None, clock=lambda: world.now)  # type: ignore[arg-type]
    world.pipelines.status[record.capturePipelineId] = "Stopped"  # the meeting ended; no event
    world.now += 200_000
    assert events.check_due(lambda: 60_000).checked == 1
    processing = world.current(record)
    assert processing.status is RecordingStatus.PROCESSING
    assert processing.concatenationPipelineId is not None
    world.pipelines.status[processing.concatenationPipelineId] = "Stopped"
    write_output(world.bucket, processing, "audio")
    world.now += 60_000
    events.check_due(lambda: 60_000)
    assert world.current(record).status is RecordingStatus.AVAILABLE


def test_a_finished_concatenation_without_files_fails_after_the_grace_period() -> None:
    world = World()
    stopped = world.lifecycle.stop(world.start())
    world.pipelines.status[stopped.concatenationPipelineId or ""] = "Stopped"
    world.now += 60_000
    assert world.lifecycle.check(stopped).status is RecordingStatus.PROCESSING
    world.now += OUTPUT_GRACE_MS
    failed = world.lifecycle.check(world.current(stopped))
    assert (failed.status, failed.failureCode) == (RecordingStatus.FAILED, "OUTPUT_MISSING")


@pytest.mark.parametrize("status", ["Failed"])
def test_a_failed_concatenation_fails_the_recording(status: str) -> None:
    world = World()
    stopped = world.lifecycle.stop(world.start())
    world.pipelines.status[stopped.concatenationPipelineId or ""] = status
    failed = world.lifecycle.check(stopped)
    assert (failed.status, failed.failureCode) == (RecordingStatus.FAILED, "CONCATENATION_FAILED")


def test_a_capture_whose_record_cannot_be_written_is_deleted() -> None:
    world = World()
    world.recordings.ended.add(MEETING_ID)  # the meeting ended between the check and the write
    with pytest.raises(Exception, match="changed meanwhile"):
        world.start()
    assert world.pipelines.calls == ["create_capture", "delete"]


def test_a_stop_whose_concatenation_chime_refuses_for_now_still_answers_processing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The capture is stopped: a retried stop would find nothing running, so the stop answers
    with the PROCESSING record and the cleanup's check concatenates later."""
    world = World()
    record = world.start()

    def throttled(**_: Any) -> str:
        raise ThrottledError("slow down")

    monkeypatch.setattr(world.pipelines, "create_concatenation", throttled)
    stopped = world.lifecycle.stop(record)
    assert (stopped.status, stopped.concatenationPipelineId) == (RecordingStatus.PROCESSING, None)
    assert world.current(record) == stopped
    monkeypatch.undo()
    checked = world.lifecycle.check(world.current(record))
    assert checked.concatenationPipelineId is not None


class FailingFor(FakePipelines):
    """Chime unavailable for some pipelines: GetMediaPipeline fails for them."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: set[str] = set()

    def get_status(self, pipeline_id: str) -> str | None:
        if pipeline_id in self.failing:
            raise UpstreamUnavailableError("Chime is unavailable")
        return super().get_status(pipeline_id)


def test_a_check_that_keeps_failing_does_not_block_the_recordings_behind_it() -> None:
    world = World()
    world.pipelines = pipelines = FailingFor()
    world.lifecycle = RecordingLifecycle(
        world.recordings, pipelines, world.bucket, clock=lambda: world.now
    )
    # More failing recordings than one page of due ones, all due before the healthy one.
    failing = [
        world.lifecycle.start_capture(f"meeting-{n:02d}", RecordingOptions(), 1)[0]
        for n in range(DUE_PAGE + 1)
    ]
    pipelines.failing = {record.capturePipelineId for record in failing}
    world.now += 1
    healthy = world.lifecycle.start_capture("meeting-healthy", RecordingOptions(), 1)[0]
    pipelines.status[healthy.capturePipelineId] = "Stopped"  # its Deleted event was lost
    events = MediaEvents(world.lifecycle, transcriptions=None, clock=lambda: world.now)  # type: ignore[arg-type]
    world.now += 200_000

    summary = events.check_due(lambda: 60_000)

    assert (summary.checked, summary.skipped) == (1, DUE_PAGE + 1)
    assert world.recordings.records[healthy.recordingId].status is RecordingStatus.PROCESSING
    first_delays = set()
    for record in failing:
        deferred = world.recordings.records[record.recordingId]
        assert deferred.checkFailures == 1
        first_delays.add((deferred.checkAt or 0) - world.now)
    # Failing again puts it off longer; a check that succeeds resets the count.
    world.now += max(first_delays)
    events.check_due(lambda: 60_000)
    again = world.recordings.records[failing[0].recordingId]
    assert again.checkFailures == 2
    assert (again.checkAt or 0) - world.now > max(first_delays)
    pipelines.failing.clear()
    world.now = again.checkAt or 0
    events.check_due(lambda: 60_000)
    assert world.recordings.records[failing[0].recordingId].checkFailures == 0
