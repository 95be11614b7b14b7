"""Property: duplicating events, and reordering them within a bounded window, ends in the
same state as applying them in order — for any valid sequence of one meeting's events."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.service.fakes import (
    deliver,
    envelope,
    new_table,
    service_for,
    settle,
    state_of,
)

T0 = 1_764_097_200_000
ATTENDEES = (
    "aaaaaaaa-0000-0000-0000-000000000001",
    "bbbbbbbb-0000-0000-0000-000000000002",
    "cccccccc-0000-0000-0000-000000000003",
)
# Gaps that matter to the rules, and 0 so that equal timestamps occur.
GAPS = st.sampled_from([0, 0, 1, 1_000, 60_000, 300_001, 1_800_001])


@st.composite
def valid_sequences(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Chime's events of one meeting in emission order, as a simulated meeting would emit them."""
    now = T0
    events = [envelope("chime:MeetingStarted", now)]
    connected: dict[str, dict[str, bool]] = {}
    for _ in range(draw(st.integers(0, 14))):
        now += draw(GAPS)
        attendee = draw(st.sampled_from(ATTENDEES))
        user = attendee[:8]
        state = connected.get(attendee)
        if state is None:
            events.append(envelope("chime:AttendeeJoined", now, attendee, user))
            connected[attendee] = {"video": False, "content": False}
            continue
        action = draw(st.sampled_from(["video", "content", "left", "dropped"]))
        if action == "video":
            kind = "Stopped" if state["video"] else "Started"
            events.append(envelope(f"chime:AttendeeVideo{kind}", now, attendee, user))
            state["video"] = not state["video"]
        elif action == "content":
            share = attendee + "#content"
            kind = "Left" if state["content"] else "Joined"
            events.append(envelope(f"chime:Attendee{kind}", now, share, share))
            state["content"] = not state["content"]
        else:
            if state["content"]:
                share = attendee + "#content"
                events.append(envelope("chime:AttendeeLeft", now, share, share))
            kind = "Left" if action == "left" else "Dropped"
            events.append(envelope(f"chime:Attendee{kind}", now, attendee, user))
            del connected[attendee]
    if draw(st.booleans()):
        events.append(envelope("chime:MeetingEnded", now + draw(GAPS)))
    return events


def in_batches(events: list[dict[str, Any]], sizes: list[int]) -> list[list[dict[str, Any]]]:
    batches, start = [], 0
    for size in sizes:
        if start >= len(events):
            break
        batches.append(events[start : start + size])
        start += size
    if start < len(events):
        batches.append(events[start:])
    return batches


def final_state(events: list[dict[str, Any]], batch_sizes: list[int]) -> Any:
    table = new_table(T0)
    service = service_for(table)
    for batch in in_batches(events, batch_sizes):
        deliver(service, batch)
    settle(table)  # the cleanup, once the settle window passed
    return state_of(table)


@st.composite
def disordered(
    draw: st.DrawFn, events: list[dict[str, Any]], window: int = 4
) -> list[dict[str, Any]]:
    """Each event moved at most `window` places, some delivered twice (also late)."""
    keyed = [(index + draw(st.integers(0, window)), index) for index in range(len(events))]
    order = [index for _, index in sorted(keyed)]
    delivered = []
    for index in order:
        delivered.append(events[index])
        if draw(st.integers(0, 4)) == 0:
            delivered.insert(
                len(delivered) - draw(st.integers(0, min(window, len(delivered) - 1))),
                events[index],
            )
    return delivered


BATCH_SIZES = st.lists(st.integers(1, 5), max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), events=valid_sequences(), ordered_sizes=BATCH_SIZES, sizes=BATCH_SIZES)
def test_duplicates_and_bounded_reordering_end_in_the_ordered_state(
    data: st.DataObject, events: list[dict[str, Any]], ordered_sizes: list[int], sizes: list[int]
) -> None:
    expected = final_state(events, [1] * len(events))
    assert final_state(events, ordered_sizes) == expected
    assert final_state(data.draw(disordered(events)), sizes) == expected


@settings(max_examples=100, deadline=None)
@given(events=valid_sequences())
def test_redelivering_everything_changes_nothing(events: list[dict[str, Any]]) -> None:
    table = new_table(T0)
    service = service_for(table)
    for event in events:
        deliver(service, [event])
    before, writes = state_of(table), table.writes
    deliver(service, events)
    assert state_of(table) == before and table.writes == writes
