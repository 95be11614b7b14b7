"""How the use cases' records look to API clients (docs/api.md's MeetingView, AttendeeView
and JoinInfo): the response bodies, rendered here and nowhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meetings.domain.instants import rfc3339
from meetings.domain.records import AttendeeRecord, Capabilities, MeetingRecord
from meetings.handlers.media_views import recording_summary, transcription_of_meeting

if TYPE_CHECKING:  # the use cases' results, named for their types only: no import at run time
    from meetings.service.creating import Created
    from meetings.service.provisioning import Provisioned
    from meetings.service.querying import Page
    from meetings.service.shared import Joined


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
        "recording": recording_summary(record.recording),
        "transcription": transcription_of_meeting(record.transcription),
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


def join_info(joined: Joined) -> dict[str, Any]:
    """The body the Chime client libraries take as is (MeetingSessionConfiguration)."""
    return {"Meeting": joined.chime_meeting, "Attendee": joined.chime_attendee}


def created_view(created: Created) -> dict[str, Any]:
    body: dict[str, Any] = {"meeting": meeting_view(created.meeting)}
    if created.joined is not None:
        body["joinInfo"] = join_info(created.joined)
    return body


def meeting_envelope(meeting: MeetingRecord) -> dict[str, Any]:
    return {"meeting": meeting_view(meeting)}


def attendee_envelope(attendee: AttendeeRecord) -> dict[str, Any]:
    return {"attendee": attendee_view(attendee)}


def meeting_list(page: Page[MeetingRecord]) -> dict[str, Any]:
    return {
        "meetings": [meeting_view(record) for record in page.records],
        "nextToken": page.next_token,
    }


def roster_view(page: Page[AttendeeRecord]) -> dict[str, Any]:
    return {
        "attendees": [attendee_view(record) for record in page.records],
        "nextToken": page.next_token,
    }


def provisioned_view(provisioned: Provisioned) -> dict[str, Any]:
    return {
        "attendees": [attendee_view(attendee) for attendee in provisioned.attendees],
        "errors": [
            {"userId": error.user_id, "code": error.code, "message": error.message}
            for error in provisioned.errors
        ],
    }
