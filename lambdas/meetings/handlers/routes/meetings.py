"""The meetings resource: create (or join-or-create by room), list, read, end."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from meetings import wiring
from meetings.domain.validation import user_id_problem
from meetings.handlers import views
from meetings.handlers.api_models import (
    CreatedMeeting,
    CreateMeetingBody,
    MeetingEnvelope,
    MeetingList,
)
from meetings.handlers.http import (
    Limit,
    MeetingIdPath,
    NextToken,
    caller,
    created_or_ok,
    json_response,
    model,
    responses,
)
from meetings.observability import count, count_meeting_end
from meetings.service.creating import NewMeeting


def media_on_start(body: CreateMeetingBody) -> dict[str, Any] | None:
    """What the first attendee starts: an auto recording's options, transcription settings."""
    wanted: dict[str, Any] = {}
    if body.recording is not None and body.recording.auto:
        wanted["recording"] = body.recording.to_domain().as_dict()
    if body.transcription is not None:
        wanted["transcription"] = body.transcription.to_domain().as_dict()
    return wanted or None


# Powertools leaves the router constructor untyped.
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.post(
    "/meetings",
    summary="Create a meeting (join-or-create by room name)",
    responses=responses(
        **{
            "201": model("Created", CreatedMeeting),
            "200": model("The room's open meeting", CreatedMeeting),
        }
    ),
)
def create_meeting(
    body: CreateMeetingBody | None = None,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=64)
    ] = None,
) -> Response[Any]:
    identity = caller(router.current_event)
    body = body or CreateMeetingBody()
    spec = NewMeeting(
        externalMeetingId=body.externalMeetingId,
        mediaRegion=body.mediaRegion,
        maxAttendees=body.maxAttendees,
        echoReduction=body.features.echoReduction,
        videoMaxResolution=body.features.videoMaxResolution,
        contentMaxResolution=body.features.contentMaxResolution,
        maxDurationSeconds=body.maxDurationSeconds,
        tags=dict(body.tags),
        join=body.join,
        mediaOnStart=media_on_start(body),
    )
    outcome = wiring.container().creating.create_meeting(identity, spec, idempotency_key)
    if outcome.created:
        count("MeetingsCreated")
    if body.join:
        count("Joins")
    return created_or_ok(outcome.created, views.created_view(outcome), carries_token=body.join)


@router.get("/meetings", responses=responses(**{"200": model("Meetings", MeetingList)}))
def list_meetings(
    host_user_id: Annotated[
        str | None, Query(alias="hostUserId", min_length=1, max_length=256)
    ] = None,
    status: Annotated[
        Literal["open", "ended", "CREATED", "STARTED", "ENDED"] | None, Query()
    ] = None,
    limit: Limit = 50,
    next_token: NextToken = None,
) -> Response[Any]:
    problem = user_id_problem(host_user_id) if host_user_id is not None else None
    if problem:
        detail = {"loc": ("query", "hostUserId"), "msg": problem, "type": "value_error"}
        raise RequestValidationError([detail])
    page = wiring.container().queries.list_meetings(
        caller(router.current_event),
        host_user_id=host_user_id,
        status=status,
        limit=limit,
        next_token=next_token,
    )
    return json_response(200, views.meeting_list(page))


@router.get(
    "/meetings/<meetingId>", responses=responses(**{"200": model("Meeting", MeetingEnvelope)})
)
def get_meeting(meetingId: MeetingIdPath) -> Response[Any]:  # noqa: N803 - the path's name
    meeting = wiring.container().queries.get_meeting(caller(router.current_event), meetingId)
    return json_response(200, views.meeting_envelope(meeting))


@router.delete(
    "/meetings/<meetingId>",
    responses=responses(**{"200": model("The ended meeting", MeetingEnvelope)}),
)
def end_meeting(meetingId: MeetingIdPath) -> Response[Any]:  # noqa: N803
    container = wiring.container()
    ended = container.ending.end_meeting(caller(router.current_event), meetingId)
    # The end never waits on a recording: a capture not stopped here is the cleanup's.
    container.media_events.after_end(meetingId)
    body = views.meeting_envelope(ended)
    count_meeting_end(str(body["meeting"]["endReason"]))
    return json_response(200, body)
