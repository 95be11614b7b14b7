"""End-reason inference by the precise reading of Chime's auto-end rules (event timestamps only)."""

from __future__ import annotations

import pytest
from meetings.domain.end_reason import (
    END_TOLERANCE_MS,
    LIFETIME_MS,
    NO_AUDIO_MS,
    SINGLE_ATTENDEE_MS,
    infer_end_reason,
    predict_end,
)
from meetings.domain.presence import EntryKind, LogEntry, attendee_ref, capture_ref
from meetings.domain.records import EndReason
from meetings.domain.replay import meeting_activity

T0 = 1_764_097_200_000
A, B = "attendee-a", "attendee-b"


def entry(at: int, kind: EntryKind, attendee: str | None = None) -> LogEntry:
    return LogEntry.of(T0 + at, kind, attendee_ref(attendee) if attendee else "")


CREATED = entry(0, EntryKind.MEETING_STARTED)


def test_nobody_joins_ends_after_five_minutes() -> None:
    assert infer_end_reason({CREATED}, T0 + NO_AUDIO_MS + 1) is EndReason.NO_AUDIO_5MIN


def test_threshold_is_inclusive_and_one_millisecond_short_is_not_enough() -> None:
    assert infer_end_reason({CREATED}, T0 + NO_AUDIO_MS) is EndReason.NO_AUDIO_5MIN
    assert infer_end_reason({CREATED}, T0 + NO_AUDIO_MS - 1) is EndReason.UNKNOWN


def test_no_audio_counts_from_the_last_disconnect() -> None:
    log = {CREATED, entry(1000, EntryKind.JOINED, A), entry(600_000, EntryKind.LEFT, A)}
    assert infer_end_reason(log, T0 + 600_000 + NO_AUDIO_MS + 1) is EndReason.NO_AUDIO_5MIN
    assert infer_end_reason(log, T0 + 600_000 + 1000) is EndReason.UNKNOWN


def test_one_attendee_alone_for_thirty_minutes() -> None:
    log = {CREATED, entry(1000, EntryKind.JOINED, A)}
    assert infer_end_reason(log, T0 + SINGLE_ATTENDEE_MS + 1) is EndReason.SINGLE_ATTENDEE_30MIN


def test_fewer_than_two_counts_from_when_the_second_left() -> None:
    log = {
        CREATED,
        entry(1, EntryKind.JOINED, A),
        entry(2, EntryKind.JOINED, B),
        entry(3_600_000, EntryKind.DROPPED, B),
    }
    assert (
        infer_end_reason(log, T0 + 3_600_000 + SINGLE_ATTENDEE_MS)
        is EndReason.SINGLE_ATTENDEE_30MIN
    )
    assert infer_end_reason(log, T0 + 3_600_000 + 60_000) is EndReason.UNKNOWN


def test_twenty_four_hours_with_two_attendees() -> None:
    log = {CREATED, entry(1, EntryKind.JOINED, A), entry(2, EntryKind.JOINED, B)}
    assert infer_end_reason(log, T0 + LIFETIME_MS + 1) is EndReason.CHIME_24H_LIMIT


def test_the_rule_order_decides_when_two_explain_the_end() -> None:
    # Alone from the creation, then nobody: at 30 min both audio rules fire at once.
    log = {CREATED, entry(0, EntryKind.JOINED, A), entry(1_500_000, EntryKind.LEFT, A)}
    assert infer_end_reason(log, T0 + SINGLE_ATTENDEE_MS + 1) is EndReason.NO_AUDIO_5MIN


def test_a_rule_explains_an_end_up_to_the_tolerance_after_its_threshold() -> None:
    log = {CREATED, entry(1000, EntryKind.JOINED, A)}
    # Fewer than two audio connections since the creation.
    latest = T0 + SINGLE_ATTENDEE_MS + END_TOLERANCE_MS
    assert infer_end_reason(log, latest) is EndReason.SINGLE_ATTENDEE_30MIN


def test_a_rule_that_would_have_fired_much_earlier_explains_nothing() -> None:
    # Alone from the start, yet Chime ended it later than the rule allows: an event is
    # missing from the log (a second attendee's join, say), so it explains no reason.
    log = {CREATED, entry(1000, EntryKind.JOINED, A)}
    too_late = T0 + SINGLE_ATTENDEE_MS + END_TOLERANCE_MS + 1
    assert infer_end_reason(log, too_late) is EndReason.UNKNOWN
    # The same for a meeting nobody joined, read 24 h later, and for a lower bound.
    assert infer_end_reason({CREATED}, T0 + LIFETIME_MS + 1) is EndReason.UNKNOWN
    bound = {entry(10, EntryKind.JOINED, A)}
    assert infer_end_reason(bound, T0 + 10 + 2 * SINGLE_ATTENDEE_MS) is EndReason.UNKNOWN


def test_without_meeting_started_a_stretch_from_creation_is_only_a_lower_bound() -> None:
    # The earliest entry bounds the creation from above: long enough proves the rule...
    log = {entry(10, EntryKind.JOINED, A)}
    assert infer_end_reason(log, T0 + 10 + SINGLE_ATTENDEE_MS) is EndReason.SINGLE_ATTENDEE_30MIN
    # ...too short proves nothing, and a later rule must not be guessed.
    assert infer_end_reason(log, T0 + 60_000) is EndReason.UNKNOWN


def test_an_empty_log_explains_nothing() -> None:
    assert infer_end_reason(set(), T0 + LIFETIME_MS * 2) is EndReason.UNKNOWN


def test_screen_share_viewers_or_missed_events_give_unknown() -> None:
    log = {CREATED, entry(1, EntryKind.JOINED, A), entry(2, EntryKind.JOINED, B)}
    assert infer_end_reason(log, T0 + 2_000_000) is EndReason.UNKNOWN


def test_entries_after_the_end_are_ignored() -> None:
    log = {CREATED, entry(NO_AUDIO_MS + 5, EntryKind.JOINED, A)}
    assert infer_end_reason(log, T0 + NO_AUDIO_MS + 1) is EndReason.NO_AUDIO_5MIN


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ({CREATED}, (EndReason.NO_AUDIO_5MIN, T0 + NO_AUDIO_MS + 1)),
        (
            {CREATED, entry(5, EntryKind.JOINED, A)},
            (EndReason.SINGLE_ATTENDEE_30MIN, T0 + SINGLE_ATTENDEE_MS + 1),  # from creation
        ),
        (
            {CREATED, entry(5, EntryKind.JOINED, A), entry(6, EntryKind.JOINED, B)},
            (EndReason.CHIME_24H_LIMIT, T0 + LIFETIME_MS + 1),
        ),
    ],
)
def test_prediction_for_a_meeting_that_vanished(
    log: set[LogEntry], expected: tuple[EndReason, int]
) -> None:
    assert predict_end(log, now=T0 + 2 * LIFETIME_MS) == expected


def test_no_prediction_before_the_rule_is_due_or_without_a_creation_instant() -> None:
    assert predict_end({CREATED}, now=T0 + NO_AUDIO_MS) is None
    assert predict_end({entry(5, EntryKind.JOINED, A)}, now=T0 + 2 * LIFETIME_MS) is None


def test_a_rule_that_would_have_fired_before_later_activity_predicts_nothing() -> None:
    # Alone for 40 minutes yet the meeting went on: the log misses something (or the rule is
    # off in this Chime); as inference would, prediction states no reason.
    log = {CREATED, entry(5, EntryKind.JOINED, A), entry(2_400_000, EntryKind.VIDEO_ON, A)}
    assert predict_end(log, now=T0 + 2 * LIFETIME_MS) is None


@pytest.mark.parametrize(
    "log",
    [
        {CREATED},
        {CREATED, entry(5, EntryKind.JOINED, A)},
        {CREATED, entry(5, EntryKind.JOINED, A), entry(6, EntryKind.JOINED, B)},
        {CREATED, entry(0, EntryKind.JOINED, A), entry(1_500_000, EntryKind.LEFT, A)},
    ],
)
def test_inference_at_the_predicted_instant_agrees_with_the_prediction(
    log: set[LogEntry],
) -> None:
    predicted = predict_end(log, now=T0 + 2 * LIFETIME_MS)
    assert predicted is not None
    reason, instant = predicted
    assert infer_end_reason(log, instant) is reason


def test_a_left_whose_join_was_lost_states_no_reason() -> None:
    """Bob's AttendeeJoined was lost, his Left arrived: the log misses the stretch in which two
    talked, so a lone-talker stretch it seems to show may be wrong — nothing is stated."""
    created, ended = 1_764_097_200_000, 1_764_097_200_000 + 1_800_001
    alice, bob = attendee_ref("alice-attendee"), attendee_ref("bob-attendee")
    complete = {
        LogEntry.of(created, EntryKind.MEETING_STARTED),
        LogEntry.of(created + 1_000, EntryKind.JOINED, alice),
        LogEntry.of(ended, EntryKind.LEFT, alice),
    }
    assert infer_end_reason(complete, ended) is EndReason.SINGLE_ATTENDEE_30MIN
    bob_left_alone = complete | {LogEntry.of(created + 600_000, EntryKind.LEFT, bob)}
    assert infer_end_reason(bob_left_alone, ended) is EndReason.UNKNOWN
    assert predict_end(bob_left_alone, ended + 60_000) is None
    # A deleted attendee that never connected is no sign of a lost join.
    bob_deleted = complete | {LogEntry.of(created + 600_000, EntryKind.DELETED, bob)}
    assert infer_end_reason(bob_deleted, ended) is EndReason.SINGLE_ATTENDEE_30MIN


def capture(at: int, on: bool) -> LogEntry:
    kind = EntryKind.CAPTURE_ON if on else EntryKind.CAPTURE_OFF
    return LogEntry.of(T0 + at, kind, capture_ref("pipeline-1"))


def test_a_running_capture_counts_as_an_audio_connection() -> None:
    """Everyone left a recorded meeting: the capture keeps the no-audio clock from starting,
    so Chime ends it by the single-attendee rule, 30 minutes after the count fell below two."""
    log = [
        entry(0, EntryKind.MEETING_STARTED),
        entry(1_000, EntryKind.JOINED, "a"),
        capture(2_000, on=True),
        entry(60_000, EntryKind.LEFT, "a"),
    ]
    assert infer_end_reason(log, T0 + 60_000 + SINGLE_ATTENDEE_MS + 1) is (
        EndReason.SINGLE_ATTENDEE_30MIN
    )
    assert predict_end(log, T0 + 86_400_000) == (
        EndReason.SINGLE_ATTENDEE_30MIN,
        T0 + 60_000 + SINGLE_ATTENDEE_MS + 1,
    )
    # The meeting's connected count and peak count people only.
    assert meeting_activity(log, None).peakConnected == 1
    # Once the capture stopped, the no-audio clock runs from its Deleted.
    stopped = [*log, capture(90_000, on=False)]
    assert infer_end_reason(stopped, T0 + 90_000 + NO_AUDIO_MS + 1) is EndReason.NO_AUDIO_5MIN
    assert infer_end_reason(stopped, T0 + 60_000 + NO_AUDIO_MS + 1) is EndReason.UNKNOWN


def test_a_capture_that_leaves_without_a_seen_start_makes_the_timeline_unknown() -> None:
    log = [
        entry(0, EntryKind.MEETING_STARTED),
        entry(1_000, EntryKind.JOINED, "a"),
        entry(60_000, EntryKind.LEFT, "a"),
        capture(90_000, on=False),  # its InProgress never arrived: a stretch is missing
    ]
    assert infer_end_reason(log, T0 + 90_000 + NO_AUDIO_MS + 1) is EndReason.UNKNOWN
