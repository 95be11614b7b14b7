"""The local control routes for speech, pipeline and transcription failures, and a media
pipeline's ground truth, on a ControlPlane in process."""

from __future__ import annotations

from typing import Any

import pytest

from local.auth import LocalIssuer
from local.chime import ChimeEmulator
from local.control import ControlPlane
from tests.emulator.conftest import add_attendee, start_capture, unknown_id


@pytest.fixture
def control(chime: ChimeEmulator) -> ControlPlane:
    return ControlPlane(LocalIssuer(), chime, lambda _: None, dict, lambda _: {}, list)


def test_say_fail_and_truth_routes(
    control: ControlPlane,
    chime: ChimeEmulator,
    chime_client: Any,
    pipelines_client: Any,
    meeting: dict[str, Any],
) -> None:
    meeting_id = meeting["MeetingId"]
    attendee_id = add_attendee(chime_client, meeting_id)["AttendeeId"]
    say = f"/_local/meetings/{meeting_id}/attendees/{attendee_id}/say"
    assert control("POST", say, {"text": "Hi"})[0] == 409  # not connected
    chime.connect(meeting_id, attendee_id, audio=True)
    assert control("POST", say, {"text": "Hi"}) == (200, {"messages": []})
    for bad in ({}, {"text": 7}, {"text": "x" * 1001}):
        assert control("POST", say, bad)[0] == 400
    missing = f"/_local/meetings/{meeting_id}/attendees/{unknown_id()}/say"
    assert control("POST", missing, {"text": "Hi"})[0] == 404

    transcription = f"/_local/meetings/{meeting_id}/transcription/fail"
    assert control("POST", transcription, {})[0] == 409  # not active
    assert control("POST", transcription, {"nextStart": "no"})[0] == 400
    assert control("POST", transcription, {"nextStart": True}) == (200, {"ok": True})
    chime_client.start_meeting_transcription(
        MeetingId=meeting_id,
        TranscriptionConfiguration={"EngineTranscribeSettings": {"LanguageCode": "en-US"}},
    )
    assert not chime.transcription_active(meeting_id)  # it failed
    chime_client.start_meeting_transcription(
        MeetingId=meeting_id,
        TranscriptionConfiguration={"EngineTranscribeSettings": {"LanguageCode": "en-US"}},
    )
    assert control("POST", transcription, {"permanent": True}) == (200, {"ok": True})
    assert not chime.transcription_active(meeting_id)

    pipeline_id = start_capture(pipelines_client, meeting_id)["MediaPipelineId"]
    fail = f"/_local/media-pipelines/{pipeline_id}/fail"
    assert control("POST", fail, {"permanent": 1})[0] == 400
    assert control("POST", fail, {}) == (200, {"ok": True})
    status, view = control("GET", f"/_local/truth/media-pipelines/{pipeline_id}", {})
    assert status == 200
    assert view == {
        "mediaPipelineId": pipeline_id,
        "kind": "capture",
        "status": "InProgress",
        "meetingId": meeting_id,
        "failing": True,
        "bucket": "recordings",
        "prefix": "rec",
        "keys": [],
    }
    truth = control("GET", f"/_local/truth/meetings/{meeting_id}", {})[1]
    assert truth["mediaPipelines"] == [view]
    assert control("POST", f"/_local/media-pipelines/{unknown_id()}/fail", {})[0] == 404
    assert control("GET", f"/_local/truth/media-pipelines/{unknown_id()}", {})[0] == 404
    assert control("POST", f"/_local/meetings/{unknown_id()}/transcription/fail", {})[0] == 404
