"""The records the table holds, as the domain sees them.

Field names are the item attribute names (the table adds only keys and index attributes, see
adapters/table/codec.py), so a newcomer reading an item in the console finds the same words here.
Timestamps are epoch milliseconds (ints): Chime's events carry epoch ms, and integer
comparison keeps ordering and tie-breaking exact. Views render them as RFC 3339.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class MeetingStatus(StrEnum):
    CREATED = "CREATED"
    STARTED = "STARTED"
    ENDED = "ENDED"

    @property
    def is_open(self) -> bool:
        return self is not MeetingStatus.ENDED


class EndReason(StrEnum):
    HOST_ENDED = "host_ended"
    MAX_DURATION = "max_duration"
    NO_AUDIO_5MIN = "no_audio_5min"
    SINGLE_ATTENDEE_30MIN = "single_attendee_30min"
    CHIME_24H_LIMIT = "chime_24h_limit"
    VANISHED = "vanished"
    UNKNOWN = "unknown"


class EndSource(StrEnum):
    """Where a meeting's `endedAt` comes from."""

    CHIME = "chime"  # chime:MeetingEnded's timestamp
    PREDICTED = "predicted"  # the instant the tracked timeline says a rule fired
    BACKEND = "backend"  # only the backend's clock: it noticed the end, or ended it itself


class EndNoticer(StrEnum):
    """Who noticed an end Chime never reported (decides `vanished` against `unknown`)."""

    API = "api"
    RECONCILIATION = "reconciliation"


class Presence(StrEnum):
    PROVISIONED = "PROVISIONED"
    CONNECTED = "CONNECTED"
    LEFT = "LEFT"
    DROPPED = "DROPPED"
    REMOVED = "REMOVED"


class Capability(StrEnum):
    SEND_RECEIVE = "SendReceive"
    SEND = "Send"
    RECEIVE = "Receive"
    NONE = "None"


@dataclass(frozen=True, slots=True)
class Capabilities:
    audio: Capability = Capability.SEND_RECEIVE
    video: Capability = Capability.SEND_RECEIVE
    content: Capability = Capability.SEND_RECEIVE


@dataclass(frozen=True, slots=True)
class MeetingRecord:
    meetingId: str  # noqa: N815 - item attribute names are camelCase
    externalMeetingId: str  # noqa: N815
    mediaRegion: str  # noqa: N815
    hostUserId: str  # noqa: N815
    createdAt: int  # noqa: N815 - epoch ms, the backend's clock
    status: MeetingStatus = MeetingStatus.CREATED
    startedAt: int | None = None  # noqa: N815 - first chime:AttendeeJoined (event timestamp)
    endedAt: int | None = None  # noqa: N815
    endReason: EndReason | None = None  # noqa: N815
    maxAttendees: int = 250  # noqa: N815
    maxDurationSeconds: int | None = None  # noqa: N815
    features: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # The Chime Meeting object as CreateMeeting returned it: it never changes, so joins
    # serve it from here instead of calling GetMeeting.
    chimeMeeting: dict[str, Any] = field(default_factory=dict)  # noqa: N815
    attendeeTotal: int = 0  # noqa: N815 - attendees ever added, content shares excluded
    connected: int = 0
    peakConnected: int = 0  # noqa: N815
    contentShareActive: bool = False  # noqa: N815
    expiresAt: int | None = None  # noqa: N815 - TTL (epoch seconds), set when the meeting ends
    # The reason the backend itself ends it with (host_ended, max_duration), written before
    # DeleteMeeting so a chime:MeetingEnded that overtakes our own write still gets it.
    requestedEndReason: EndReason | None = None  # noqa: N815
    # Where endedAt comes from (set when the meeting ends).
    endedAtSource: EndSource | None = None  # noqa: N815
    # Who noticed an end Chime never reported (None: Chime's MeetingEnded, or our own end).
    endNoticedBy: EndNoticer | None = None  # noqa: N815
    # Epoch ms at which the cleanup settles an inferred end reason; present only while it is
    # not settled (the reason then reads `unknown`). Absent: the reason is final.
    endSettlesAt: int | None = None  # noqa: N815
    # The running (or last) recording as the meeting view shows it: recordingId, status,
    # sequence (adapters/table/recordings.py keeps it with the recording's own writes).
    recording: dict[str, Any] | None = None
    # The live transcription run (domain/transcription.py's TranscriptionRecord.as_dict()).
    transcription: dict[str, Any] | None = None
    # What starts with the first connected attendee: {"recording": options, "transcription":
    # settings}; removed once started.
    mediaOnStart: dict[str, Any] | None = None  # noqa: N815

    @property
    def end_reason_final(self) -> bool:
        return self.status is MeetingStatus.ENDED and self.endSettlesAt is None


@dataclass(frozen=True, slots=True)
class AttendeeRecord:
    attendeeId: str  # noqa: N815
    meetingId: str  # noqa: N815
    userId: str  # noqa: N815 - the caller's `sub` (or, for an attendee first seen in an event, its ExternalUserId)
    externalUserId: str  # noqa: N815
    addedAt: int  # noqa: N815 - epoch ms; the roster's order
    presence: Presence = Presence.PROVISIONED
    joinedAt: int | None = None  # noqa: N815
    leftAt: int | None = None  # noqa: N815
    capabilities: Capabilities = field(default_factory=Capabilities)
    video: bool = False
    contentShare: bool = False  # noqa: N815


@dataclass(frozen=True, slots=True)
class UserPointerRecord:
    """A user's current attendee in a meeting (item `USER#<userId>` in the meeting's partition)."""

    meetingId: str  # noqa: N815
    userId: str  # noqa: N815
    attendeeId: str  # noqa: N815 - the attendee a join hands back (200) instead of a new one
    externalUserId: str  # noqa: N815
    barred: bool = False  # the host or an admin removed this user: no rejoin
    expiresAt: int | None = None  # noqa: N815 - TTL (epoch seconds), set when the meeting ends
