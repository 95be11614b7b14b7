"""A meeting's timeline: what happened in it, and why it ended. A router of its own so that a
create or a read of a meeting does not import the timeline's views and inference."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from meetings import wiring
from meetings.handlers.http import MeetingIdPath, caller, json_response, model, responses
from meetings.handlers.timeline_views import TimelineEnvelope, timeline_view

# Powertools leaves the router constructor untyped.
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.get(
    "/meetings/<meetingId>/timeline",
    summary="What happened in a meeting, and why it ended (host, admin)",
    responses=responses(**{"200": model("Timeline", TimelineEnvelope)}),
)
def meeting_timeline(meetingId: MeetingIdPath) -> Response[Any]:  # noqa: N803 - the path's name
    timeline = wiring.container().timelines.timeline(caller(router.current_event), meetingId)
    return json_response(200, timeline_view(timeline))
