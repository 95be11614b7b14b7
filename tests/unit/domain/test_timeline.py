"""The timeline's pure parts: which items it holds, its cap, and the end explanation's rule
checks agreeing with the inference they explain."""

from __future__ import annotations

from dataclasses import replace

from meetings.domain.end_reason import Verdict, check_rules, infer_end_reason
from meetings.domain.presence import (
    ActivityLog,
    Checkpoint,
    EntryKind,
    LogEntry,
    attendee_ref,
    capture_ref,
)
from meetings.domain.records import (
    AttendeeRecord,
    EndReason,
    EndSource,
    MeetingRecord,
    MeetingStatus,
    Presence,
)
from meetings.domain.timeline import build_timeline, explain_end

T0 = 1_800_000_000_000
MEETING = MeetingRecord(
    meetingId="m-1", externalMeetingId="room", mediaRegion="us-east-1", hostUserId="alice",
    createdAt=T0,
)  # fmt: skip
BOB = AttendeeRecord(
    attendeeId="a-bob", meetingId="m-1", userId="bob", externalUserId="bob", addedAt=T0,
    presence=Presence.LEFT, joinedAt=T0 + 1000, leftAt=T0 + 61_000,
)  # fmt: skip
LOG = ActivityLog(
    frozenset(
        {
            LogEntry.of(T0, EntryKind.MEETING_STARTED),
            LogEntry.of(T0 + 1000, EntryKind.JOINED, attendee_ref("a-bob")),
            LogEntry.of(T0 + 2000, EntryKind.CAPTURE_ON, capture_ref("p-1")),
            LogEntry.of(T0 + 60_000, EntryKind.CAPTURE_OFF, capture_ref("p-1")),
            LogEntry.of(T0 + 61_000, EntryKind.LEFT, attendee_ref("a-bob")),
        }
    )
)
ENDED = replace(
    MEETING,
    status=MeetingStatus.ENDED,
    startedAt=T0 + 1000,
    endedAt=T0 + 61_000 + 301_000,
    endReason=EndReason.NO_AUDIO_5MIN,
    endedAtSource=EndSource.CHIME,
)


def test_items_name_chime_events_and_the_records_domain_events_in_order() -> None:
    timeline = build_timeline(ENDED, LOG, [BOB])
    assert [(i.source, i.type, i.user_id, i.detail) for i in timeline.items] == [
        ("backend", "meeting.created", "alice", None),
        ("chime", "chime:MeetingStarted", None, None),
        ("chime", "chime:AttendeeJoined", "bob", None),
        ("backend", "meeting.started", None, None),
        ("backend", "attendee.joined", "bob", None),
        ("chime", "chime:MediaPipelineInProgress", None, "capture pipeline"),
        ("chime", "chime:MediaPipelineDeleted", None, "capture pipeline"),
        ("chime", "chime:AttendeeLeft", "bob", None),
        ("backend", "attendee.left", "bob", "LEFT"),
        ("backend", "meeting.ended", None, "no_audio_5min"),
    ]
    assert not timeline.truncated and timeline.folded_before is None


def test_the_cap_keeps_the_newest_items() -> None:
    timeline = build_timeline(ENDED, LOG, [BOB], limit=3)
    assert timeline.truncated
    assert [i.type for i in timeline.items] == [
        "chime:AttendeeLeft",
        "attendee.left",
        "meeting.ended",
    ]


def test_an_open_meeting_has_no_end_and_a_settling_one_says_so() -> None:
    assert explain_end(MEETING, LOG) is None
    settling = replace(ENDED, endReason=EndReason.UNKNOWN, endSettlesAt=T0 + 500_000)
    end = explain_end(settling, LOG)
    assert end is not None and not end.final and end.settles_at == T0 + 500_000


def test_the_checks_show_the_stretch_the_inference_decided_by() -> None:
    end = explain_end(ENDED, LOG)
    assert end is not None and end.reason is EndReason.NO_AUDIO_5MIN and end.final
    no_audio = end.checks[0]
    assert (no_audio.reason, no_audio.verdict) == (EndReason.NO_AUDIO_5MIN, Verdict.HOLDS)
    assert (no_audio.since, no_audio.since_exact) == (T0 + 61_000, True)


def test_rule_checks_agree_with_the_inference_at_every_end_instant() -> None:
    for seconds in (30, 200, 299, 301, 359, 400, 1801, 86_401):
        ended_at = T0 + 61_000 + seconds * 1000
        checks = check_rules(LOG, ended_at)
        assert checks is not None
        decisive = next((c for c in checks if c.verdict is not None), None)
        assert decisive is not None
        expected = decisive.reason if decisive.verdict is Verdict.HOLDS else EndReason.UNKNOWN
        assert infer_end_reason(LOG, ended_at) is expected, seconds


def test_an_incomplete_checkpoint_judges_no_rule() -> None:
    incomplete = ActivityLog(LOG.entries, Checkpoint(horizon=T0, incomplete=True))
    assert check_rules(incomplete, ENDED.endedAt or 0) is None
    end = explain_end(ENDED, incomplete)
    assert end is not None and end.checks == () and "incomplete" in end.rule
