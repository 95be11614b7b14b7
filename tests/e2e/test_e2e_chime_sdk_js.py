"""A JoinInfo from the API, fed to the real amazon-chime-sdk-js `MeetingSessionConfiguration`:
what a web client does with it, unchanged."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CLIENT_DIR = Path(__file__).parent / "chime_sdk_js"
LIBRARY = CLIENT_DIR / "node_modules" / "amazon-chime-sdk-js" / "package.json"


@pytest.fixture(scope="session")
def chime_sdk_js() -> Path:
    """The client library, installed from the npm registry on first use (then reused)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed")
    if not LIBRARY.exists():
        try:
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=CLIENT_DIR,
                check=True,
                capture_output=True,
                timeout=300,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as failure:
            pytest.skip(
                f"npm could not install amazon-chime-sdk-js (registry unreachable?): {failure}"
            )
    return CLIENT_DIR / "session_configuration.js"


def test_join_info_builds_a_meeting_session_configuration(
    api: Any, unique: Any, chime_sdk_js: Path
) -> None:
    erin = api.token(unique("erin"))
    created = api.request(
        "POST", "/meetings", token=erin, body={"externalMeetingId": unique("web")}
    )
    join_info = api.request(
        "POST", f"/meetings/{created.json['meeting']['meetingId']}/attendees", token=erin
    ).json

    result = subprocess.run(
        ["node", str(chime_sdk_js)],
        input=json.dumps(join_info),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    understood = json.loads(result.stdout)

    meeting, attendee = join_info["Meeting"], join_info["Attendee"]
    expected = {
        "meetingId": meeting["MeetingId"],
        "externalMeetingId": meeting["ExternalMeetingId"],
        "attendeeId": attendee["AttendeeId"],
        "externalUserId": attendee["ExternalUserId"],
        "joinTokenLength": len(attendee["JoinToken"]),
        "audioHostURL": meeting["MediaPlacement"]["AudioHostUrl"],
        "signalingURL": meeting["MediaPlacement"]["SignalingUrl"],
        "turnControlURL": meeting["MediaPlacement"]["TurnControlUrl"],
        "eventIngestionURL": meeting["MediaPlacement"]["EventIngestionUrl"],
    }
    assert understood == {"whole": expected, "wrapped": expected, "bare": expected}
