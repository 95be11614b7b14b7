"""A meeting's recordings: start and stop recording, list and read them (download links when
AVAILABLE), and the stored transcript."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from meetings import wiring
from meetings.handlers.http import (
    NO_STORE,
    Limit,
    MeetingIdPath,
    NextToken,
    RecordingIdPath,
    caller,
    json_response,
    model,
    responses,
)
from meetings.handlers.media_models import (
    RecordingEnvelope,
    RecordingList,
    RecordingOptionsBody,
    Transcript,
)
from meetings.handlers.media_views import recording_view, transcript_view
from meetings.observability import count

# Powertools leaves the router constructor untyped.
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


@router.post(
    "/meetings/<meetingId>/recording",
    summary="Start recording (a running recording answers 200)",
    responses=responses(
        **{
            "202": model("Recording started", RecordingEnvelope),
            "200": model("The running recording", RecordingEnvelope),
        }
    ),
)
def start_recording(
    meetingId: MeetingIdPath,  # noqa: N803 - the path's name
    body: RecordingOptionsBody | None = None,
) -> Response[Any]:
    options = (body or RecordingOptionsBody()).to_domain()
    started = wiring.container().recordings.start(caller(router.current_event), meetingId, options)
    if started.created:
        count("RecordingsStarted")
    status = 202 if started.created else 200
    return json_response(status, {"recording": recording_view(started.recording)})


@router.delete(
    "/meetings/<meetingId>/recording",
    summary="Stop the running recording (it becomes PROCESSING)",
    responses=responses(**{"200": model("The stopped recording", RecordingEnvelope)}),
)
def stop_recording(meetingId: MeetingIdPath) -> Response[Any]:  # noqa: N803
    stopped = wiring.container().recordings.stop(caller(router.current_event), meetingId)
    return json_response(200, {"recording": recording_view(stopped)})


@router.get(
    "/meetings/<meetingId>/recordings",
    summary="A meeting's recordings, newest first",
    responses=responses(**{"200": model("Recordings", RecordingList)}),
)
def list_recordings(
    meetingId: MeetingIdPath,  # noqa: N803
    limit: Limit = 25,
    next_token: NextToken = None,
) -> Response[Any]:
    page = wiring.container().recordings.list_page(
        caller(router.current_event), meetingId, limit=limit, next_token=next_token
    )
    body = {"recordings": [recording_view(r) for r in page.records], "nextToken": page.next_token}
    return json_response(200, body)


@router.get(
    "/meetings/<meetingId>/recordings/<recordingId>",
    summary="A recording; when AVAILABLE each file has a time-limited download link",
    responses=responses(**{"200": model("Recording", RecordingEnvelope)}),
)
def get_recording(meetingId: MeetingIdPath, recordingId: RecordingIdPath) -> Response[Any]:  # noqa: N803
    readable = wiring.container().recordings.get(
        caller(router.current_event), meetingId, recordingId
    )
    body = {"recording": recording_view(readable.recording, readable.links)}
    return json_response(200, body, NO_STORE)


@router.get(
    "/meetings/<meetingId>/transcript",
    summary="The stored transcript of the meeting's available recordings",
    responses=responses(**{"200": model("Transcript", Transcript)}),
)
def get_transcript(meetingId: MeetingIdPath) -> Response[Any]:  # noqa: N803
    lines = wiring.container().recordings.transcript(caller(router.current_event), meetingId)
    return json_response(200, transcript_view(meetingId, lines))
