"""Recording, transcription and mute-all through the real handlers, against moto (table and
S3, in-process) and the Chime emulator (meetings and media pipelines), whose artifacts land in
moto's bucket: every route, its errors and roles, and the events that finish a recording."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from meetings import wiring
from meetings.adapters import aws_clients
from meetings.domain.identity import Identity
from meetings.domain.instants import rfc3339
from meetings.handlers.cleanup import handler as cleanup_handler
from meetings.handlers.event_batches import UNRECORDED_MEETING_DELIVERIES

from local.chime import ChimeEmulator, EmulatorServer
from local.chime.pipelines.store import S3ArtifactStore
from tests.integration.conftest import REGION, ApiAnswer, Caller, invoke_api, lambda_context
from tests.integration.test_events_lifecycle import apply_events, settle_ends, sqs_event

HOST, BOB, CAROL = Caller("alice"), Caller("bob"), Caller("carol")
ADMIN = Caller("root", groups=["admins"])
BUCKET = "meetings-recordings-test"
Api = Callable[..., ApiAnswer]


@pytest.fixture
def media(
    backend: Any,
    chime: ChimeEmulator,
    chime_server: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[list[dict[str, Any]]]:
    """The recordings bucket in moto, the emulator writing into it, the functions' settings;
    yields the Chime events the emulator sends (for the events handler)."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("RECORDINGS_BUCKET", BUCKET)
    monkeypatch.setenv("ACCOUNT_ID", chime.config.account_id)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME_SDK_MEDIA_PIPELINES", chime_server.endpoint_url)
    wiring.reset()
    previous = chime.artifact_store
    chime.use_artifact_store(S3ArtifactStore(client=boto3.client("s3", region_name=REGION)))
    received: list[dict[str, Any]] = []
    unsubscribe = chime.subscribe(received.append)
    yield received
    unsubscribe()
    chime.use_artifact_store(previous)
    chime.reset()
    aws_clients.reset_clients()


def deliver(received: list[dict[str, Any]]) -> None:
    """Hand the events so far to the events handler (and forget them)."""
    events, received[:] = list(received), []
    if events:
        apply_events(events)


def meeting_with(api: Api, *callers: Caller, **body: Any) -> tuple[str, list[str]]:
    meeting_id = api("POST", "/meetings", caller=HOST, body=body).body["meeting"]["meetingId"]
    attendees = [
        api("POST", f"/meetings/{meeting_id}/attendees", caller=c).body["Attendee"]["AttendeeId"]
        for c in callers
    ]
    return meeting_id, attendees


def test_record_transcribe_stop_and_download(
    api: Api, chime: ChimeEmulator, media: list[dict[str, Any]]
) -> None:
    meeting_id, (alice, bob) = meeting_with(api, HOST, BOB)
    chime.connect(meeting_id, alice, audio=True)
    chime.connect(meeting_id, bob, audio=True)
    path = f"/meetings/{meeting_id}"

    assert api("POST", f"{path}/recording", caller=BOB).error_code == "FORBIDDEN"
    started = api("POST", f"{path}/recording", caller=HOST)
    assert started.status == 202 and started.body["recording"]["status"] == "CAPTURING"
    recording_id = started.body["recording"]["recordingId"]
    again = api("POST", f"{path}/recording", caller=ADMIN)
    assert (again.status, again.body["recording"]["recordingId"]) == (200, recording_id)
    assert api("GET", path, caller=HOST).body["meeting"]["recording"] == {
        "recordingId": recording_id,
        "status": "CAPTURING",
    }

    bad = api("POST", f"{path}/transcription", caller=HOST, body={"languageCode": "xx-XX"})
    assert bad.status == 400
    on = api("POST", f"{path}/transcription", caller=HOST, body={"languageCode": "en-US"})
    assert (on.status, on.body["transcription"]["status"]) == (202, "STARTING")
    deliver(media)
    view = api("GET", path, caller=BOB).body["meeting"]
    assert view["transcription"]["status"] == "STARTED"
    chime.say(meeting_id, bob, "Hello from Bob.")
    chime.advance(6)
    chime.say(meeting_id, alice, "And Alice answers.")
    chime.advance(6)

    stopped = api("DELETE", f"{path}/recording", caller=HOST)
    assert (stopped.status, stopped.body["recording"]["status"]) == (200, "PROCESSING")
    assert api("DELETE", f"{path}/recording", caller=HOST).error_code == "RECORDING_NOT_FOUND"
    chime.advance(2)  # the concatenation runs
    chime.tick()
    deliver(media)  # the capture's and the concatenation's events

    one = api("GET", f"{path}/recordings/{recording_id}", caller=HOST)
    assert one.headers["cache-control"] == "no-store"
    recording = one.body["recording"]
    assert recording["status"] == "AVAILABLE"
    kinds = {artifact["kind"]: artifact for artifact in recording["artifacts"]}
    assert {"audio", "transcript", "events"} <= set(kinds)
    assert all(artifact["url"].startswith("https://") for artifact in kinds.values())
    listed = api("GET", f"{path}/recordings", caller=HOST).body
    assert [r["recordingId"] for r in listed["recordings"]] == [recording_id]
    assert "url" not in listed["recordings"][0]["artifacts"][0]
    transcript = api("GET", f"{path}/transcript", caller=HOST).body["lines"]
    assert [(line["attendeeId"], line["text"]) for line in transcript] == [
        (bob, "Hello from Bob."),
        (alice, "And Alice answers."),
    ]
    # Attendees read recordings only where the deployment says so.
    assert api("GET", f"{path}/recordings", caller=BOB).error_code == "FORBIDDEN"
    assert api("GET", f"{path}/transcript", caller=CAROL).error_code == "MEETING_NOT_FOUND"
    missing = f"{path}/recordings/00000000-0000-4000-8000-000000000000"
    assert api("GET", missing, caller=HOST).error_code == "RECORDING_NOT_FOUND"

    off = api("DELETE", f"{path}/transcription", caller=HOST)
    assert (off.status, off.body["transcription"]["status"]) == (200, "STOPPED")
    assert api("DELETE", f"{path}/transcription", caller=HOST).status == 404


def test_options_on_create_start_with_the_first_attendee_and_the_end_stops_them(
    api: Api, chime: ChimeEmulator, media: list[dict[str, Any]]
) -> None:
    body = {"recording": {"auto": True}, "transcription": {"languageCode": "en-US"}}
    meeting_id, (alice,) = meeting_with(api, HOST, **body)
    path = f"/meetings/{meeting_id}"
    assert api("GET", f"{path}/recordings", caller=HOST).body["recordings"] == []
    chime.connect(meeting_id, alice, audio=True)
    deliver(media)  # AttendeeJoined: the recording and the transcription start
    recordings = api("GET", f"{path}/recordings", caller=HOST).body["recordings"]
    assert [r["status"] for r in recordings] == ["CAPTURING"]
    assert chime.transcription_active(meeting_id)
    deliver(media)
    assert api("GET", path, caller=HOST).body["meeting"]["transcription"]["status"] == "STARTED"
    chime.advance(6)  # a chunk of audio

    assert api("DELETE", path, caller=HOST).status == 200  # the end stops the capture
    assert api("GET", path, caller=HOST).body["meeting"]["recording"]["status"] == "PROCESSING"
    assert api("POST", f"{path}/recording", caller=HOST).error_code == "MEETING_ENDED"
    chime.advance(2)
    chime.tick()
    media.clear()  # the events are lost: the cleanup's checks find out, once they are due
    container = wiring.container()
    later = container.now() + 120_000
    container.clock = lambda: later
    answer = cleanup_handler({}, lambda_context(remaining_millis=60_000))
    assert answer["recordingsChecked"] >= 1
    (recording,) = api("GET", f"{path}/recordings", caller=HOST).body["recordings"]
    assert recording["status"] == "AVAILABLE"
    assert api("GET", path, caller=HOST).body["meeting"]["recording"] is None


def test_a_permanent_pipeline_failure_fails_the_recording(
    api: Api, chime: ChimeEmulator, media: list[dict[str, Any]]
) -> None:
    meeting_id, (alice,) = meeting_with(api, HOST)
    chime.connect(meeting_id, alice, audio=True)
    path = f"/meetings/{meeting_id}"
    recording_id = api("POST", f"{path}/recording", caller=HOST).body["recording"]["recordingId"]
    (capture,) = chime.pipeline_ids(meeting_id)
    chime.fail_pipeline(capture, permanent=True)
    deliver(media)
    failed = api("GET", f"{path}/recordings/{recording_id}", caller=HOST).body["recording"]
    assert (failed["status"], failed["failure"]["code"]) == ("FAILED", "CAPTURE_FAILED")
    # A new recording may start after a failed one.
    assert api("POST", f"{path}/recording", caller=HOST).status == 202


def test_mute_all_leaves_the_caller_and_the_listed_users_alone(
    api: Api, chime: ChimeEmulator, media: list[dict[str, Any]]
) -> None:
    meeting_id, (alice, bob, carol) = meeting_with(api, HOST, BOB, CAROL)
    path = f"/meetings/{meeting_id}/mute-all"
    assert api("POST", path, caller=BOB).error_code == "FORBIDDEN"
    muted = api("POST", path, caller=HOST, body={"exceptUserIds": ["bob"]})
    assert muted.status == 200
    assert sorted(muted.body["excludedAttendeeIds"]) == sorted([alice, bob])
    chime_meetings = boto3.client("chime-sdk-meetings", region_name=REGION)
    audio = {
        attendee: chime_meetings.get_attendee(MeetingId=meeting_id, AttendeeId=attendee)[
            "Attendee"
        ]["Capabilities"]["Audio"]
        for attendee in (alice, bob, carol)
    }
    assert audio == {alice: "SendReceive", bob: "SendReceive", carol: "Receive"}
    # An admin without an attendee must name who keeps their capabilities.
    assert api("POST", path, caller=ADMIN).error_code == "NO_ATTENDEE_EXCLUDED"
    assert api("DELETE", f"/meetings/{meeting_id}", caller=HOST).status == 200
    assert api("POST", path, caller=HOST).error_code == "MEETING_ENDED"


def test_the_media_routes_validate_their_bodies(api: Api, media: list[dict[str, Any]]) -> None:
    meeting_id, _ = meeting_with(api)
    path = f"/meetings/{meeting_id}"
    composited_with_chunks = {"audio": "AudioWithCompositedVideo", "video": True}
    answers = [
        api("POST", f"{path}/recording", caller=HOST, body=composited_with_chunks),
        api("POST", f"{path}/recording", caller=HOST, body={"resolution": "8K"}),
        api("POST", f"{path}/transcription", caller=HOST, body={}),
        api(
            "POST",
            f"{path}/transcription",
            caller=HOST,
            body={"identifyLanguage": True, "languageOptions": ["en-US"]},
        ),
        api("POST", f"{path}/mute-all", caller=HOST, body={"capabilities": {"audio": "Loud"}}),
        api("POST", "/meetings", caller=HOST, body={"recording": {"auto": True, "x": 1}}),
        api("GET", f"{path}/recordings/not-a-guid", caller=HOST),
    ]
    assert [answer.status for answer in answers] == [400] * len(answers)
    assert api("DELETE", f"{path}/recording", caller=HOST).error_code == "RECORDING_NOT_FOUND"
    assert api("GET", f"{path}/transcript", caller=HOST).error_code == "TRANSCRIPT_NOT_FOUND"
    assert invoke_api("GET", f"{path}/recordings", caller=ADMIN).status == 200


@pytest.mark.parametrize(
    ("route", "write"), [("recording", "add_recording"), ("transcription", "save_transcription")]
)
def test_a_start_that_races_the_end_answers_410(
    api: Api, chime: ChimeEmulator, media: list[dict[str, Any]], route: str, write: str
) -> None:
    meeting_id, (alice,) = meeting_with(api, HOST)
    chime.connect(meeting_id, alice, audio=True)
    container = wiring.container()
    store = container.recordings_store
    original = getattr(store, write)

    def end_first(*args: Any, **kwargs: Any) -> Any:
        """Chime started it; the host ends the meeting before the start's conditional write."""
        host = Identity(user_id=HOST.sub or "", groups=frozenset(), is_admin=False)
        container.ending.end_meeting(host, meeting_id)
        return original(*args, **kwargs)

    setattr(store, write, end_first)
    try:
        body = {"languageCode": "en-US"} if route == "transcription" else None
        answer = api("POST", f"/meetings/{meeting_id}/{route}", caller=HOST, body=body)
    finally:
        delattr(store, write)
    assert (answer.status, answer.error_code) == (410, "MEETING_ENDED"), answer.body
    assert api("GET", f"/meetings/{meeting_id}/recordings", caller=HOST).body["recordings"] == []


def test_a_capture_counts_as_an_attendee_when_the_end_reason_is_inferred(
    api: Api, chime: ChimeEmulator, media: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, (alice, bob) = meeting_with(api, HOST, BOB)
    chime.connect(meeting_id, alice, audio=True)
    chime.connect(meeting_id, bob, audio=True)
    assert api("POST", f"/meetings/{meeting_id}/recording", caller=HOST).status == 202
    chime.advance(1)  # the capture joins: MediaPipelineInProgress
    deliver(media)
    chime.advance(60)
    chime.leave(meeting_id, bob)
    chime.advance(60)
    chime.leave(meeting_id, alice)
    # Their Left events are late, so nothing stops the capture: Chime hears one audio
    # connection (the capture) and ends the meeting by its single-attendee rule, not 5 min on.
    chime.advance(1801)
    truth = chime.truth(meeting_id)
    assert truth.end_reason == "single_attendee_30min"
    deliver(media)
    assert settle_ends(monkeypatch)["settled"] == 1
    view = api("GET", f"/meetings/{meeting_id}", caller=HOST).body["meeting"]
    assert (view["endReason"], view["endedAt"]) == (truth.end_reason, rfc3339(truth.ended_ms or 0))


def test_the_last_person_leaving_stops_the_capture_and_the_meeting_ends_without_audio(
    api: Api, chime: ChimeEmulator, media: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id, (alice,) = meeting_with(api, HOST)
    path = f"/meetings/{meeting_id}"
    chime.connect(meeting_id, alice, audio=True)
    assert api("POST", f"{path}/recording", caller=HOST).status == 202
    chime.advance(6)
    chime.leave(meeting_id, alice)
    deliver(media)  # AttendeeLeft: nobody with audio is left, the capture stops
    (recording,) = api("GET", f"{path}/recordings", caller=HOST).body["recordings"]
    assert recording["status"] == "PROCESSING"
    (capture,) = chime.pipeline_ids(meeting_id)[:1]
    assert chime.pipeline(capture).status != "InProgress"
    deliver(media)  # the capture's Deleted, and again the Left: a duplicate stops nothing twice
    chime.advance(301)
    truth = chime.truth(meeting_id)
    assert truth.end_reason == "no_audio_5min"
    deliver(media)
    assert settle_ends(monkeypatch)["settled"] == 1
    view = api("GET", path, caller=HOST).body["meeting"]
    assert (view["endReason"], view["endedAt"]) == (truth.end_reason, rfc3339(truth.ended_ms or 0))
    recordings = api("GET", f"{path}/recordings", caller=HOST).body["recordings"]
    assert [r["status"] for r in recordings] == ["AVAILABLE"]


def test_a_person_who_returns_gets_a_new_recording_only_by_starting_one(
    api: Api, chime: ChimeEmulator, media: list[dict[str, Any]]
) -> None:
    meeting_id, (alice,) = meeting_with(api, HOST, recording={"auto": True})
    path = f"/meetings/{meeting_id}"
    chime.connect(meeting_id, alice, audio=True)
    deliver(media)  # the first join starts the recording the meeting asked for
    chime.advance(6)
    chime.leave(meeting_id, alice)
    deliver(media)
    chime.advance(10)
    chime.connect(meeting_id, alice, audio=True)
    deliver(media)
    statuses = [
        r["status"] for r in api("GET", f"{path}/recordings", caller=HOST).body["recordings"]
    ]
    assert statuses == ["PROCESSING"] or statuses == ["AVAILABLE"]
    assert api("POST", f"{path}/recording", caller=HOST).status == 202
    assert len(api("GET", f"{path}/recordings", caller=HOST).body["recordings"]) == 2


def test_an_event_of_a_pipeline_no_recording_names_yet_is_delivered_again(
    api: Api, chime: ChimeEmulator, media: list[dict[str, Any]]
) -> None:
    from meetings.handlers.events import handler  # noqa: PLC0415 - after the environment is set

    meeting_id, (alice,) = meeting_with(api, HOST)
    chime.connect(meeting_id, alice, audio=True)
    assert api("POST", f"/meetings/{meeting_id}/recording", caller=HOST).status == 202
    chime.advance(1)
    (in_progress,) = [e for e in media if e["detail"].get("mediaPipelineId")]
    media.clear()
    lagging = copy.deepcopy(in_progress)  # a pipeline whose record is not written yet
    lagging["detail"]["mediaPipelineId"] = str(uuid.uuid4())
    for receive_count, failed in ((1, 1), (UNRECORDED_MEETING_DELIVERIES, 0)):
        event = sqs_event([in_progress, lagging], receive_count)
        answer = handler(event, lambda_context())
        assert len(answer["batchItemFailures"]) == failed
        if failed:
            (failure,) = answer["batchItemFailures"]
            assert failure["itemIdentifier"] == event["Records"][1]["messageId"]


def test_the_recordings_list_pages_newest_first(
    api: Api, chime: ChimeEmulator, media: list[dict[str, Any]]
) -> None:
    meeting_id, (alice,) = meeting_with(api, HOST)
    chime.connect(meeting_id, alice, audio=True)
    path = f"/meetings/{meeting_id}/recording"
    started = []
    for _ in range(3):
        started.append(api("POST", path, caller=HOST).body["recording"]["recordingId"])
        assert api("DELETE", path, caller=HOST).status == 200
    listing = f"/meetings/{meeting_id}/recordings"
    first = api("GET", listing, caller=HOST, query={"limit": "2"}).body
    assert [r["recordingId"] for r in first["recordings"]] == started[:0:-1]
    token = first["nextToken"]
    second = api("GET", listing, caller=HOST, query={"limit": "2", "nextToken": token}).body
    assert ([r["recordingId"] for r in second["recordings"]], second["nextToken"]) == (
        [started[0]],
        None,
    )
    whole = api("GET", listing, caller=HOST).body
    assert len(whole["recordings"]) == 3 and whole["nextToken"] is None
    bad = [
        {"limit": "0"},
        {"limit": "101"},
        {"nextToken": "not-a-token"},
        {"nextToken": token[:-2]},
    ]
    answers = [api("GET", listing, caller=HOST, query=query) for query in bad]
    assert [answer.status for answer in answers] == [400] * len(bad)
    # A token is bound to its caller and its query.
    other, _ = meeting_with(api, HOST)
    elsewhere = api("GET", f"/meetings/{other}/recordings", caller=HOST, query={"nextToken": token})
    assert elsewhere.status == 400
    assert api("GET", listing, caller=ADMIN, query={"nextToken": token}).status == 400
