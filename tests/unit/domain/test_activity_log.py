"""The activity log's compaction: deriving from a checkpoint plus the entries after its horizon
gives exactly what the whole log gives, a late entry before the horizon is never merged and
never lets a reason be stated, and the stored item stays bounded."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meetings.adapters.table.activity import (
    CHECKPOINT_ATTRIBUTE,
    ENTRIES_ATTRIBUTE,
    VERSION_ATTRIBUTE,
)
from meetings.adapters.table.checkpoint import decode_checkpoint, encode_checkpoint
from meetings.adapters.table.codec import activity_key
from meetings.domain import presence
from meetings.domain.end_reason import infer_end_reason, predict_end
from meetings.domain.presence import (
    COMPACT_AT,
    HORIZON_MS,
    MAX_ENTRIES,
    ActivityLog,
    EntryKind,
    LogEntry,
    attendee_ref,
    capture_ref,
)
from meetings.domain.records import EndReason
from meetings.domain.replay import Replay

from bench.item_size import ITEM_SIZE_LIMIT, item_size
from tests.unit.service.fakes import deliver, new_table, service_for, state_of
from tests.unit.service.test_events_properties import BATCH_SIZES, in_batches, valid_sequences

T0 = 1_764_097_200_000
ATTENDEES = ("attendee-a", "attendee-b", "attendee-c")
# Capture pipelines are audio connections to the auto-end rules, under refs of their own.
CAPTURES = ("pipeline-1", "pipeline-2")
CAPTURE_KINDS = (EntryKind.CAPTURE_ON, EntryKind.CAPTURE_OFF)
GAPS = st.sampled_from([0, 0, 1, 1_000, 60_000, 300_001, 1_800_001])
KINDS = st.sampled_from(list(EntryKind))


@st.composite
def histories(draw: st.DrawFn, max_size: int = 30) -> list[LogEntry]:
    """Entries of one meeting: any kinds, any attendees, timestamps with ties and long gaps."""
    now, entries = T0, []
    for _ in range(draw(st.integers(0, max_size))):
        now += draw(GAPS)
        kind = draw(KINDS)
        if kind is EntryKind.MEETING_STARTED:
            ref = ""
        elif kind in CAPTURE_KINDS:
            ref = capture_ref(draw(st.sampled_from(CAPTURES)))
        else:
            ref = attendee_ref(draw(st.sampled_from(ATTENDEES)))
        entries.append(LogEntry.of(now, kind, ref))
    return entries


def span(entries: list[LogEntry]) -> tuple[int, int]:
    instants = [e.timestamp for e in entries] or [T0]
    return min(instants), max(instants)


def derived(log: Any, ended_at: int | None) -> tuple[Any, ...]:
    replay = Replay(log, ended_at)
    return (*(replay.attendee(a) for a in ATTENDEES), replay.meeting(), replay.audio_count)


def answers(log: Any, ended_at: int | None, now: int) -> tuple[Any, ...]:
    reason = infer_end_reason(log, ended_at) if ended_at is not None else None
    return reason, predict_end(log, now)


@st.composite
def horizon_and_end(
    draw: st.DrawFn, entries: list[LogEntry], at_least: int | None = None
) -> tuple[int, int | None, int]:
    """A horizon anywhere around the log, an end instant the checkpoint may serve (None, or at
    least one millisecond before the horizon) and a 'now' for the prediction."""
    first, last = span(entries)
    lowest = first - 10 if at_least is None else at_least
    horizon = draw(st.integers(lowest, max(lowest, last + 10)))
    ended_at = draw(st.none() | st.integers(horizon - 1, last + 2 * 86_400_000))
    now = draw(st.integers(first, last + 2 * 86_400_000))
    return horizon, ended_at, now


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), entries=histories())
def test_a_checkpoint_and_the_rest_derive_what_the_whole_log_derives(
    data: st.DataObject, entries: list[LogEntry]
) -> None:
    whole = frozenset(entries)
    horizon, ended_at, now = data.draw(horizon_and_end(entries))
    compacted = ActivityLog(whole).folded_before(horizon)
    assert all(entry.timestamp >= horizon for entry in compacted.entries)
    assert derived(compacted, ended_at) == derived(whole, ended_at)
    assert answers(compacted, ended_at, now) == answers(whole, ended_at, now)
    # The stored form of the checkpoint is the checkpoint.
    assert compacted.checkpoint is not None
    assert decode_checkpoint(encode_checkpoint(compacted.checkpoint)) == compacted.checkpoint


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), before=histories(), after=histories())
def test_compacting_again_after_more_entries_changes_nothing_derived(
    data: st.DataObject, before: list[LogEntry], after: list[LogEntry]
) -> None:
    _, last = span(before)
    later = [LogEntry(e.timestamp - T0 + last, e.rank, e.ref) for e in after]
    whole = frozenset(before) | frozenset(later)
    first_horizon = data.draw(st.integers(T0 - 10, last))
    folded = ActivityLog(frozenset(before)).folded_before(first_horizon)
    log = folded.with_entries(later)
    # Nothing came before the horizon (the fold itself may have found a lost join).
    assert log.incomplete == folded.incomplete
    second_horizon, ended_at, now = data.draw(horizon_and_end(before + later, first_horizon))
    log = log.folded_before(second_horizon)
    assert derived(log, ended_at) == derived(whole, ended_at)
    assert answers(log, ended_at, now) == answers(whole, ended_at, now)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), entries=histories(), late=histories(max_size=6))
def test_an_entry_before_the_horizon_is_ignored_and_never_lets_a_reason_be_stated(
    data: st.DataObject, entries: list[LogEntry], late: list[LogEntry]
) -> None:
    known = frozenset(entries)
    horizon, ended_at, now = data.draw(horizon_and_end(entries))
    compacted = ActivityLog(known).folded_before(horizon)
    # Late arrivals: redeliveries of folded entries, and entries the log never had.
    redelivered = data.draw(st.lists(st.sampled_from(sorted(known)))) if known else []
    arrivals = [e for e in [*redelivered, *late] if e.timestamp < horizon]
    log = compacted.with_entries(arrivals)
    assert log.entries == compacted.entries
    # Derivation ignores what could not be merged: the state is the one of the entries known.
    assert derived(log, ended_at) == derived(known, ended_at)
    if log.incomplete:
        assert infer_end_reason(log, ended_at if ended_at is not None else now) is (
            EndReason.UNKNOWN
        )
        assert predict_end(log, now) is None
    else:
        # Only arrivals that provably change nothing are dropped without a mark.
        complete = known | frozenset(arrivals)
        assert derived(log, ended_at) == derived(complete, ended_at)
        assert answers(log, ended_at, now) == answers(complete, ended_at, now)


def test_redelivered_last_join_and_disconnect_are_recognised_as_duplicates() -> None:
    a = attendee_ref(ATTENDEES[0])
    started = LogEntry.of(T0, EntryKind.MEETING_STARTED)
    joined = LogEntry.of(T0 + 10, EntryKind.JOINED, a)
    left = LogEntry.of(T0 + 20, EntryKind.LEFT, a)
    log = ActivityLog(frozenset({started, joined, left})).folded_before(T0 + 1_000)
    assert not log.with_entries([started, joined, left]).incomplete
    # A different disconnect at that instant would change the presence: not merged, marked.
    dropped = LogEntry.of(T0 + 20, EntryKind.DROPPED, a)
    assert log.with_entries([dropped]).incomplete
    assert log.with_entries([LogEntry.of(T0 + 5, EntryKind.VIDEO_ON, a)]).incomplete


def test_an_incomplete_past_gives_unknown_where_the_whole_log_would_state_a_reason() -> None:
    a = attendee_ref(ATTENDEES[0])
    started = LogEntry.of(T0, EntryKind.MEETING_STARTED)
    joined = LogEntry.of(T0 + 10, EntryKind.JOINED, a)
    late_left = LogEntry.of(T0 + 20, EntryKind.LEFT, a)
    ended_at = T0 + 20 + 300_000
    assert infer_end_reason({started, joined, late_left}, ended_at) is EndReason.NO_AUDIO_5MIN
    log = ActivityLog(frozenset({started, joined})).folded_before(T0 + 100)
    log = log.with_entries([late_left])
    assert log.incomplete
    assert infer_end_reason(log, ended_at) is EndReason.UNKNOWN
    assert predict_end(log, ended_at + 86_400_000) is None


def test_compaction_waits_for_a_long_log_and_keeps_the_last_half_hour() -> None:
    a = attendee_ref(ATTENDEES[0])
    toggles = [
        LogEntry.of(T0 + i * 10_000, EntryKind.VIDEO_ON if i % 2 else EntryKind.VIDEO_OFF, a)
        for i in range(COMPACT_AT)
    ]
    short = ActivityLog(frozenset(toggles))
    assert short.compacted(None) is short
    longer = short.with_entries([LogEntry.of(T0 + COMPACT_AT * 10_000, EntryKind.JOINED, a)])
    compacted = longer.compacted(None)
    newest = T0 + COMPACT_AT * 10_000
    assert compacted.horizon == newest - HORIZON_MS
    assert {e.timestamp for e in compacted.entries} == {
        e.timestamp for e in longer.entries if e.timestamp >= newest - HORIZON_MS
    }
    assert derived(compacted, None) == derived(longer.entries, None)


def test_an_ended_meeting_is_never_compacted_past_its_end() -> None:
    a = attendee_ref(ATTENDEES[0])
    entries = frozenset(
        LogEntry.of(T0 + i * 10_000, EntryKind.VIDEO_ON if i % 2 else EntryKind.VIDEO_OFF, a)
        for i in range(COMPACT_AT * 2)
    )
    ended_at = T0 + COMPACT_AT * 10_000
    compacted = ActivityLog(entries).compacted(ended_at)
    assert compacted.horizon is not None and compacted.horizon <= ended_at + 1
    assert all(e.timestamp <= ended_at for e in compacted.entries)
    assert derived(compacted, ended_at) == derived(entries, ended_at)


# --- the size bound --------------------------------------------------------------------------

MEETING_ID = "87654321-4321-4321-4321-210987654321"
ENTRY_BYTES = 13 + 1 + 8  # timestamp, kind, attendee ref
REF_BYTES = 8 + 4 + 1 + 13 + 13 + 2 + 1  # ref, commas, presence, joinedAt, leftAt, flags, ';'
HEAD_BYTES = 128  # the checkpoint's meeting part: 10 fields, instants of 13 digits
KEY_AND_NAMES_BYTES = 128  # pk, sk, the attribute names, version and expiresAt
MAX_ATTENDEES = 250
# The activity item's worst case: the most entries a stored log keeps, and a checkpoint that
# knows 250 attendees.
ITEM_BOUND = (
    MAX_ENTRIES * ENTRY_BYTES + MAX_ATTENDEES * REF_BYTES + HEAD_BYTES + KEY_AND_NAMES_BYTES
)


def activity_item(log: ActivityLog, version: int) -> dict[str, Any]:
    """The activity item as the store leaves it (adapters/table/activity.py)."""
    item: dict[str, Any] = activity_key(MEETING_ID)
    item[VERSION_ATTRIBUTE] = {"N": str(version)}
    item["expiresAt"] = {"N": str(T0 // 1000 + 30 * 86_400)}
    if log.entries:
        item[ENTRIES_ATTRIBUTE] = {"SS": [e.encode() for e in log.entries]}
    if log.checkpoint is not None:
        item[CHECKPOINT_ATTRIBUTE] = {"S": encode_checkpoint(log.checkpoint)}
    return item


def all_day_meeting(events: int, seconds_apart: float, seed: int) -> list[LogEntry]:
    """250 attendees join, then cameras, shares, drops and rejoins, `events` in all."""
    rng = random.Random(seed)
    refs = [attendee_ref(f"attendee-{i:03d}") for i in range(MAX_ATTENDEES)]
    entries = [LogEntry.of(T0, EntryKind.MEETING_STARTED)]
    entries += [LogEntry.of(T0 + 1_000 + i, EntryKind.JOINED, ref) for i, ref in enumerate(refs)]
    kinds = [EntryKind.VIDEO_ON, EntryKind.VIDEO_OFF] * 4 + [
        EntryKind.CONTENT_ON,
        EntryKind.CONTENT_OFF,
        EntryKind.DROPPED,
        EntryKind.JOINED,
        EntryKind.LEFT,
        EntryKind.JOINED,
    ]
    for i in range(events - len(entries)):
        at = T0 + 60_000 + int(i * seconds_apart * 1000)
        entries.append(LogEntry.of(at, rng.choice(kinds), rng.choice(refs)))
    return entries


@pytest.mark.parametrize(
    ("events", "seconds_apart"),
    [
        (19_000, 2.0),  # the all-day meeting: ~10.5 hours, 76 entries an attendee
        (6_000, 0.05),  # a storm: 20 events a second, far more than 2048 in half an hour
    ],
    ids=["all-day", "storm"],
)
def test_an_all_day_250_person_meeting_stays_under_the_bound(
    events: int, seconds_apart: float
) -> None:
    assert ITEM_BOUND < 60_000 < ITEM_SIZE_LIMIT
    entries = all_day_meeting(events, seconds_apart, seed=events)
    log, largest, longest = ActivityLog(), 0, 0
    # Batches of 10, as the queue hands them over; each write raises the version.
    for version, start in enumerate(range(0, len(entries), 10), start=1):
        before = log.checkpoint
        log = log.with_entries(entries[start : start + 10]).compacted(None)
        assert len(log.entries) <= MAX_ENTRIES
        # The item grows with its entries and its checkpoint: measure at every new high.
        if len(log.entries) > longest or log.checkpoint != before:
            longest = max(longest, len(log.entries))
            largest = max(largest, item_size(activity_item(log, version)))
    assert not log.incomplete
    assert log.checkpoint is not None and len(log.checkpoint.refs) == MAX_ATTENDEES
    assert largest <= ITEM_BOUND
    # What it all stands for is still the whole log's state.
    whole = Replay(frozenset(entries), None)
    compacted = Replay(log, None)
    assert compacted.meeting() == whole.meeting()
    for i in range(0, MAX_ATTENDEES, 7):
        assert compacted.attendee(f"attendee-{i:03d}") == whole.attendee(f"attendee-{i:03d}")


# --- through the events service ----------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=valid_sequences(), sizes=BATCH_SIZES)
def test_the_service_ends_in_the_same_state_with_the_log_compacted_at_every_batch(
    events: list[dict[str, Any]], sizes: list[int]
) -> None:
    def final_state() -> Any:
        table = new_table(T0)
        service = service_for(table)
        for batch in in_batches(events, sizes):
            deliver(service, batch)
        return state_of(table), table.log

    expected, whole = final_state()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(presence, "COMPACT_AT", 1)  # fold whatever is half an hour old
        compacted_state, log = final_state()
    assert compacted_state == expected
    assert not log.incomplete  # events in order: nothing arrives before the horizon
    if whole.entries and max(e.timestamp for e in whole.entries) - T0 > HORIZON_MS:
        assert log.checkpoint is not None
