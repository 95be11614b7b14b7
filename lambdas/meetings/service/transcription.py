"""Live transcription: start and stop on request of the host or an admin, and the meeting's
transcription record as Chime's `chime:Transcription*` events report it (domain/transcription.py
says how late and repeated events are told apart)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from meetings.domain import authorization
from meetings.domain.chime_events import ChimeEvent
from meetings.domain.errors import (
    ChimeResourceGoneError,
    ConflictError,
    MeetingEndedError,
    MeetingNotFoundError,
    TranscriptionNotFoundError,
)
from meetings.domain.identity import Identity
from meetings.domain.records import MeetingRecord
from meetings.domain.transcription import (
    TranscriptionEventType,
    TranscriptionRecord,
    TranscriptionSettings,
    apply_transcription_event,
    requested,
    stop_requested,
)
from meetings.service.ports import ChimeTranscription, RecordingRepository, TransactionRejectedError
from meetings.service.shared import MeetingUseCase

_SAVE_ATTEMPTS: Final = 3


def transcription_of(meeting: MeetingRecord) -> TranscriptionRecord | None:
    return (
        None
        if meeting.transcription is None
        else TranscriptionRecord.from_dict(meeting.transcription)
    )


class Transcriptions(MeetingUseCase):
    def __init__(
        self, *, transcriber: ChimeTranscription, recordings: RecordingRepository, **base: Any
    ) -> None:
        super().__init__(**base)
        self.transcriber = transcriber
        self.recordings = recordings

    def start(
        self, identity: Identity, meeting_id: str, settings: TranscriptionSettings
    ) -> tuple[TranscriptionRecord, bool]:
        """The running transcription (False), or a new one asked of Chime (True)."""
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        meeting = authorization.managed_meeting(identity, meeting, pointer)
        if not meeting.status.is_open:
            raise MeetingEndedError()
        return self.start_for(meeting, settings)

    def start_for(
        self, meeting: MeetingRecord, settings: TranscriptionSettings
    ) -> tuple[TranscriptionRecord, bool]:
        current = transcription_of(meeting)
        if current is not None and current.status.is_running:
            return current, False
        try:
            self.transcriber.start_transcription(meeting.meetingId, settings)
        except ChimeResourceGoneError as gone:
            self._mark_gone(meeting)
            raise MeetingEndedError() from gone
        record = requested(settings, self.clock())
        try:
            self.recordings.save_transcription(
                meeting.meetingId, record, seen=current, while_open=True
            )
        except TransactionRejectedError as rejected:
            fresh = self._meeting(meeting.meetingId)
            if not fresh.status.is_open:
                raise MeetingEndedError() from rejected  # it ended between the read and here
            now_running = transcription_of(fresh)
            if now_running is not None and now_running.status.is_running:
                return now_running, False  # a concurrent start recorded its run
            raise ConflictError("the meeting changed meanwhile, retry", retry_after=1) from rejected
        return record, True

    def stop(self, identity: Identity, meeting_id: str) -> TranscriptionRecord:
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        meeting = authorization.managed_meeting(identity, meeting, pointer)
        if not meeting.status.is_open:
            raise MeetingEndedError()
        current = transcription_of(meeting)
        if current is None or not current.status.is_running:
            raise TranscriptionNotFoundError()
        self.transcriber.stop_transcription(meeting_id)
        for _ in range(_SAVE_ATTEMPTS):
            stopped = stop_requested(current, self.clock())
            try:
                self.recordings.save_transcription(meeting_id, stopped, seen=current)
            except TransactionRejectedError:
                fresh = transcription_of(self._meeting(meeting_id))
                if fresh is None or fresh.requestedAt != current.requestedAt:
                    raise ConflictError(
                        "transcription restarted meanwhile", retry_after=1
                    ) from None
                current = fresh
                continue
            return stopped
        raise ConflictError("the transcription keeps changing, retry", retry_after=1)

    def apply_events(self, meeting_id: str, events: Sequence[ChimeEvent]) -> bool:
        """Apply a meeting's transcription events; True if its record changed."""
        ordered = sorted(events, key=lambda e: e.timestamp)
        if not ordered:
            return False
        for _ in range(_SAVE_ATTEMPTS):
            meeting = self.store.get_meeting(meeting_id)
            current = None if meeting is None else transcription_of(meeting)
            if current is None:
                return False  # not started by us (or the meeting is not ours)
            record = current
            for event in ordered:
                applied = apply_transcription_event(
                    record,
                    TranscriptionEventType(event.event_type.value),
                    event.timestamp,
                    region=event.transcription_region,
                    message=event.message,
                )
                record = applied or record
            if record == current:
                return False
            try:
                self.recordings.save_transcription(meeting_id, record, seen=current)
            except TransactionRejectedError:
                continue
            return True
        raise ConflictError("the transcription keeps changing, retry", retry_after=1)

    def _meeting(self, meeting_id: str) -> MeetingRecord:
        meeting = self.store.get_meeting(meeting_id)
        if meeting is None:
            raise MeetingNotFoundError()
        return meeting
