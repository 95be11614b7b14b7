"""A meeting's attendees: join, provision in a batch, roster, read, remove, capabilities."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from meetings import wiring
from meetings.handlers import views
from meetings.handlers.api_models import (
    AttendeeEnvelope,
    CapabilitiesBody,
    JoinInfo,
    ProvisionBody,
    ProvisionResult,
    Roster,
)
from meetings.handlers.http import (
    AttendeeIdPath,
    Limit,
    MeetingIdPath,
    NextToken,
    caller,
    created_or_ok,
    json_response,
    model,
    responses,
)
from meetings.observability import count

# Powertools leaves the router constructor untyped.
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.post(
    "/meetings/<meetingId>/attendees",
    responses=responses(
        **{"201": model("Joined", JoinInfo), "200": model("Joined again", JoinInfo)}
    ),
)
def join_meeting(meetingId: MeetingIdPath) -> Response[Any]:  # noqa: N803 - the path's name
    joined = wiring.container().attending.join(caller(router.current_event), meetingId)
    count("Joins")
    return created_or_ok(joined.created, views.join_info(joined), carries_token=True)


@router.post(
    "/meetings/<meetingId>/attendees/batch",
    responses=responses(**{"200": model("Provisioned", ProvisionResult)}),
)
def provision_attendees(meetingId: MeetingIdPath, body: ProvisionBody) -> Response[Any]:  # noqa: N803
    wanted = [
        (entry.userId, entry.capabilities.to_domain() if entry.capabilities else None)
        for entry in body.attendees
    ]
    provisioning = wiring.container().provisioning
    provisioned = provisioning.provision(caller(router.current_event), meetingId, wanted)
    return json_response(200, views.provisioned_view(provisioned))


@router.get(
    "/meetings/<meetingId>/attendees",
    responses=responses(**{"200": model("Roster in join order", Roster)}),
)
def roster(
    meetingId: MeetingIdPath,  # noqa: N803
    limit: Limit = 50,
    next_token: NextToken = None,
) -> Response[Any]:
    page = wiring.container().queries.roster(
        caller(router.current_event), meetingId, limit=limit, next_token=next_token
    )
    return json_response(200, views.roster_view(page))


@router.get(
    "/meetings/<meetingId>/attendees/<attendeeId>",
    responses=responses(**{"200": model("Attendee", AttendeeEnvelope)}),
)
def get_attendee(meetingId: MeetingIdPath, attendeeId: AttendeeIdPath) -> Response[Any]:  # noqa: N803
    queries = wiring.container().queries
    attendee = queries.get_attendee(caller(router.current_event), meetingId, attendeeId)
    return json_response(200, views.attendee_envelope(attendee))


@router.delete(
    "/meetings/<meetingId>/attendees/<attendeeId>",
    # An empty `content`: without it Powertools documents a JSON body for the 204.
    responses=responses(**{"204": {"description": "Removed", "content": {}}}),
)
def remove_attendee(meetingId: MeetingIdPath, attendeeId: AttendeeIdPath) -> Response[Any]:  # noqa: N803
    wiring.container().attending.remove_attendee(
        caller(router.current_event), meetingId, attendeeId
    )
    return Response(status_code=204, content_type=None, body="")


@router.put(
    "/meetings/<meetingId>/attendees/<attendeeId>/capabilities",
    responses=responses(**{"200": model("Attendee", AttendeeEnvelope)}),
)
def set_capabilities(
    meetingId: MeetingIdPath,  # noqa: N803
    attendeeId: AttendeeIdPath,  # noqa: N803
    body: CapabilitiesBody,
) -> Response[Any]:
    attending = wiring.container().attending
    updated = attending.set_capabilities(
        caller(router.current_event), meetingId, attendeeId, body.to_domain()
    )
    return json_response(200, views.attendee_envelope(updated))
