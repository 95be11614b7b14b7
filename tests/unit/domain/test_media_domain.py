"""Transcription settings as Chime checks them, the transcription record under reordered and
repeated events, transcript assembly, recording options, and the media domain events."""

from __future__ import annotations

import itertools
import json

import pytest
from meetings.domain.authorization import readable_recordings
from meetings.domain.domain_events import recording_events, transcription_events
from meetings.domain.errors import ForbiddenError, MeetingNotFoundError
from meetings.domain.identity import Identity
from meetings.domain.recording import RecordingOptions, recording_options_problem
from meetings.domain.records import MeetingRecord, UserPointerRecord
from meetings.domain.transcript import assemble, parse_messages
from meetings.domain.transcription import (
    TranscriptionEventType,
    TranscriptionSettings,
    TranscriptionStatus,
    apply_transcription_event,
    requested,
    stop_requested,
    transcription_settings_problem,
)

T0 = 1_764_200_000_000
MEETING = {"meetingId": "m-1", "externalMeetingId": "room", "hostUserId": "alice"}


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (TranscriptionSettings(languageCode="en-US"), None),
        (TranscriptionSettings(identifyLanguage=True, languageOptions=("en-US", "fr-FR")), None),
        (TranscriptionSettings(), "either languageCode"),
        (TranscriptionSettings(languageCode="en-US", identifyLanguage=True), "either"),
        (TranscriptionSettings(languageCode="xx-XX"), "languageCode must be"),
        (TranscriptionSettings(identifyLanguage=True, languageOptions=("en-US",)), "at least 2"),
        (
            TranscriptionSettings(
                identifyLanguage=True, languageOptions=("en-US", "de-DE"), preferredLanguage="fr-FR"
            ),
            "preferredLanguage",
        ),
        (TranscriptionSettings(identifyLanguage=True, languageOptions=("en-US", "en-US")), "twice"),
        (
            TranscriptionSettings(languageCode="de-DE", contentRedactionType="PII"),
            "need languageCode",
        ),
        (
            TranscriptionSettings(
                languageCode="en-US", contentRedactionType="PII", contentIdentificationType="PII"
            ),
            "exclude each other",
        ),
        (
            TranscriptionSettings(languageCode="en-US", piiEntityTypes="NAME"),
            "piiEntityTypes needs",
        ),
        (TranscriptionSettings(languageCode="en-US", region="mars-1"), "region must be"),
        (TranscriptionSettings(languageCode="en-US", vocabularyFilterMethod="mask"), "needs a"),
    ],
)
def test_transcription_settings_are_checked_as_chime_does(
    settings: TranscriptionSettings, problem: str | None
) -> None:
    found = transcription_settings_problem(settings)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_recording_options_refuse_individual_chunks_next_to_the_composited_video() -> None:
    assert recording_options_problem(RecordingOptions(audio="AudioWithCompositedVideo")) is None
    problem = recording_options_problem(
        RecordingOptions(audio=RecordingOptions().audio, video=True)
    )
    assert problem is None
    refused = RecordingOptions(audio="AudioWithCompositedVideo", video=True)
    assert "cannot be captured" in (recording_options_problem(refused) or "")


EVENTS = [
    (TranscriptionEventType.STARTED, T0 + 1_000),
    (TranscriptionEventType.INTERRUPTED, T0 + 2_000),
    (TranscriptionEventType.RESUMED, T0 + 3_000),
    (TranscriptionEventType.STOPPED, T0 + 4_000),
]


def test_transcription_events_in_any_order_and_twice_end_the_same() -> None:
    outcomes = set()
    for order in itertools.permutations(EVENTS + EVENTS[:2]):
        record = requested(TranscriptionSettings(languageCode="en-US"), T0)
        for event_type, at in order:
            record = apply_transcription_event(record, event_type, at, region="us-east-1") or record
        outcomes.add(record)
    (final,) = outcomes
    assert final.status is TranscriptionStatus.STOPPED
    assert (final.eventAt, final.startedAt, final.region) == (T0 + 4_000, T0 + 1_000, "us-east-1")


def test_a_previous_runs_events_and_stale_ones_change_nothing() -> None:
    run = requested(TranscriptionSettings(languageCode="en-US"), T0 + 60_000)
    assert apply_transcription_event(run, TranscriptionEventType.STOPPED, T0) is None
    stopped = stop_requested(run, T0 + 70_000)
    late_start = apply_transcription_event(stopped, TranscriptionEventType.STARTED, T0 + 61_000)
    assert late_start is not None  # it dates the run, and leaves it stopped
    assert (late_start.status, late_start.startedAt) == (TranscriptionStatus.STOPPED, T0 + 61_000)
    assert (
        apply_transcription_event(late_start, TranscriptionEventType.STARTED, T0 + 61_000) is None
    )
    failed = apply_transcription_event(
        run, TranscriptionEventType.FAILED, T0 + 61_000, message="no service-linked role"
    )
    assert failed is not None and failed.failureMessage == "no service-linked role"


def _result(result_id: str, start: int, text: str, *, partial: bool = False) -> dict[str, object]:
    item = {"attendee": {"attendeeId": "a-1", "externalUserId": "u-alice"}, "content": text}
    return {
        "resultId": result_id,
        "isPartial": partial,
        "startTimeMs": start,
        "endTimeMs": start + 500,
        "alternatives": [{"transcript": text, "items": [item]}],
    }


def test_the_transcript_keeps_final_results_once_in_spoken_order() -> None:
    lines = [
        {"transcript": {"results": [_result("2", T0 + 2_000, "second")]}},
        {"transcript": {"results": [_result("1", T0 + 1_000, "fir", partial=True)]}},
        "not json at all",
        {"transcript": {"results": [_result("1", T0 + 1_000, "first")]}},
        {"transcript": {"results": [_result("1", T0 + 1_000, "first")]}},  # repeated
        {"status": {"type": "started"}},
        {"Transcript": {"Results": [{
            "ResultId": "3", "IsPartial": False, "StartTimeMs": T0 + 3_000, "EndTimeMs": T0 + 3_100,
            "Alternatives": [{"Transcript": "third", "Items": [
                {"Attendee": {"AttendeeId": "a-2", "ExternalUserId": "u-bob"}}]}],
        }]}},
    ]  # fmt: skip
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    assembled = assemble(parse_messages(text))
    assert [(line.text, line.attendeeId) for line in assembled] == [
        ("first", "a-1"),
        ("second", "a-1"),
        ("third", "a-2"),
    ]


def test_recording_domain_events_follow_the_committed_status() -> None:
    new = {"meetingId": "m-1", "recordingId": "r-1", "status": "CAPTURING", "startedAt": T0}
    (started,) = recording_events(None, new, MEETING)
    assert started.detail_type == "recording.started"
    processing = new | {"status": "PROCESSING", "stoppedAt": T0 + 5}
    assert recording_events(new, processing, MEETING) == []
    available = processing | {
        "status": "AVAILABLE",
        "availableAt": T0 + 9,
        "artifacts": [{"kind": "audio", "bytes": 4, "key": "k", "contentType": "audio/mp4"}],
    }
    (done,) = recording_events(processing, available, MEETING)
    assert done.detail_type == "recording.available"
    assert done.detail["artifacts"] == [{"kind": "audio", "bytes": 4}]
    assert recording_events(available, available, MEETING) == []
    again = recording_events(processing, available, MEETING)
    assert again[0].event_id == done.event_id  # a stream record seen twice: the same id


def test_transcription_domain_events_name_each_run_once() -> None:
    run = requested(TranscriptionSettings(languageCode="en-US"), T0)
    started = apply_transcription_event(run, TranscriptionEventType.STARTED, T0 + 1)
    interrupted = apply_transcription_event(started, TranscriptionEventType.INTERRUPTED, T0 + 2)
    resumed = apply_transcription_event(interrupted, TranscriptionEventType.RESUMED, T0 + 3)
    assert started and interrupted and resumed

    def image(record: object) -> dict[str, object]:
        return MEETING | {"transcription": record.as_dict()}  # type: ignore[attr-defined]

    (event,) = transcription_events(image(run), image(started))
    assert (event.detail_type, event.detail["languageCode"]) == ("transcription.started", "en-US")
    assert transcription_events(image(interrupted), image(resumed)) == []
    (stopped,) = transcription_events(image(resumed), image(stop_requested(resumed, T0 + 9)))
    assert stopped.detail_type == "transcription.stopped"


def test_attendees_read_recordings_only_where_the_deployment_lets_them() -> None:
    meeting = MeetingRecord("m-1", "room", "us-east-1", "alice", createdAt=T0)
    bob = Identity(user_id="bob", groups=frozenset(), is_admin=False)
    pointer = UserPointerRecord("m-1", "bob", "a-2", "u-bob")
    with pytest.raises(ForbiddenError):
        readable_recordings(bob, meeting, pointer, attendees_may_read=False)
    assert readable_recordings(bob, meeting, pointer, attendees_may_read=True) is meeting
    with pytest.raises(MeetingNotFoundError):
        readable_recordings(bob, meeting, None, attendees_may_read=True)
    alice = Identity(user_id="alice", groups=frozenset(), is_admin=False)
    assert readable_recordings(alice, meeting, None, attendees_may_read=False) is meeting
