"""GET /meetings/{meetingId}/timeline through the real handlers against moto and the emulator:
Chime's events and the backend's domain events in one timeline, and the rule behind the end
reason, checked against the instants the emulator dated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from meetings.domain.instants import rfc3339

from tests.integration.conftest import Caller
from tests.integration.test_end_reasons import share_chime_s_clock
from tests.integration.test_events_lifecycle import (
    BOB,
    CAROL,
    HOST,
    apply_events,
    chime_events,
    ended_by_no_audio,
    open_meeting,
    settle_ends,
)

__all__ = ["chime_events"]  # the fixture, shared
Api = Callable[..., Any]


def timeline(api: Api, meeting_id: str, caller: Caller = HOST) -> Any:
    answer = api("GET", f"/meetings/{meeting_id}/timeline", caller=caller)
    assert answer.status == 200, answer.body
    return answer.body


def test_an_open_meeting_shows_what_happened_and_no_end(
    api: Api, chime: Any, chime_events: list[dict[str, Any]]
) -> None:
    share_chime_s_clock(chime)
    meeting_id, (bob, carol) = open_meeting(api, BOB, CAROL)
    chime.connect(meeting_id, bob)
    chime.advance(5)
    chime.connect(meeting_id, carol, video=True)
    chime.advance(5)
    chime.drop(meeting_id, bob)
    apply_events(chime_events)
    body = timeline(api, meeting_id)
    assert body["meetingId"] == meeting_id and body["end"] is None
    assert body["truncated"] is False and body["foldedBefore"] is None
    seen = [(i["source"], i["type"], i["userId"]) for i in body["items"]]
    assert seen[0] == ("backend", "meeting.created", "alice")
    for expected in [
        ("chime", "chime:MeetingStarted", None),
        ("chime", "chime:AttendeeJoined", "bob"),
        ("chime", "chime:AttendeeJoined", "carol"),
        ("chime", "chime:AttendeeVideoStarted", "carol"),
        ("chime", "chime:AttendeeDropped", "bob"),
        ("backend", "meeting.started", None),
        ("backend", "attendee.joined", "carol"),
        ("backend", "attendee.left", "bob"),
    ]:
        assert expected in seen
    left = next(i for i in body["items"] if i["type"] == "attendee.left")
    assert left["detail"] == "DROPPED" and left["attendeeId"] == bob
    assert [i["at"] for i in body["items"]] == sorted(i["at"] for i in body["items"])


def test_the_end_shows_its_rule_with_the_stretch_that_fired_it(
    api: Api, chime: Any, chime_events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, left_at = ended_by_no_audio(api, chime, chime_events)
    settling = timeline(api, meeting_id)["end"]
    assert (settling["reason"], settling["final"]) == ("unknown", False)
    assert settling["settlesAt"] is not None and "Not settled yet" in settling["rule"]
    assert settle_ends(monkeypatch)["settled"] == 1
    body = timeline(api, meeting_id)
    end = body["end"]
    assert (end["reason"], end["final"], end["endedAtSource"]) == ("no_audio_5min", True, "chime")
    assert "no audio connection for 5 minutes" in end["rule"]
    no_audio, single, lifetime = end["checks"]
    assert no_audio["reason"] == "no_audio_5min" and no_audio["verdict"] == "holds"
    assert no_audio["since"] == rfc3339(left_at) and no_audio["sinceExact"] is True
    assert no_audio["thresholdSeconds"] == 300 and no_audio["heldSeconds"] >= 300
    assert (single["reason"], lifetime["reason"]) == ("single_attendee_30min", "chime_24h_limit")
    ended = next(i for i in body["items"] if i["type"] == "meeting.ended")
    assert (ended["at"], ended["detail"]) == (end["endedAt"], "no_audio_5min")


def test_a_host_end_explains_itself(api: Api, chime: Any) -> None:
    meeting_id, _ = open_meeting(api)
    assert api("DELETE", f"/meetings/{meeting_id}", caller=HOST).status == 200
    end = timeline(api, meeting_id)["end"]
    assert (end["reason"], end["final"]) == ("host_ended", True)
    assert "host or an admin ended it" in end["rule"]


def test_an_unknown_meeting_is_not_found(api: Api) -> None:
    answer = api("GET", "/meetings/00000000-0000-0000-0000-000000000000/timeline", caller=HOST)
    assert answer.status == 404
    assert answer.body["error"]["code"] == "MEETING_NOT_FOUND"
