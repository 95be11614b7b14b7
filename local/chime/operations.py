"""The 16 operations of `chime-sdk-meetings`, each a function of the state and its validated
input that returns its output members (or raises ChimeError, changing nothing)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Final

from local.chime import autoend, paging, rules, tagging, transcription
from local.chime.errors import ChimeError, bad_request, limit_exceeded
from local.chime.service import DELETED, ChimeState
from local.chime.state import Attendee, Meeting

Params = dict[str, Any]
Output = dict[str, Any]
_MEETING_ARN_RESOURCE: Final = ":meeting/"
_ATTENDEES_FROM: Final = "attendees-from"


# --- meetings ---------------------------------------------------------------------------------
def create_meeting(state: ChimeState, params: Params) -> Output:
    return _idempotent_create(state, params, with_attendees=False)


def create_meeting_with_attendees(state: ChimeState, params: Params) -> Output:
    return _idempotent_create(state, params, with_attendees=True)


def _idempotent_create(state: ChimeState, params: Params, *, with_attendees: bool) -> Output:
    """Same ClientRequestToken, same request → the first answer again (even once the meeting
    has ended); same token, different request → Conflict."""
    request = {name: value for name, value in params.items() if name != "ClientRequestToken"}
    request["__operation"] = "with-attendees" if with_attendees else "meeting"
    token = params["ClientRequestToken"]
    remembered = state.requests_by_token.get(token)
    if remembered is not None:
        if remembered[0] != request:
            raise ChimeError(
                "ConflictException", "The ClientRequestToken was used with a different request"
            )
        return copy.deepcopy(remembered[1])
    answer = _create(state, params, with_attendees=with_attendees)
    state.requests_by_token[token] = (copy.deepcopy(request), copy.deepcopy(answer))
    return answer


def _create(state: ChimeState, params: Params, *, with_attendees: bool) -> Output:
    _check_new_meeting(state, params)
    items = params.get("Attendees", []) if with_attendees else []
    if len(items) > rules.MAX_ATTENDEES_WITH_MEETING:
        raise bad_request(
            f"CreateMeetingWithAttendees takes at most {rules.MAX_ATTENDEES_WITH_MEETING} "
            "attendees; add more with BatchCreateAttendee"
        )
    meeting = _new_meeting(state, params)
    if with_attendees:
        _check_room_for(meeting, items)
    # One instant for the creation, the conditions' start and MeetingStarted: a clock that
    # follows real time would otherwise start the no-audio stretch after the creation.
    now = meeting.created_ms
    state.meetings[meeting.meeting_id] = meeting
    state.open_order.append(meeting.meeting_id)
    autoend.refresh_conditions(meeting, now)
    state.emit(meeting, "MeetingStarted", now)
    answer: Output = {"Meeting": meeting.as_api()}
    if with_attendees:
        attendees, errors = _add_many(state, meeting, items)
        answer.update(Attendees=attendees, Errors=errors)
    return answer


def _check_new_meeting(state: ChimeState, params: Params) -> None:
    rules.check_media_region(params["MediaRegion"])
    rules.check_external_id("ExternalMeetingId", params["ExternalMeetingId"])
    if "MeetingHostId" in params:
        rules.check_external_id("MeetingHostId", params["MeetingHostId"])
    rules.check_meeting_features(params.get("MeetingFeatures"))
    rules.check_tag_keys(params.get("Tags", []))
    primary = params.get("PrimaryMeetingId")
    if primary is not None:
        known = state.meetings.get(primary.lower())
        if known is None or not known.is_open:
            raise bad_request("PrimaryMeetingId must name an active meeting")
    if len(state.open_order) >= state.config.max_active_meetings:
        raise limit_exceeded(
            f"The account has reached its limit of {state.config.max_active_meetings} "
            "active meetings",
        )


def _new_meeting(state: ChimeState, params: Params) -> Meeting:
    meeting_id = state.new_id()
    region = params["MediaRegion"]
    host = f"{region}.chime-emulator.invalid"
    return Meeting(
        meeting_id=meeting_id,
        meeting_arn=state.meeting_arn(meeting_id),
        external_meeting_id=params["ExternalMeetingId"],
        media_region=region,
        created_ms=state.clock.now_ms(),
        media_placement={
            "AudioHostUrl": f"audio.{host}:3478",
            "AudioFallbackUrl": f"wss://audio-fallback.{host}:443/calls/{meeting_id}",
            "SignalingUrl": f"wss://signal.{host}/control/{meeting_id}",
            "TurnControlUrl": f"https://turn-control.{host}/v2/turn_sessions",
            "ScreenDataUrl": f"wss://screen.{host}/on-premise/{meeting_id}",
            "ScreenViewingUrl": f"wss://screen.{host}/ws/connect?passcode=null&viewer_uuid=null&X-BitHub-Call-Id={meeting_id}",
            "ScreenSharingUrl": f"wss://screen.{host}/v2/screen/{meeting_id}",
            "EventIngestionUrl": f"https://data.{host}/v1/client-events",
        },
        features=copy.deepcopy(params.get("MeetingFeatures")),
        host_id=params.get("MeetingHostId"),
        primary_meeting_id=params.get("PrimaryMeetingId"),
        tenant_ids=params.get("TenantIds"),
        tags={tag["Key"]: tag["Value"] for tag in params.get("Tags", [])},
    )


def get_meeting(state: ChimeState, params: Params) -> Output:
    return {"Meeting": state.open_meeting(params["MeetingId"]).as_api()}


def delete_meeting(state: ChimeState, params: Params) -> Output:
    meeting = state.open_meeting(params["MeetingId"])
    state.end_meeting(meeting, state.clock.now_ms(), DELETED)
    return {}


# --- attendees --------------------------------------------------------------------------------
def create_attendee(state: ChimeState, params: Params) -> Output:
    meeting = state.open_meeting(params["MeetingId"])
    item = {"ExternalUserId": params["ExternalUserId"], "Capabilities": params.get("Capabilities")}
    existing = _existing(meeting, item["ExternalUserId"])
    if existing is not None:
        return {"Attendee": existing.as_api()}
    capabilities = _check_item(meeting, item)
    _check_room_for(meeting, [item])
    return {"Attendee": _add(state, meeting, item["ExternalUserId"], capabilities).as_api()}


def batch_create_attendee(state: ChimeState, params: Params) -> Output:
    meeting = state.open_meeting(params["MeetingId"])
    _check_room_for(meeting, params["Attendees"])
    attendees, errors = _add_many(state, meeting, params["Attendees"])
    return {"Attendees": attendees, "Errors": errors}


def _add_many(
    state: ChimeState, meeting: Meeting, items: list[Params]
) -> tuple[list[Output], list[Output]]:
    """Each valid item becomes (or finds) its attendee; an invalid one becomes an error entry."""
    attendees: list[Output] = []
    errors: list[Output] = []
    seen: set[str] = set()
    for item in items:
        user_id = item["ExternalUserId"]
        try:
            attendee = _existing(meeting, user_id)
            if attendee is None:
                capabilities = _check_item(meeting, item)
                attendee = _add(state, meeting, user_id, capabilities)
        except ChimeError as error:
            errors.append(
                {"ExternalUserId": user_id, "ErrorCode": error.code, "ErrorMessage": error.message}
            )
            continue
        if attendee.attendee_id not in seen:
            seen.add(attendee.attendee_id)
            attendees.append(attendee.as_api())
    return attendees, errors


def _existing(meeting: Meeting, external_user_id: str) -> Attendee | None:
    attendee_id = meeting.live_by_external_id.get(external_user_id)
    return None if attendee_id is None else meeting.attendees[attendee_id]


def _check_item(meeting: Meeting, item: Params) -> dict[str, str]:
    rules.check_external_id("ExternalUserId", item["ExternalUserId"])
    return rules.resolve_capabilities(item.get("Capabilities"), meeting.features)


def _check_room_for(meeting: Meeting, items: list[Params]) -> None:
    """Attendees not deleted count against MaxCount; a request that would pass it is refused
    whole."""
    new_ids = {item["ExternalUserId"] for item in items} - meeting.live_by_external_id.keys()
    if len(meeting.live_by_external_id) + len(new_ids) > meeting.max_attendees:
        raise limit_exceeded(
            f"The meeting has reached its maximum of {meeting.max_attendees} attendees",
        )


def _add(
    state: ChimeState, meeting: Meeting, user_id: str, capabilities: dict[str, str]
) -> Attendee:
    attendee_id = state.new_id()
    meeting.added_count += 1
    attendee = Attendee(
        attendee_id=attendee_id,
        external_user_id=user_id,
        join_token=state.new_join_token(attendee_id),
        capabilities=capabilities,
        added_order=meeting.added_count,
    )
    meeting.attendees[attendee_id] = attendee
    meeting.live_by_external_id[user_id] = attendee_id
    state.emit_attendee(meeting, attendee, "AttendeeAdded", state.clock.now_ms())
    return attendee


def get_attendee(state: ChimeState, params: Params) -> Output:
    meeting = state.open_meeting(params["MeetingId"])
    return {"Attendee": state.live_attendee(meeting, params["AttendeeId"]).as_api()}


def delete_attendee(state: ChimeState, params: Params) -> Output:
    """The client (if any) is disconnected first, then the attendee and its JoinToken go."""
    meeting = state.open_meeting(params["MeetingId"])
    attendee = state.live_attendee(meeting, params["AttendeeId"])
    now = state.clock.now_ms()
    state.disconnect(meeting, attendee, now)
    attendee.deleted = True
    del meeting.live_by_external_id[attendee.external_user_id]
    state.emit_attendee(meeting, attendee, "AttendeeDeleted", now)
    return {}


def list_attendees(state: ChimeState, params: Params) -> Output:
    meeting = state.open_meeting(params["MeetingId"])
    page_size = params.get("MaxResults", state.config.default_page_size)
    start = paging.decode(_ATTENDEES_FROM, params.get("NextToken"))
    remaining = [a for a in meeting.live_attendees() if a.added_order >= start]
    page, rest = remaining[:page_size], remaining[page_size:]
    output: Output = {"Attendees": [attendee.as_api() for attendee in page]}
    if rest:
        output["NextToken"] = paging.encode(_ATTENDEES_FROM, rest[0].added_order)
    return output


# --- capabilities -----------------------------------------------------------------------------
def update_attendee_capabilities(state: ChimeState, params: Params) -> Output:
    meeting = state.open_meeting(params["MeetingId"])
    attendee = state.live_attendee(meeting, params["AttendeeId"])
    capabilities = rules.resolve_capabilities(params["Capabilities"], meeting.features)
    _apply_capabilities(state, meeting, attendee, capabilities)
    return {"Attendee": attendee.as_api()}


def batch_update_attendee_capabilities_except(state: ChimeState, params: Params) -> Output:
    meeting = state.open_meeting(params["MeetingId"])
    capabilities = rules.resolve_capabilities(params["Capabilities"], meeting.features)
    excluded = {item["AttendeeId"].lower() for item in params["ExcludedAttendeeIds"]}
    for attendee in meeting.live_attendees():
        if attendee.attendee_id not in excluded:
            _apply_capabilities(state, meeting, attendee, capabilities)
    return {}


def _apply_capabilities(
    state: ChimeState, meeting: Meeting, attendee: Attendee, capabilities: dict[str, str]
) -> None:
    """Streams the new capabilities no longer allow stop (the client renegotiates)."""
    now = state.clock.now_ms()
    attendee.capabilities = dict(capabilities)
    media = attendee.media
    if media is not None:
        if capabilities["Video"] not in rules.SENDING:
            state.stop_video(meeting, attendee, media, now)
        if capabilities["Content"] not in rules.SENDING:
            state.stop_content(meeting, attendee, media, now, dropped=False)
        if capabilities["Content"] not in rules.RECEIVING:
            media.viewing_content = False
        autoend.refresh_conditions(meeting, now)
    state.emit_attendee(
        meeting,
        attendee,
        "AttendeeCapabilitiesUpdated",
        now,
        success=1,
        attendeeCapabilities={kind.lower(): value for kind, value in capabilities.items()},
    )


# --- tags -------------------------------------------------------------------------------------
def _tagged_meeting(state: ChimeState, arn: str) -> Meeting:
    prefix = state.meeting_arn("")
    meeting = None
    if arn.startswith(prefix):
        meeting = state.meetings.get(arn[len(prefix) :].lower())
    if meeting is None or not meeting.is_open:
        raise ChimeError(
            "ResourceNotFoundException", "The resource does not exist", resource_name=arn
        )
    return meeting


def _too_many_tags(arn: str) -> ChimeError:
    return ChimeError(
        "TooManyTagsException",
        f"A meeting can have at most {tagging.MAX_TAGS} tags",
        resource_name=arn,
    )


# --- transcription ----------------------------------------------------------------------------
def start_meeting_transcription(state: ChimeState, params: Params) -> Output:
    meeting = state.open_meeting(params["MeetingId"])
    configuration = params["TranscriptionConfiguration"]
    _check_transcription(configuration)
    if meeting.transcription is not None:
        raise ChimeError(
            "UnprocessableEntityException", "Transcription is already active for this meeting"
        )
    transcription.start(state, meeting, configuration)
    return {}


def _check_transcription(configuration: Params) -> None:
    engines = [
        name
        for name in ("EngineTranscribeSettings", "EngineTranscribeMedicalSettings")
        if configuration.get(name) is not None
    ]
    if len(engines) != 1:
        raise bad_request(
            "TranscriptionConfiguration needs exactly one of EngineTranscribeSettings and "
            "EngineTranscribeMedicalSettings"
        )
    settings = configuration.get("EngineTranscribeSettings")
    if settings is not None and bool(settings.get("LanguageCode")) == bool(
        settings.get("IdentifyLanguage")
    ):
        raise bad_request("EngineTranscribeSettings needs either LanguageCode or IdentifyLanguage")


def stop_meeting_transcription(state: ChimeState, params: Params) -> Output:
    meeting = state.open_meeting(params["MeetingId"])
    if meeting.transcription is None:
        raise ChimeError(
            "UnprocessableEntityException", "Transcription is not active for this meeting"
        )
    transcription.stop(state, meeting, state.clock.now_ms())
    return {}


Operation = Callable[[ChimeState, Params], Output]
OPERATIONS: Final[dict[str, Operation]] = {
    "BatchCreateAttendee": batch_create_attendee,
    "BatchUpdateAttendeeCapabilitiesExcept": batch_update_attendee_capabilities_except,
    "CreateAttendee": create_attendee,
    "CreateMeeting": create_meeting,
    "CreateMeetingWithAttendees": create_meeting_with_attendees,
    "DeleteAttendee": delete_attendee,
    "DeleteMeeting": delete_meeting,
    "GetAttendee": get_attendee,
    "GetMeeting": get_meeting,
    "ListAttendees": list_attendees,
    "StartMeetingTranscription": start_meeting_transcription,
    "StopMeetingTranscription": stop_meeting_transcription,
    "UpdateAttendeeCapabilities": update_attendee_capabilities,
    **tagging.operations(_tagged_meeting, _too_many_tags),
}
