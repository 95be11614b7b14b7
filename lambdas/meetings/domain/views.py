"""How records look to API clients (api-v1.md's MeetingView and AttendeeView) and to sort keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from meetings.domain.records import AttendeeRecord, Capabilities, MeetingRecord


def rfc3339(epoch_ms: int) -> str:
    """`2026-11-25T19:00:00.000Z`: fixed width, so the strings sort like the instants."""
    instant = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _optional_instant(epoch_ms: int | None) -> str | None:
    return None if epoch_ms is None else rfc3339(epoch_ms)


def capabilities_view(capabilities: Capabilities) -> dict[str, str]:
    return {
        "audio": str(capabilities.audio),
        "video": str(capabilities.video),
        "content": str(capabilities.content),
    }


def meeting_view(record: MeetingRecord) -> dict[str, Any]:
    return {
        "meetingId": record.meetingId,
        "externalMeetingId": record.externalMeetingId,
        "mediaRegion": record.mediaRegion,
        "status": str(record.status),
        "hostUserId": record.hostUserId,
        "createdAt": rfc3339(record.createdAt),
        "startedAt": _optional_instant(record.startedAt),
        "endedAt": _optional_instant(record.endedAt),
        "endReason": None if record.endReason is None else str(record.endReason),
        "maxAttendees": record.maxAttendees,
        "maxDurationSeconds": record.maxDurationSeconds,
        "attendees": {
            "total": record.attendeeTotal,
            "connected": record.connected,
            "peakConnected": record.peakConnected,
        },
        "contentShareActive": record.contentShareActive,
        "tags": dict(record.tags),
    }


def attendee_view(record: AttendeeRecord) -> dict[str, Any]:
    return {
        "attendeeId": record.attendeeId,
        "userId": record.userId,
        "meetingId": record.meetingId,
        "presence": str(record.presence),
        "joinedAt": _optional_instant(record.joinedAt),
        "leftAt": _optional_instant(record.leftAt),
        "capabilities": capabilities_view(record.capabilities),
        "video": record.video,
        "contentShare": record.contentShare,
    }


def join_info(chime_meeting: dict[str, Any], chime_attendee: dict[str, Any]) -> dict[str, Any]:
    """The body the Chime client libraries take as is (MeetingSessionConfiguration)."""
    return {"Meeting": chime_meeting, "Attendee": chime_attendee}
