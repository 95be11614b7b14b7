"""How recordings, transcription and transcripts look to API clients (docs/api.md's
RecordingView, TranscriptionView, Transcript): rendered here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meetings.domain.instants import rfc3339
from meetings.domain.recording import RecordingRecord
from meetings.domain.transcript import TranscriptLine
from meetings.domain.transcription import TranscriptionRecord

# The meeting view shows its newest recording while it is in one of these.
_RUNNING_SUMMARY = frozenset({"CAPTURING", "PROCESSING"})


def _instant(epoch_ms: int | None) -> str | None:
    return None if epoch_ms is None else rfc3339(epoch_ms)


def recording_view(
    record: RecordingRecord, links: Mapping[str, str] | None = None
) -> dict[str, Any]:
    links = links or {}
    failure = None
    if record.failureCode is not None:
        failure = {"code": record.failureCode, "message": record.failureMessage or ""}
    artifacts = []
    for artifact in record.artifacts:
        view: dict[str, Any] = {
            "kind": str(artifact.kind),
            "contentType": artifact.contentType,
            "bytes": artifact.bytes,
        }
        if artifact.key in links:
            view["url"] = links[artifact.key]
        artifacts.append(view)
    return {
        "recordingId": record.recordingId,
        "meetingId": record.meetingId,
        "status": str(record.status),
        "startedAt": rfc3339(record.startedAt),
        "stoppedAt": _instant(record.stoppedAt),
        "availableAt": _instant(record.availableAt),
        "failure": failure,
        "options": record.options.as_dict(),
        "artifacts": artifacts,
    }


def recording_summary(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not summary or summary.get("status") not in _RUNNING_SUMMARY:
        return None
    return {"recordingId": summary["recordingId"], "status": summary["status"]}


def transcription_view(record: TranscriptionRecord) -> dict[str, Any]:
    failure = None
    if record.failureMessage is not None:
        failure = {"code": "TRANSCRIPTION_FAILED", "message": record.failureMessage}
    return {
        "status": str(record.status),
        "languageCode": record.settings.languageCode,
        "identifyLanguage": record.settings.identifyLanguage,
        "region": record.region,
        "requestedAt": rfc3339(record.requestedAt),
        "startedAt": _instant(record.startedAt),
        "failure": failure,
    }


def transcription_of_meeting(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if raw is None else transcription_view(TranscriptionRecord.from_dict(raw))


def transcript_view(meeting_id: str, lines: list[TranscriptLine]) -> dict[str, Any]:
    return {
        "meetingId": meeting_id,
        "lines": [
            {
                "attendeeId": line.attendeeId,
                "externalUserId": line.externalUserId,
                "startedAt": rfc3339(line.startTimeMs),
                "endedAt": rfc3339(line.endTimeMs),
                "text": line.text,
            }
            for line in lines
        ],
    }
