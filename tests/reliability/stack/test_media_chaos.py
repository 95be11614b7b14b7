"""Recorded meetings on a bad day of EventBridge: their Chime events — the meeting, attendee,
transcription and media pipeline events share the one queue — are dropped, duplicated and
reordered on the way to the events function, then the reconciliation and the cleanup's
recording checks run. The emulator and the local S3 are the truth.

Twelve meetings of two connected attendees, each scenario fixed (the chaos has a fixed seed):
recording that starts with the first attendee (`recording.auto`, which rests on a join event
reaching the function) or started by the host; live transcription on two meetings in three,
with sentences said while it runs; a capture that fails for 5 s and one that fails for good;
a recording stopped by hand, and one stopped and started again. Half the meetings are ended
by their host, the others end by Chime's rules once their people left and the world clock
moved on. End reasons are not checked here (test_event_chaos.py does).

Then every recording record must be final and right: AVAILABLE with exactly the concatenated
files in the bucket (kind and size) when its concatenation finished, FAILED `CAPTURE_FAILED`
when its capture failed for good; no capture runs for an ended meeting; the transcript holds
the sentences said while a capture and transcription ran, in order. A failure names each
wrong recording with its truth.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from local.stack import LocalStack
from tests.localstack_support import Api, events_in, wait_until
from tests.reliability.stack.recording_truth import (
    capture_running,
    finish_recordings,
    pipelines,
    recordings,
    wrong_recordings,
)

CHAOS = {"dropRate": 0.1, "duplicateRate": 0.1, "reorderWindow": 5, "seed": 20261202}
MEETINGS = 12
TEMPORARY_FAILURES, PERMANENT_FAILURE = {3, 8}, 5
STOPPED_BY_HAND, RESTARTED = 7, 1
AUTO_END_AFTER_SECONDS = 1801  # past Chime's 30-minute rule (a running capture counts as audio)


@dataclass
class Recorded:
    index: int
    meeting_id: str
    host: str
    attendees: list[str]
    transcribed: bool
    said: list[str] = field(default_factory=list)  # what the transcript must hold, in order

    @property
    def auto(self) -> bool:
        return self.index % 2 == 0

    @property
    def ended_by_host(self) -> bool:
        return self.index % 4 in (0, 1)

    def media(self, seat: int) -> str:
        return f"/_local/meetings/{self.meeting_id}/attendees/{self.attendees[seat]}"


def _create(api: Api, tag: str, index: int) -> Recorded:
    host = api.token(f"{tag}-host{index}")
    transcribed = index % 3 != 2 and index != PERMANENT_FAILURE
    body: dict[str, Any] = {}
    if index % 2 == 0:
        body["recording"] = {"auto": True}
        if transcribed:
            body["transcription"] = {"languageCode": "en-US"}
    created = api.request("POST", "/meetings", token=host, body=body)
    assert created.status == 201, created.body
    meeting_id = created.json["meeting"]["meetingId"]
    attendees = [
        api.request("POST", f"/meetings/{meeting_id}/attendees", token=token).json["Attendee"][
            "AttendeeId"
        ]
        for token in (host, api.token(f"{tag}-guest{index}"))
    ]
    meeting = Recorded(index, meeting_id, host, attendees, transcribed)
    for seat in (0, 1):
        assert (
            api.request("POST", f"{meeting.media(seat)}/connect", body={"audio": True}).status
            == 200
        )
    if not meeting.auto:
        _start_recording(api, meeting)
        if transcribed:
            body = {"languageCode": "en-US"}
            path = f"/meetings/{meeting_id}/transcription"
            assert api.request("POST", path, token=host, body=body).status == 202
    return meeting


def _start_recording(api: Api, meeting: Recorded) -> None:
    path = f"/meetings/{meeting.meeting_id}/recording"
    started = api.request("POST", path, token=meeting.host, body={})
    assert started.status == 202, started.body


def _say(api: Api, meeting: Recorded, seat: int, text: str) -> None:
    """The attendee says it; it belongs in the transcript when transcription heard it while a
    capture ran (and so wrote it into the recording's transcription messages)."""
    recording = capture_running(api, meeting.meeting_id)
    said = api.request("POST", f"{meeting.media(seat)}/say", body={"text": text})
    assert said.status == 200, said.body
    if said.json["messages"] and recording:
        meeting.said.append(text)


def _capture_id(api: Api, meeting: Recorded) -> str | None:
    running = [
        p for p in pipelines(api, meeting.meeting_id)
        if p["kind"] == "capture" and p["status"] == "InProgress"
    ]  # fmt: skip
    return str(running[-1]["mediaPipelineId"]) if running else None


def _advance(api: Api, seconds: int) -> None:
    assert api.request("POST", "/_local/clock/advance", body={"seconds": seconds}).status == 200


def _end(api: Api, meeting: Recorded) -> None:
    """The host ends it, or everyone leaves (Chime ends it once the clock moves on)."""
    if meeting.ended_by_host:
        ended = api.request("DELETE", f"/meetings/{meeting.meeting_id}", token=meeting.host)
        assert ended.status == 200, ended.body
        return
    for seat in (0, 1):
        assert api.request("POST", f"{meeting.media(seat)}/leave", body={}).status == 200


def _run(api: Api, stack: LocalStack, pool: ThreadPoolExecutor, tag: str) -> list[Recorded]:
    # Meetings are independent: made and ended concurrently, as many apps would.
    meetings = list(pool.map(lambda index: _create(api, tag, index), range(MEETINGS)))
    # An auto recording starts when a join event reaches the function; chaos may drop them all.
    wait_until(lambda: all(capture_running(api, m.meeting_id) for m in meetings), timeout=6)
    for meeting in meetings:
        capture_id = _capture_id(api, meeting)
        if capture_id and meeting.index in TEMPORARY_FAILURES | {PERMANENT_FAILURE}:
            fail = f"/_local/media-pipelines/{capture_id}/fail"
            permanent = meeting.index == PERMANENT_FAILURE
            assert api.request("POST", fail, body={"permanent": permanent}).status == 200
    _advance(api, 6)  # a chunk each; the temporary failures are over
    for meeting in meetings:
        if meeting.transcribed:
            _say(api, meeting, 1, f"Meeting {meeting.index} begins.")
    restarted = meetings[RESTARTED]
    for meeting in (restarted, meetings[STOPPED_BY_HAND]):
        path = f"/meetings/{meeting.meeting_id}/recording"
        assert api.request("DELETE", path, token=meeting.host).status == 200
    _say(api, meetings[STOPPED_BY_HAND], 0, "Nobody records this.")
    _start_recording(api, restarted)
    assert wait_until(lambda: capture_running(api, restarted.meeting_id))
    _say(api, restarted, 0, "The second recording hears this.")
    _advance(api, 6)
    list(pool.map(lambda meeting: _end(api, meeting), meetings))
    _advance(api, AUTO_END_AFTER_SECONDS)
    events_in(stack)
    for _ in range(5):
        if api.request("POST", "/_local/cleanup", body={"reconcile": "all"}).json.get(
            "complete", True
        ):
            break
    finish_recordings(api, stack, [(m.meeting_id, m.host) for m in meetings], rounds=5)
    return meetings


def _transcript(api: Api, meeting: Recorded) -> list[str]:
    answer = api.request("GET", f"/meetings/{meeting.meeting_id}/transcript", token=meeting.host)
    if answer.status == 404:
        return []
    assert answer.status == 200, answer.body
    return [line["text"] for line in answer.json["lines"]]


@pytest.mark.slow  # minutes on 2 cores: `make test-all`; docs/reliability.md has its figures
def test_recordings_end_right_after_event_chaos(
    api: Api, local_stack: LocalStack, pool: ThreadPoolExecutor, unique: Any
) -> None:
    assert api.request("POST", "/_local/chaos", body=CHAOS).status == 200
    try:
        meetings = _run(api, local_stack, pool, unique("media-chaos"))
        stats = api.request("GET", "/_local/chaos").json
    finally:
        api.request("POST", "/_local/chaos", body={})

    still_open = local_stack.chime.open_meeting_ids() & {m.meeting_id for m in meetings}
    wrong = [
        line for m in meetings for line in wrong_recordings(api, local_stack, m.meeting_id, m.host)
    ]
    wrong += [
        f"{m.meeting_id}: transcript {read}, said {m.said}"
        for m in meetings
        if (read := _transcript(api, m)) != m.said
    ]
    records = [(m, r) for m in meetings for r in recordings(api, m.meeting_id, m.host)]
    outcomes = [r["status"] for _, r in records]
    print(
        f"media chaos: {len(records)} recordings {sorted(outcomes)}; "
        f"{sum(len(m.said) for m in meetings)} sentences; deliveries {stats['deliveries']}; "
        f"lost {dict(Counter(e['eventType'] for e in stats['lost']))}"
    )
    assert still_open == set()
    assert wrong == [], "\n".join(wrong)
    failed = [m.index for m, r in records if r["status"] == "FAILED"]
    assert failed == [PERMANENT_FAILURE], failed
