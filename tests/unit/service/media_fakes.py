"""In-memory stand-ins of the media ports (recordings repository, media pipelines, the
recordings bucket): each keeps the contract of its adapter (conditions, idempotent tokens)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from meetings.domain.recording import RecordingOptions, RecordingRecord
from meetings.domain.transcription import TranscriptionRecord
from meetings.service.ports import CapturePipeline, TransactionRejectedError

MEETING_ID = "87654321-4321-4321-4321-210987654321"


class MemoryRecordings:
    def __init__(self) -> None:
        self.records: dict[str, RecordingRecord] = {}
        self.transcriptions: dict[str, TranscriptionRecord] = {}
        self.media_on_start: dict[str, dict[str, Any]] = {}
        self.ended: set[str] = set()
        self.writes = 0

    def list_recordings(self, meeting_id: str) -> list[RecordingRecord]:
        found = [r for r in self.records.values() if r.meetingId == meeting_id]
        return sorted(found, key=lambda r: r.sequence, reverse=True)

    def get_recording(self, meeting_id: str, recording_id: str) -> RecordingRecord | None:
        return self.records.get(recording_id)

    def add_recording(self, record: RecordingRecord) -> None:
        if record.recordingId in self.records or record.meetingId in self.ended:
            raise TransactionRejectedError(["ConditionalCheckFailed"])
        self.records[record.recordingId] = record
        self.writes += 1

    def save_recording(self, record: RecordingRecord, *, seen: RecordingRecord) -> None:
        current = self.records[record.recordingId]
        as_seen = (current.status, current.concatenationPipelineId, current.concatenationDone)
        if as_seen != (seen.status, seen.concatenationPipelineId, seen.concatenationDone):
            raise TransactionRejectedError(["ConditionalCheckFailed"])
        self.records[record.recordingId] = record
        self.writes += 1

    def due_recordings(self, now_ms: int, limit: int) -> list[RecordingRecord]:
        due = [
            r
            for r in self.records.values()
            if r.checkAt is not None and r.checkAt <= now_ms and not r.status.is_final
        ]
        return sorted(due, key=lambda r: r.checkAt or 0)[:limit]

    def save_transcription(
        self,
        meeting_id: str,
        record: TranscriptionRecord,
        *,
        seen: TranscriptionRecord | None,
        while_open: bool = False,
    ) -> None:
        if self.transcriptions.get(meeting_id) != seen or (while_open and meeting_id in self.ended):
            raise TransactionRejectedError(["ConditionalCheckFailed"])
        self.transcriptions[meeting_id] = record

    def clear_media_on_start(self, meeting_id: str) -> None:
        self.media_on_start.pop(meeting_id, None)


class FakePipelines:
    """Chime's media pipelines as the backend sees them: one pipeline per request token."""

    def __init__(self) -> None:
        self._ids = (f"00000000-0000-4000-8000-{n:012d}" for n in itertools.count(1))
        self.by_token: dict[str, str] = {}
        self.status: dict[str, str] = {}
        self.concatenations: dict[str, str] = {}  # concatenation id -> its capture's arn
        self.calls: list[str] = []

    def _pipeline(self, token: str) -> str:
        if token not in self.by_token:
            pipeline_id = next(self._ids)
            self.by_token[token] = pipeline_id
            self.status[pipeline_id] = "InProgress"
        return self.by_token[token]

    def create_capture(
        self,
        *,
        meeting_id: str,
        client_request_token: str,
        sink_prefix: str,
        options: RecordingOptions,
    ) -> CapturePipeline:
        self.calls.append("create_capture")
        pipeline_id = self._pipeline(client_request_token)
        return CapturePipeline(
            pipeline_id, f"arn:aws:chime:us-east-1:1:media-pipeline/{pipeline_id}"
        )

    def create_concatenation(
        self,
        *,
        client_request_token: str,
        capture_arn: str,
        sink_prefix: str,
        options: RecordingOptions,
    ) -> str:
        self.calls.append("create_concatenation")
        pipeline_id = self._pipeline(client_request_token)
        self.concatenations[pipeline_id] = capture_arn
        return pipeline_id

    def get_status(self, pipeline_id: str) -> str | None:
        return self.status.get(pipeline_id)

    def delete(self, pipeline_id: str) -> bool:
        self.calls.append("delete")
        if self.status.get(pipeline_id) != "InProgress":
            return False
        self.status[pipeline_id] = "Stopped"
        return True


class FakeBucket:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def list_objects(self, prefix: str) -> dict[str, int]:
        return {k: len(v) for k, v in self.objects.items() if k.startswith(prefix)}

    def presign_get(self, key: str, expires_in_seconds: int) -> str:
        return f"https://bucket.example/{key}?expires={expires_in_seconds}"

    def read_text(self, key: str, max_bytes: int) -> str:
        return self.objects[key][:max_bytes].decode()


def write_output(bucket: FakeBucket, record: RecordingRecord, *kinds: str) -> None:
    """The concatenation's files, as Chime names them (`<folder>/<pipelineId>.<ext>`)."""
    for folder in kinds:
        extension = "txt" if folder in ("transcription-messages", "meeting-events") else "mp4"
        key = f"{record.output_prefix}/{folder}/{record.concatenationPipelineId}.{extension}"
        bucket.objects[key] = b"data"


def without_schedule(record: RecordingRecord) -> RecordingRecord:
    """The state to compare across event orders (when it was checked next differs)."""
    return dataclasses.replace(record, checkAt=None, expiresAt=None, availableAt=None)
