"""The ground-truth route over the local gateway: what Chime knows next to what the API says."""

from __future__ import annotations

import uuid
from typing import Any


def test_truth_of_a_meeting_the_host_ends(api: Any, unique: Any) -> None:
    host = api.token(unique("host"))
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]
    truth = api.request("GET", f"/_local/truth/meetings/{meeting_id}")
    assert truth.status == 200 and truth.headers["content-type"].startswith("application/json")
    assert truth.json["status"] == "OPEN" and truth.json["emulatorEndReason"] is None

    ended = api.request("DELETE", f"/meetings/{meeting_id}", token=host).json["meeting"]
    truth = api.request("GET", f"/_local/truth/meetings/{meeting_id}").json
    assert truth["status"] == "ENDED"
    assert truth["emulatorEndReason"] == "deleted" and truth["endReason"] is None
    assert ended["endReason"] == "host_ended"


def test_truth_of_an_auto_ended_meeting(api: Any, unique: Any) -> None:
    host = api.token(unique("host"))
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]
    assert api.request("POST", "/_local/clock/advance", body={"seconds": 301}).status == 200
    truth = api.request("GET", f"/_local/truth/meetings/{meeting_id}").json
    assert truth["status"] == "ENDED"
    assert truth["endReason"] == truth["emulatorEndReason"] == "no_audio_5min"
    assert truth["endedAtMs"] - truth["createdAtMs"] == 300_001


def test_truth_of_an_unknown_meeting_is_404(api: Any) -> None:
    missing = str(uuid.uuid4())
    answer = api.request("GET", f"/_local/truth/meetings/{missing}")
    assert answer.status == 404 and missing in answer.json["message"]
