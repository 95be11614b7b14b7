"""What the emulated service remembers: meetings, their attendees and media connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

DEFAULT_MAX_ATTENDEES: Final = 250
CONTENT_SUFFIX: Final = "#content"


@dataclass
class Media:
    """A connected client's media: what it sends or views right now."""

    audio: bool = False
    video: bool = False
    content: bool = False
    viewing_content: bool = False


@dataclass
class Attendee:
    attendee_id: str
    external_user_id: str
    join_token: str
    capabilities: dict[str, str]
    added_order: int
    deleted: bool = False
    media: Media | None = None  # None: no client connected

    def as_api(self) -> dict[str, Any]:
        return {
            "AttendeeId": self.attendee_id,
            "ExternalUserId": self.external_user_id,
            "JoinToken": self.join_token,
            "Capabilities": dict(self.capabilities),
        }

    @property
    def content_attendee_id(self) -> str:
        """The content-share attendee Chime creates for a sharer: `<attendeeId>#content`."""
        return self.attendee_id + CONTENT_SUFFIX


@dataclass
class Transcription:
    """Live transcription of a meeting: its configuration, the Transcribe Region it runs in, and
    an interruption in progress (nothing is transcribed until it resumes at that instant)."""

    configuration: dict[str, Any]
    region: str
    interrupted_until_ms: int | None = None


@dataclass
class Meeting:
    meeting_id: str
    meeting_arn: str
    external_meeting_id: str
    media_region: str
    created_ms: int
    media_placement: dict[str, str]
    features: dict[str, Any] | None = None
    host_id: str | None = None
    primary_meeting_id: str | None = None
    tenant_ids: list[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    attendees: dict[str, Attendee] = field(default_factory=dict)
    # ExternalUserId → AttendeeId of the attendees not deleted (Chime's idempotency key).
    live_by_external_id: dict[str, str] = field(default_factory=dict)
    added_count: int = 0
    transcription: Transcription | None = None
    # An injected failure waiting for the next StartMeetingTranscription.
    transcription_start_fails: bool = False
    # Capture pipelines in the meeting: Chime counts each like an attendee's audio connection.
    pipeline_connections: int = 0
    ended_ms: int | None = None
    end_reason: str | None = None
    # Since when each auto-end condition has held continuously (None: it does not hold).
    no_audio_since: int | None = None
    below_two_audio_since: int | None = None
    idle_viewers_since: int | None = None

    @property
    def is_open(self) -> bool:
        return self.ended_ms is None

    @property
    def max_attendees(self) -> int:
        attendee = (self.features or {}).get("Attendee") or {}
        return int(attendee.get("MaxCount", DEFAULT_MAX_ATTENDEES))

    def live_attendees(self) -> list[Attendee]:
        return [attendee for attendee in self.attendees.values() if not attendee.deleted]

    def connected(self) -> list[Attendee]:
        return [a for a in self.attendees.values() if a.media is not None]

    def as_api(self) -> dict[str, Any]:
        meeting: dict[str, Any] = {
            "MeetingId": self.meeting_id,
            "ExternalMeetingId": self.external_meeting_id,
            "MediaRegion": self.media_region,
            "MediaPlacement": dict(self.media_placement),
            "MeetingArn": self.meeting_arn,
        }
        optional = {
            "MeetingHostId": self.host_id,
            "MeetingFeatures": self.features,
            "PrimaryMeetingId": self.primary_meeting_id,
            "TenantIds": self.tenant_ids,
        }
        meeting.update({name: value for name, value in optional.items() if value is not None})
        return meeting
