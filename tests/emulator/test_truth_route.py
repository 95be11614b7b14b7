"""`GET /_local/truth/meetings/{id}`: the emulator's own view of a meeting — open or ended,
when, and why — in the backend's vocabulary where it has a name, plus the emulator's own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from local.auth import LocalIssuer
from local.chime import ChimeEmulator
from local.control import ControlPlane
from tests.emulator.conftest import add_attendee, create_meeting, unknown_id

Route = Callable[[str], tuple[int, Any]]


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer()


@pytest.fixture
def truth(chime: ChimeEmulator, issuer: LocalIssuer) -> Route:
    control = ControlPlane(
        issuer=issuer,
        chime=chime,
        set_chaos=lambda _: None,
        delivery_stats=dict,
        run_cleanup=lambda _: {},
        domain_events=list,
    )
    return lambda meeting_id: control("GET", f"/_local/truth/meetings/{meeting_id}", {})


def _instant(text: str) -> int:
    assert text.endswith("Z") and len(text) == len("2026-11-25T19:00:00.000Z")
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


def test_an_open_meeting(truth: Route, meeting: dict[str, Any]) -> None:
    status, body = truth(meeting["MeetingId"])
    assert status == 200
    assert body["meetingId"] == meeting["MeetingId"]
    assert body["externalMeetingId"] == meeting["ExternalMeetingId"]
    assert body["status"] == "OPEN"
    assert _instant(body["createdAt"]) == body["createdAtMs"]
    assert body["endedAt"] is None and body["endedAtMs"] is None
    assert body["endReason"] is None and body["emulatorEndReason"] is None


def test_the_id_is_matched_case_insensitively_as_chime_does(
    truth: Route, meeting: dict[str, Any]
) -> None:
    status, body = truth(meeting["MeetingId"].upper())
    assert status == 200 and body["meetingId"] == meeting["MeetingId"]


def test_an_unknown_meeting_is_404_with_a_message(truth: Route) -> None:
    missing = unknown_id()
    status, body = truth(missing)
    assert status == 404 and missing in body["message"]


def test_only_get_is_routed(chime: ChimeEmulator, issuer: LocalIssuer) -> None:
    control = ControlPlane(issuer, chime, lambda _: None, dict, lambda _: {}, list)
    status, body = control("POST", f"/_local/truth/meetings/{unknown_id()}", {})
    assert status == 404 and "no local control route" in body["message"]


def _connect(chime: ChimeEmulator, client: Any, meeting_id: str, user: str, **media: bool) -> str:
    attendee_id: str = add_attendee(client, meeting_id, user)["AttendeeId"]
    chime.connect(meeting_id, attendee_id, **media)
    return attendee_id


@pytest.mark.parametrize(
    ("setup", "seconds", "emulator_reason", "backend_reason"),
    [
        ("nobody", 300.001, "no_audio_5min", "no_audio_5min"),
        ("alone", 1800.001, "single_attendee_30min", "single_attendee_30min"),
        ("viewer", 1800.001, "screen_share_idle_30min", None),
        ("two", 86_400.001, "chime_24h_limit", "chime_24h_limit"),
    ],
)
def test_each_auto_end_rule_with_its_instant(
    truth: Route,
    chime: ChimeEmulator,
    chime_client: Any,
    setup: str,
    seconds: float,
    emulator_reason: str,
    backend_reason: str | None,
) -> None:
    meeting_id = create_meeting(chime_client)["MeetingId"]
    if setup in {"alone", "two", "viewer"}:
        _connect(chime, chime_client, meeting_id, "alice")
    if setup in {"two", "viewer"}:
        _connect(chime, chime_client, meeting_id, "bob", video=True)
    if setup == "viewer":
        _connect(chime, chime_client, meeting_id, "carol", audio=False, viewing_content=True)
    created = truth(meeting_id)[1]["createdAtMs"]
    chime.advance(seconds - 0.001)
    assert truth(meeting_id)[1]["status"] == "OPEN"
    chime.advance(0.001)
    status, body = truth(meeting_id)
    assert status == 200 and body["status"] == "ENDED"
    assert body["endedAtMs"] == created + round(seconds * 1000)
    assert _instant(body["endedAt"]) == body["endedAtMs"]
    assert body["emulatorEndReason"] == emulator_reason
    assert body["endReason"] == backend_reason


def test_delete_meeting_is_chimes_deleted_without_a_backend_name(
    truth: Route, chime: ChimeEmulator, chime_client: Any, meeting: dict[str, Any]
) -> None:
    chime.advance(12.345)
    chime_client.delete_meeting(MeetingId=meeting["MeetingId"])
    status, body = truth(meeting["MeetingId"])
    assert status == 200 and body["status"] == "ENDED"
    assert body["endedAtMs"] == chime.now_ms()
    # host_ended or max_duration: why the backend deleted it is the backend's to say.
    assert body["emulatorEndReason"] == "deleted" and body["endReason"] is None
