"""Chime's `Chime Meeting State Change` events, parsed into what the backend acts on.

Chime delivers these best effort: late, duplicated, out of order, sometimes never. Parsing is
strict about the fields the backend needs and lenient about everything else, so a new event
type or an extra field never fails a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from meetings.deployment import CHIME_EVENT_DETAIL_TYPE, CHIME_EVENT_SOURCE

# Chime names the content-share attendee after its sharer: `<sharer attendeeId>#content`.
CONTENT_SHARE_SUFFIX: Final = "#content"


class ChimeEventType(StrEnum):
    MEETING_STARTED = "chime:MeetingStarted"
    MEETING_ENDED = "chime:MeetingEnded"
    ATTENDEE_ADDED = "chime:AttendeeAdded"
    ATTENDEE_DELETED = "chime:AttendeeDeleted"
    ATTENDEE_AUTHORIZED = "chime:AttendeeAuthorized"
    ATTENDEE_JOINED = "chime:AttendeeJoined"
    ATTENDEE_LEFT = "chime:AttendeeLeft"
    ATTENDEE_DROPPED = "chime:AttendeeDropped"
    VIDEO_STARTED = "chime:AttendeeVideoStarted"
    VIDEO_STOPPED = "chime:AttendeeVideoStopped"
    CONTENT_JOINED = "chime:AttendeeContentJoined"
    CONTENT_LEFT = "chime:AttendeeContentLeft"
    CONTENT_DROPPED = "chime:AttendeeContentDropped"
    # Live transcription's lifecycle (domain/transcription.py); no entry of the activity log.
    TRANSCRIPTION_STARTED = "chime:TranscriptionStarted"
    TRANSCRIPTION_STOPPED = "chime:TranscriptionStopped"
    TRANSCRIPTION_INTERRUPTED = "chime:TranscriptionInterrupted"
    TRANSCRIPTION_RESUMED = "chime:TranscriptionResumed"
    TRANSCRIPTION_FAILED = "chime:TranscriptionFailed"
    OTHER = "other"  # capability updates and the like: no state of ours


class MalformedChimeEventError(ValueError):
    """The envelope is not a Chime meeting event the backend can apply (never retried)."""


@dataclass(frozen=True, slots=True)
class ChimeEvent:
    event_type: ChimeEventType
    meeting_id: str
    timestamp: int  # epoch ms, Chime's clock
    attendee_id: str | None = None
    external_user_id: str | None = None
    # For events of a content-share attendee: the attendee who shares (it is not an attendee).
    sharer_attendee_id: str | None = None
    # Transcription events: where it runs, and Chime's text (a failure's reason).
    transcription_region: str | None = None
    message: str | None = None

    @property
    def is_content_share(self) -> bool:
        return self.sharer_attendee_id is not None


def _required_text(detail: Mapping[str, Any], name: str) -> str:
    value = detail.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedChimeEventError(f"detail.{name} is missing or not a string")
    return value


def _timestamp(detail: Mapping[str, Any]) -> int:
    value = detail.get("timestamp")
    # bool is an int in Python; a JSON true is not a timestamp.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 10**13:
        raise MalformedChimeEventError("detail.timestamp is missing or not epoch milliseconds")
    return int(value)


def _event_type(detail: Mapping[str, Any]) -> ChimeEventType:
    raw = _required_text(detail, "eventType")
    try:
        return ChimeEventType(raw)
    except ValueError:
        return ChimeEventType.OTHER


def _sharer_of(attendee_id: str | None, external_user_id: str | None) -> str | None:
    for candidate in (attendee_id, external_user_id):
        if candidate and candidate.endswith(CONTENT_SHARE_SUFFIX):
            sharer = candidate.removesuffix(CONTENT_SHARE_SUFFIX)
            return sharer or None
    return None


def parse_chime_event(envelope: Mapping[str, Any]) -> ChimeEvent:
    """The event of an EventBridge envelope matching `deployment.CHIME_EVENT_PATTERN`."""
    if envelope.get("source") != CHIME_EVENT_SOURCE:
        raise MalformedChimeEventError(f"source is not {CHIME_EVENT_SOURCE}")
    if envelope.get("detail-type") != CHIME_EVENT_DETAIL_TYPE:
        raise MalformedChimeEventError(f"detail-type is not {CHIME_EVENT_DETAIL_TYPE}")
    detail = envelope.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedChimeEventError("detail is not an object")
    event_type = _event_type(detail)
    attendee_id = detail.get("attendeeId") if isinstance(detail.get("attendeeId"), str) else None
    external = detail.get("externalUserId")
    external_user_id = external if isinstance(external, str) else None
    return ChimeEvent(
        event_type=event_type,
        meeting_id=_required_text(detail, "meetingId"),
        timestamp=_timestamp(detail),
        attendee_id=attendee_id or None,
        external_user_id=external_user_id or None,
        sharer_attendee_id=_sharer_of(attendee_id, external_user_id),
        transcription_region=_optional_text(detail, "transcriptionRegion"),
        message=_optional_text(detail, "message"),
    )


def _optional_text(detail: Mapping[str, Any], name: str) -> str | None:
    value = detail.get(name)
    return value if isinstance(value, str) and value else None
