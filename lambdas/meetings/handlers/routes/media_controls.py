"""Meeting-wide media controls: live transcription and mute-all."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from meetings import wiring
from meetings.handlers.api_models import MuteAllBody, MuteAllResult
from meetings.handlers.http import MeetingIdPath, caller, json_response, model, responses
from meetings.handlers.media_models import TranscriptionBody, TranscriptionEnvelope
from meetings.handlers.media_views import transcription_view
from meetings.handlers.views import capabilities_view
from meetings.observability import count

# Powertools leaves the router constructor untyped.
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.post(
    "/meetings/<meetingId>/transcription",
    summary="Start live transcription (a running one answers 200)",
    responses=responses(
        **{
            "202": model("Asked of Chime: STARTING until Chime reports", TranscriptionEnvelope),
            "200": model("The running transcription", TranscriptionEnvelope),
        }
    ),
)
def start_transcription(meetingId: MeetingIdPath, body: TranscriptionBody) -> Response[Any]:  # noqa: N803
    record, created = wiring.container().transcriptions.start(
        caller(router.current_event), meetingId, body.to_domain()
    )
    if created:
        count("TranscriptionsStarted")
    return json_response(202 if created else 200, {"transcription": transcription_view(record)})


@router.delete(
    "/meetings/<meetingId>/transcription",
    summary="Stop live transcription",
    responses=responses(**{"200": model("Stopped", TranscriptionEnvelope)}),
)
def stop_transcription(meetingId: MeetingIdPath) -> Response[Any]:  # noqa: N803
    record = wiring.container().transcriptions.stop(caller(router.current_event), meetingId)
    return json_response(200, {"transcription": transcription_view(record)})


@router.post(
    "/meetings/<meetingId>/mute-all",
    summary="Set every attendee's capabilities but the caller's and the listed users'",
    responses=responses(**{"200": model("Done, in one Chime call", MuteAllResult)}),
)
def mute_all(meetingId: MeetingIdPath, body: MuteAllBody | None = None) -> Response[Any]:  # noqa: N803
    body = body or MuteAllBody()
    capabilities = body.capabilities.to_domain()
    excluded = wiring.container().attending.mute_all(
        caller(router.current_event), meetingId, list(body.exceptUserIds), capabilities
    )
    result = {"excludedAttendeeIds": excluded, "capabilities": capabilities_view(capabilities)}
    return json_response(200, result)
