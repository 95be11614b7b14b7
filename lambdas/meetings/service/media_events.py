"""What Chime's events and the meeting's end mean for its recordings and transcription: the
events function's and the cleanup's media use case.

- pipeline events move recordings along (service/recording_lifecycle.py);
- `chime:Transcription*` events move the transcription record (service/transcription.py);
- a meeting whose first attendee connected starts what its creator asked for
  (`mediaOnStart`), once: the options are removed only after everything started, so a failure
  is tried again with the next join event (the SQS message is retried too);
- a meeting whose last person with audio left stops every capture too (a pipeline never
  keeps a meeting alive: Chime counts it as an attendee);
- a meeting that ended stops every capture and concatenates it. Chime stops captures with the
  meeting anyway; this makes the concatenation start at once, and the cleanup's checks repair
  a stop that failed here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from meetings.domain.chime_events import ChimeEvent
from meetings.domain.errors import DomainError
from meetings.domain.recording import (
    PipelineEvent,
    RecordingOptions,
    RecordingRecord,
    RecordingStatus,
)
from meetings.domain.transcription import TranscriptionSettings
from meetings.observability import count, logger
from meetings.service.ports import Clock, RecordingRepository
from meetings.service.recording_lifecycle import PipelinesApplied, RecordingLifecycle
from meetings.service.transcription import Transcriptions

DUE_PAGE: Final = 25
# Stop starting checks when less than this is left of the invocation.
TIME_RESERVE_MS: Final = 20_000


@dataclass
class MediaChecks:
    checked: int = 0
    skipped: int = 0
    complete: bool = True


class MediaEvents:
    def __init__(
        self,
        lifecycle: RecordingLifecycle,
        transcriptions: Transcriptions,
        *,
        clock: Clock,
    ) -> None:
        self._lifecycle = lifecycle
        self._recordings: RecordingRepository = lifecycle.recordings
        self._transcriptions = transcriptions
        self._clock = clock

    def apply_pipeline_events(
        self, meeting_id: str, events: Sequence[PipelineEvent]
    ) -> PipelinesApplied:
        return self._lifecycle.apply_events(meeting_id, events)

    def apply_transcription_events(self, meeting_id: str, events: Sequence[ChimeEvent]) -> bool:
        return self._transcriptions.apply_events(meeting_id, events)

    def after_join(self, meeting_id: str) -> None:
        """Start what the meeting's creator asked to start with the first attendee."""
        meeting = self._transcriptions.store.get_meeting(meeting_id)
        if meeting is None or not meeting.status.is_open or not meeting.mediaOnStart:
            return
        wanted = meeting.mediaOnStart
        if "recording" in wanted:
            records = self._recordings.list_recordings(meeting_id)
            if not records:
                options = RecordingOptions.from_dict(wanted["recording"])
                self._lifecycle.start_capture(meeting_id, options, sequence=1)
        if "transcription" in wanted and meeting.transcription is None:
            settings = TranscriptionSettings.from_dict(wanted["transcription"])
            self._transcriptions.start_for(meeting, settings)
        self._recordings.clear_media_on_start(meeting_id)

    def after_last_left(self, meeting_id: str) -> int:
        """The meeting's last person with audio left: a capture must not keep the meeting
        alive (Chime counts it as an attendee), so it stops and is concatenated as on the
        meeting's end; the meeting then ends by Chime's no-audio rule unless someone returns.
        A returning person gets a new recording only by starting one (docs/recording.md)."""
        return self.after_end(meeting_id)

    def after_end(self, meeting_id: str) -> int:
        """Stop and concatenate every capture of an ended meeting; how many. A failure is
        logged and left to the cleanup's checks: an end never fails for a recording."""
        try:
            records = self._recordings.list_recordings(meeting_id)
        except DomainError as error:
            self._deferred(meeting_id, None, error)
            return 0
        stopped = 0
        for record in records:
            if record.status is not RecordingStatus.CAPTURING:
                continue
            try:
                self._lifecycle.stop(record)
            except DomainError as error:
                self._deferred(meeting_id, record.recordingId, error)
                continue
            stopped += 1
        return stopped

    @staticmethod
    def _deferred(meeting_id: str, recording_id: str | None, error: Exception) -> None:
        count("RecordingStopsDeferred")
        logger.warning(
            "recordings not stopped with their meeting; the cleanup's checks stop them",
            extra={"meetingId": meeting_id, "recordingId": recording_id, "error": repr(error)},
        )

    def _put_off(self, record: RecordingRecord, error: DomainError) -> None:
        """Chime or S3 busy: this recording's next check moves later (backoff), so the next
        page of due recordings holds the others."""
        logger.warning(
            "recording check failed; put off",
            extra={"recordingId": record.recordingId, "error": repr(error)},
        )
        try:
            self._lifecycle.defer(record)
        except DomainError:
            count("RecordingChecksNotPutOff")  # the table failing too: due again as it was

    def check_due(self, time_left_ms: Callable[[], int]) -> MediaChecks:
        """The cleanup's pass over recordings that are not final and due a look."""
        summary = MediaChecks()
        seen: set[str] = set()
        while True:
            page = [
                record
                for record in self._recordings.due_recordings(self._clock(), DUE_PAGE)
                if record.recordingId not in seen
            ]
            if not page:
                return summary
            for record in page:
                if time_left_ms() < TIME_RESERVE_MS:
                    summary.complete = False
                    return summary
                seen.add(record.recordingId)
                try:
                    self._lifecycle.check(record)
                except DomainError as error:
                    summary.skipped += 1
                    self._put_off(record, error)
                    continue
                summary.checked += 1
