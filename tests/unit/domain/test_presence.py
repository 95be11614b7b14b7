"""The activity log and what it derives: presence, video, content share, counts, peak."""

from __future__ import annotations

import pytest
from meetings.domain.chime_events import ChimeEvent, ChimeEventType
from meetings.domain.presence import EntryKind, LogEntry, attendee_ref, decode_log, entry_for
from meetings.domain.records import Presence
from meetings.domain.replay import attendee_activity, audio_steps, meeting_activity

T0 = 1_764_097_200_000
A, B = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


def entry(offset: int, kind: EntryKind, attendee: str | None = None) -> LogEntry:
    return LogEntry.of(T0 + offset, kind, attendee_ref(attendee) if attendee else "")


def test_entries_encode_compactly_and_decode_back() -> None:
    original = entry(5, EntryKind.DROPPED, A)
    text = original.encode()
    assert len(text) <= 22
    assert LogEntry.decode(text) == original
    assert decode_log([text, text]) == frozenset({original})


def test_attendee_events_map_to_entries_and_content_shares_to_their_sharer() -> None:
    joined = ChimeEvent(ChimeEventType.ATTENDEE_JOINED, "m", T0, A, "bob")
    assert entry_for(joined) == entry(0, EntryKind.JOINED, A)
    share = ChimeEvent(ChimeEventType.ATTENDEE_JOINED, "m", T0, A + "#content", A + "#content", A)
    assert entry_for(share) == entry(0, EntryKind.CONTENT_ON, A)
    added = ChimeEvent(ChimeEventType.ATTENDEE_ADDED, "m", T0, A, "bob")
    assert entry_for(added) is None
    started = ChimeEvent(ChimeEventType.MEETING_STARTED, "m", T0)
    assert entry_for(started) == entry(0, EntryKind.MEETING_STARTED)


def test_presence_is_the_latest_event_and_a_disconnect_wins_a_tie() -> None:
    log = {
        entry(0, EntryKind.JOINED, A),
        entry(10, EntryKind.LEFT, A),
        entry(10, EntryKind.JOINED, A),
    }
    activity = attendee_activity(log, A, None)
    assert activity.presence is Presence.LEFT
    assert activity.leftAt == T0 + 10


def test_rejoin_reconnects_and_clears_left_at() -> None:
    log = {
        entry(0, EntryKind.JOINED, A),
        entry(5, EntryKind.DROPPED, A),
        entry(9, EntryKind.JOINED, A),
    }
    activity = attendee_activity(log, A, None)
    assert (activity.presence, activity.joinedAt, activity.leftAt) == (
        Presence.CONNECTED,
        T0 + 9,
        None,
    )


def test_video_belongs_to_the_current_connection() -> None:
    log = {entry(0, EntryKind.JOINED, A), entry(1, EntryKind.VIDEO_ON, A)}
    assert attendee_activity(log, A, None).video
    log |= {entry(2, EntryKind.DROPPED, A), entry(3, EntryKind.JOINED, A)}
    assert not attendee_activity(log, A, None).video


def test_a_meeting_end_closes_connections_at_its_instant_and_ignores_later_events() -> None:
    log = {
        entry(0, EntryKind.JOINED, A),
        entry(1, EntryKind.VIDEO_ON, A),
        entry(50, EntryKind.LEFT, A),
    }
    activity = attendee_activity(log, A, T0 + 20)
    assert (activity.presence, activity.leftAt, activity.video) == (Presence.LEFT, T0 + 20, False)


def test_unknown_attendee_has_no_presence() -> None:
    assert attendee_activity({entry(0, EntryKind.JOINED, A)}, B, None).presence is None


def test_counts_peak_start_and_content_share() -> None:
    log = {
        entry(0, EntryKind.MEETING_STARTED),
        entry(10, EntryKind.JOINED, A),
        entry(20, EntryKind.JOINED, B),
        entry(25, EntryKind.CONTENT_ON, B),
        entry(30, EntryKind.LEFT, A),
        entry(31, EntryKind.JOINED, A),
        entry(40, EntryKind.DELETED, B),
    }
    activity = meeting_activity(log, None)
    assert activity.startedAt == T0 + 10
    assert activity.connected == 1
    assert activity.peakConnected == 2
    assert activity.contentShareActive
    assert activity.chimeCreatedAt == T0
    assert audio_steps(log, None) == [
        (T0 + 10, 1),
        (T0 + 20, 2),
        (T0 + 30, 1),
        (T0 + 31, 2),
        (T0 + 40, 1),
    ]
    ended = meeting_activity(log, T0 + 35)
    assert (ended.connected, ended.contentShareActive, ended.peakConnected) == (0, False, 2)


@pytest.mark.parametrize("kind", [EntryKind.LEFT, EntryKind.DROPPED, EntryKind.DELETED])
def test_a_repeated_disconnect_does_not_count_twice(kind: EntryKind) -> None:
    log = {
        entry(0, EntryKind.JOINED, A),
        entry(1, EntryKind.JOINED, B),
        entry(2, kind, A),
        entry(3, kind, A),
    }
    assert [count for _, count in audio_steps(log, None)] == [1, 2, 1]
