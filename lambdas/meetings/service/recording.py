"""Recording on the request path: start, stop, list, read (with download links), and the
stored transcript. The life after the request is service/recording_lifecycle.py's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from meetings.domain import authorization, pagination
from meetings.domain.errors import (
    ChimeResourceGoneError,
    ConflictError,
    MeetingEndedError,
    RecordingNotFoundError,
    TranscriptNotFoundError,
)
from meetings.domain.identity import Identity
from meetings.domain.recording import (
    ArtifactKind,
    RecordingOptions,
    RecordingRecord,
    RecordingStatus,
)
from meetings.domain.records import MeetingRecord
from meetings.domain.transcript import TranscriptLine, assemble, parse_messages
from meetings.service.ports import ArtifactStore, PageRequest
from meetings.service.querying import Page
from meetings.service.recording_lifecycle import RecordingLifecycle, running
from meetings.service.shared import MeetingUseCase

# The largest transcription-messages file the API reads into a transcript (about 15 hours of
# speech); a longer one is cut there.
MAX_TRANSCRIPT_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Started:
    recording: RecordingRecord
    created: bool  # False: one was running already (200 with it)


@dataclass(frozen=True, slots=True)
class ReadableRecording:
    recording: RecordingRecord
    links: dict[str, str]  # artifact key → time-limited download URL (AVAILABLE only)


class Recordings(MeetingUseCase):
    def __init__(
        self, *, lifecycle: RecordingLifecycle, artifacts: ArtifactStore, **base: Any
    ) -> None:
        super().__init__(**base)
        self.lifecycle = lifecycle
        self.artifacts = artifacts

    def start(self, identity: Identity, meeting_id: str, options: RecordingOptions) -> Started:
        meeting = self._managed_open(identity, meeting_id)
        records = self.lifecycle.recordings.list_recordings(meeting_id)
        current = running(records)
        if current is not None:
            return Started(current, False)
        sequence = 1 + max((r.sequence for r in records), default=0)
        try:
            record, created = self.lifecycle.start_capture(meeting_id, options, sequence)
        except ChimeResourceGoneError as gone:
            self._mark_gone(meeting)
            raise MeetingEndedError() from gone
        except ConflictError:
            # The write is conditioned on the meeting not having ended: when the meeting ended
            # between the read above and it, the answer is 410, not "retry".
            self._raise_if_ended(meeting_id)
            raise
        return Started(record, created)

    def stop(self, identity: Identity, meeting_id: str) -> RecordingRecord:
        self._managed_open(identity, meeting_id)
        current = running(self.lifecycle.recordings.list_recordings(meeting_id))
        if current is None:
            raise RecordingNotFoundError("no recording is running")
        return self.lifecycle.stop(current)

    def list_page(
        self, identity: Identity, meeting_id: str, *, limit: int, next_token: str | None
    ) -> Page[RecordingRecord]:
        """One page of the meeting's recordings, newest first."""
        self._readable(identity, meeting_id)
        binding = pagination.query_binding(identity.user_id, recordings=meeting_id)
        page = PageRequest(limit=limit, token=next_token, binding=binding, now=self.clock())
        records, token = self.lifecycle.recordings.list_recordings_page(meeting_id, page=page)
        return Page(records, token)

    def get(self, identity: Identity, meeting_id: str, recording_id: str) -> ReadableRecording:
        self._readable(identity, meeting_id)
        record = self.lifecycle.recordings.get_recording(meeting_id, recording_id)
        if record is None:
            raise RecordingNotFoundError()
        links: dict[str, str] = {}
        if record.status is RecordingStatus.AVAILABLE:
            ttl = self.settings.recording_url_ttl_seconds
            links = {a.key: self.artifacts.presign_get(a.key, ttl) for a in record.artifacts}
        return ReadableRecording(record, links)

    def transcript(self, identity: Identity, meeting_id: str) -> list[TranscriptLine]:
        """Every available recording's transcript, in spoken order."""
        self._readable(identity, meeting_id)
        keys = [
            artifact.key
            for record in reversed(self.lifecycle.recordings.list_recordings(meeting_id))
            if record.status is RecordingStatus.AVAILABLE
            for artifact in record.artifacts
            if artifact.kind is ArtifactKind.TRANSCRIPT
        ]
        if not keys:
            raise TranscriptNotFoundError()
        documents = [
            document
            for key in keys
            for document in parse_messages(self.artifacts.read_text(key, MAX_TRANSCRIPT_BYTES))
        ]
        return assemble(documents)

    def _raise_if_ended(self, meeting_id: str) -> None:
        fresh = self.store.get_meeting(meeting_id)
        if fresh is None or not fresh.status.is_open:
            raise MeetingEndedError()

    def _managed_open(self, identity: Identity, meeting_id: str) -> MeetingRecord:
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        meeting = authorization.managed_meeting(identity, meeting, pointer)
        if not meeting.status.is_open:
            raise MeetingEndedError()
        return meeting

    def _readable(self, identity: Identity, meeting_id: str) -> MeetingRecord:
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        return authorization.readable_recordings(
            identity,
            meeting,
            pointer,
            attendees_may_read=self.settings.recordings_visible_to_attendees,
        )
