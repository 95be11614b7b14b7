"""The API's request and response bodies as pydantic models (docs/api.md).

Request models validate everything a client can get wrong, with domain.validation's rules, so a
bad request becomes a 400 with details before any AWS call. Response models exist for the
OpenAPI document; handlers/views.py renders the use cases' records in exactly these shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, JsonValue, field_validator, model_validator

from meetings.deployment import CHIME_MEDIA_REGIONS
from meetings.domain.records import Capabilities, Capability
from meetings.domain.validation import (
    CHIME_EXTERNAL_ID_PATTERN,
    EXTERNAL_ID_MAX,
    EXTERNAL_ID_MIN,
    HIGH_CONTENT_RESOLUTION,
    HIGH_RESOLUTION_MAX_ATTENDEES,
    HIGH_VIDEO_RESOLUTION,
    MAX_ATTENDEES,
    RECEIVING,
    TAG_KEY_MAX,
    TAG_KEY_PATTERN,
    TAG_VALUE_MAX,
    TAG_VALUE_PATTERN,
    USER_ID_MAX,
    USER_ID_MAX_BYTES,
    attendee_limit,
    capabilities_combination_problem,
    media_region_problem,
    room_name_problem,
    tags_problem,
    user_id_problem,
)
from meetings.handlers.media_models import (
    AutoRecordingBody,
    RecordingSummary,
    TranscriptionBody,
    TranscriptionView,
)
from meetings.handlers.model_base import ApiModel

CapabilityValue = Literal["SendReceive", "Send", "Receive", "None"]
VideoResolution = Literal["None", "HD", "FHD"]
ContentResolution = Literal["None", "FHD", "UHD"]

MIN_DURATION_SECONDS = 60
MAX_DURATION_SECONDS = 86_400
MAX_PROVISION_BATCH = 100
# Chime leaves at most 250 attendees alone in a mute-all; the caller's own is one of them.
MAX_EXCEPT_USERS = 249

# The rules the validators below check, stated in the OpenAPI document too, so that the
# document is true: a client (or a fuzzer) generating from it sends only what is accepted.
_NOT_RESERVED = "(?![aA][wW][sS]:)"
_ROOM_NAME_SCHEMA: dict[str, JsonValue] = {
    "minLength": EXTERNAL_ID_MIN,
    "maxLength": EXTERNAL_ID_MAX,
    "pattern": f"^{_NOT_RESERVED}(?![aA][uU][tT][oO]-){CHIME_EXTERNAL_ID_PATTERN}$",
}
_MEDIA_REGION_SCHEMA: dict[str, JsonValue] = {"enum": [*CHIME_MEDIA_REGIONS, None]}
_TAGS_SCHEMA: dict[str, JsonValue] = {
    "propertyNames": {
        "minLength": 1,
        "maxLength": TAG_KEY_MAX,
        "pattern": f"^{_NOT_RESERVED}{TAG_KEY_PATTERN}$",
    },
    "additionalProperties": {
        "type": "string",
        "maxLength": TAG_VALUE_MAX,
        "pattern": f"^{TAG_VALUE_PATTERN}$",
    },
}
# attendee_limit as JSON Schema: at most 25 attendees, or neither FHD video nor UHD content.
_ATTENDEE_LIMIT_SCHEMA: dict[str, JsonValue] = {
    "anyOf": [
        {"properties": {"maxAttendees": {"maximum": HIGH_RESOLUTION_MAX_ATTENDEES}}},
        {
            "properties": {
                "features": {
                    "properties": {
                        "videoMaxResolution": {"not": {"const": HIGH_VIDEO_RESOLUTION}},
                        "contentMaxResolution": {"not": {"const": HIGH_CONTENT_RESOLUTION}},
                    }
                }
            }
        },
    ]
}
DurationSeconds = Annotated[int, Field(ge=MIN_DURATION_SECONDS, le=MAX_DURATION_SECONDS)]


class _Strict(ApiModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# --- requests ------------------------------------------------------------------------------


class Features(_Strict):
    echoReduction: bool = False  # noqa: N815 - the API is camelCase
    videoMaxResolution: VideoResolution = "HD"  # noqa: N815
    contentMaxResolution: ContentResolution = "FHD"  # noqa: N815


class CreateMeetingBody(_Strict):
    model_config = ConfigDict(json_schema_extra=_ATTENDEE_LIMIT_SCHEMA)

    externalMeetingId: str | None = Field(  # noqa: N815
        default=None,
        description="Room name (join-or-create): 2-64 characters of Chime's pattern, compared "
        "case-insensitively, not starting with 'aws:' or 'auto-'.",
        json_schema_extra=_ROOM_NAME_SCHEMA,
    )
    mediaRegion: str | None = Field(default=None, json_schema_extra=_MEDIA_REGION_SCHEMA)  # noqa: N815
    maxAttendees: Annotated[int, Field(ge=1, le=MAX_ATTENDEES)] | None = None  # noqa: N815
    features: Features = Field(default_factory=Features)
    maxDurationSeconds: DurationSeconds | None = None  # noqa: N815
    tags: dict[str, str] = Field(
        default_factory=dict, max_length=50, json_schema_extra=_TAGS_SCHEMA
    )
    join: bool = False
    recording: AutoRecordingBody | None = Field(
        default=None, description="With auto: true, recording starts with the first attendee."
    )
    transcription: TranscriptionBody | None = Field(
        default=None, description="Live transcription, started with the first attendee."
    )

    @field_validator("externalMeetingId")
    @classmethod
    def _room_name(cls, value: str | None) -> str | None:
        problem = None if value is None else room_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("mediaRegion")
    @classmethod
    def _media_region(cls, value: str | None) -> str | None:
        problem = None if value is None else media_region_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        problem = tags_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _attendee_limit(self) -> CreateMeetingBody:
        limit = attendee_limit(self.features.videoMaxResolution, self.features.contentMaxResolution)
        if self.maxAttendees is not None and self.maxAttendees > limit:
            raise ValueError(f"maxAttendees is at most {limit} with FHD video or UHD content")
        return self


def _enum_of(capabilities: Iterable[Capability]) -> dict[str, JsonValue]:
    values: list[JsonValue] = [*sorted(capability.value for capability in capabilities)]
    return {"enum": values}


# capabilities_combination_problem as JSON Schema: content does not receive, or video does.
# Content is spelled out as required in the first branch: absent, it defaults to SendReceive.
_CAPABILITIES_SCHEMA: dict[str, JsonValue] = {
    "anyOf": [
        {
            "required": ["content"],
            "properties": {"content": _enum_of(set(Capability) - RECEIVING)},
        },
        {"properties": {"video": _enum_of(RECEIVING)}},
    ]
}


class CapabilitiesBody(_Strict):
    model_config = ConfigDict(json_schema_extra=_CAPABILITIES_SCHEMA)

    audio: CapabilityValue = "SendReceive"
    video: CapabilityValue = "SendReceive"
    content: CapabilityValue = "SendReceive"

    @model_validator(mode="after")
    def _combination(self) -> CapabilitiesBody:
        problem = capabilities_combination_problem(self.to_domain())
        if problem:
            raise ValueError(problem)
        return self

    def to_domain(self) -> Capabilities:
        return Capabilities(
            audio=Capability(self.audio),
            video=Capability(self.video),
            content=Capability(self.content),
        )


# JSON Schema counts characters only: the byte limit is stated as an extension keyword.
USER_ID_SCHEMA: dict[str, JsonValue] = {
    "x-maxBytes": USER_ID_MAX_BYTES,
    "description": f"1-{USER_ID_MAX} characters and at most {USER_ID_MAX_BYTES} bytes in UTF-8",
}


UserIdText = Annotated[
    str, Field(min_length=1, max_length=USER_ID_MAX, json_schema_extra=USER_ID_SCHEMA)
]


class ProvisionEntry(_Strict):
    userId: UserIdText  # noqa: N815
    capabilities: CapabilitiesBody | None = None

    @field_validator("userId")
    @classmethod
    def _user_id(cls, value: str) -> str:
        problem = user_id_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class ProvisionBody(_Strict):
    attendees: Annotated[list[ProvisionEntry], Field(min_length=1, max_length=MAX_PROVISION_BATCH)]


class MuteAllBody(_Strict):
    """Everyone but the caller and `exceptUserIds` gets `capabilities` (audio Receive, video
    and content SendReceive unless given: Chime sets all three at once)."""

    exceptUserIds: list[UserIdText] = Field(default_factory=list, max_length=MAX_EXCEPT_USERS)  # noqa: N815
    capabilities: CapabilitiesBody = Field(
        default_factory=lambda: CapabilitiesBody(audio="Receive")
    )

    @field_validator("exceptUserIds")
    @classmethod
    def _user_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            problem = user_id_problem(value)
            if problem:
                raise ValueError(problem)
        return values


# --- responses (for the OpenAPI document) ----------------------------------------------------


class AttendeeCounts(ApiModel):
    total: int
    connected: int
    peakConnected: int  # noqa: N815


class MeetingView(ApiModel):
    meetingId: str  # noqa: N815
    externalMeetingId: str  # noqa: N815
    mediaRegion: str  # noqa: N815
    status: Literal["CREATED", "STARTED", "ENDED"]
    hostUserId: str  # noqa: N815
    createdAt: str  # noqa: N815
    startedAt: str | None  # noqa: N815
    endedAt: str | None  # noqa: N815
    endReason: str | None  # noqa: N815
    maxAttendees: int  # noqa: N815
    maxDurationSeconds: int | None  # noqa: N815
    attendees: AttendeeCounts
    contentShareActive: bool  # noqa: N815
    tags: dict[str, str]
    recording: RecordingSummary | None
    transcription: TranscriptionView | None


class AttendeeView(ApiModel):
    attendeeId: str  # noqa: N815
    userId: str  # noqa: N815
    meetingId: str  # noqa: N815
    presence: Literal["PROVISIONED", "CONNECTED", "LEFT", "DROPPED", "REMOVED"]
    joinedAt: str | None  # noqa: N815
    leftAt: str | None  # noqa: N815
    capabilities: CapabilitiesBody
    video: bool
    contentShare: bool  # noqa: N815


class JoinInfo(ApiModel):
    """Exactly what the Chime SDK client libraries take (MeetingSessionConfiguration)."""

    Meeting: dict[str, Any]
    Attendee: dict[str, Any]


class MeetingEnvelope(ApiModel):
    meeting: MeetingView


class CreatedMeeting(ApiModel):
    meeting: MeetingView
    joinInfo: JoinInfo | None = None  # noqa: N815


class MeetingList(ApiModel):
    meetings: list[MeetingView]
    nextToken: str | None  # noqa: N815


class AttendeeEnvelope(ApiModel):
    attendee: AttendeeView


class Roster(ApiModel):
    attendees: list[AttendeeView]
    nextToken: str | None  # noqa: N815


class ItemError(ApiModel):
    userId: str  # noqa: N815
    code: str
    message: str


class ProvisionResult(ApiModel):
    attendees: list[AttendeeView]
    errors: list[ItemError]


class ErrorDetail(ApiModel):
    code: str
    message: str
    requestId: str | None  # noqa: N815
    details: list[dict[str, Any]] | None = None


class ErrorEnvelope(ApiModel):
    error: ErrorDetail


class GatewayMessage(ApiModel):
    """API Gateway's own answers (401 from the authorizer, 429 throttling, 503/504)."""

    message: str


class Health(ApiModel):
    status: Literal["ok"]


class MuteAllResult(ApiModel):
    excludedAttendeeIds: list[str]  # noqa: N815
    capabilities: CapabilitiesBody
