"""The events use case against the in-memory model of the table."""

from __future__ import annotations

import dataclasses
import json

import pytest
from meetings.domain.chime_events import MalformedChimeEventError
from meetings.domain.records import EndNoticer, EndReason, EndSource, MeetingStatus, Presence
from meetings.handlers.event_batches import Delivery, EventBatch
from meetings.service.events import MeetingNotRecordedError

from tests.unit.service.fakes import (
    MEETING_ID,
    MemoryMeetingStore,
    deliver,
    envelope,
    new_table,
    service_for,
    settle,
)

T0 = 1_764_097_200_000
A, B = "aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"


def test_join_starts_the_meeting_and_records_an_unseen_attendee() -> None:
    table = new_table(T0)
    deliver(service_for(table), [envelope("chime:AttendeeJoined", T0 + 5, A, "bob")])
    meeting = table.meeting
    assert (meeting.status, meeting.startedAt, meeting.connected, meeting.peakConnected) == (
        MeetingStatus.STARTED,
        T0 + 5,
        1,
        1,
    )
    assert meeting.attendeeTotal == 1
    attendee = table.attendees[A]
    assert (attendee.userId, attendee.externalUserId, attendee.presence) == (
        "bob",
        "bob",
        Presence.CONNECTED,
    )


def test_duplicates_write_nothing() -> None:
    table = new_table(T0)
    service = service_for(table)
    deliver(service, [envelope("chime:AttendeeJoined", T0 + 5, A, "bob")])
    writes = table.writes
    deliver(service, [envelope("chime:AttendeeJoined", T0 + 5, A, "bob")] * 3)
    assert table.writes == writes


def test_one_write_per_meeting_per_batch() -> None:
    table = new_table(T0)
    deliver(
        service_for(table),
        [
            envelope("chime:MeetingStarted", T0),
            envelope("chime:AttendeeJoined", T0 + 5, A, "bob"),
            envelope("chime:AttendeeJoined", T0 + 6, B, "carol"),
            envelope("chime:AttendeeVideoStarted", T0 + 7, A, "bob"),
        ],
    )
    assert table.writes == 1
    assert table.attendees[A].video


def test_content_share_marks_the_sharer_and_is_no_attendee() -> None:
    table = new_table(T0)
    service = service_for(table)
    deliver(service, [envelope("chime:AttendeeJoined", T0 + 1, A, "bob")])
    content = A + "#content"
    deliver(service, [envelope("chime:AttendeeJoined", T0 + 2, content, content)])
    assert table.attendees[A].contentShare and table.meeting.contentShareActive
    assert set(table.attendees) == {A} and table.meeting.attendeeTotal == 1
    assert table.meeting.connected == 1
    deliver(service, [envelope("chime:AttendeeLeft", T0 + 3, content, content)])
    assert not table.attendees[A].contentShare and not table.meeting.contentShareActive


def test_late_join_does_not_resurrect_a_left_attendee() -> None:
    table = new_table(T0)
    service = service_for(table)
    deliver(service, [envelope("chime:AttendeeJoined", T0 + 1, A, "bob")])
    deliver(service, [envelope("chime:AttendeeLeft", T0 + 9, A, "bob")])
    deliver(service, [envelope("chime:AttendeeJoined", T0 + 1, A, "bob")])
    assert table.attendees[A].presence is Presence.LEFT and table.meeting.connected == 0


def test_removed_attendee_stays_removed() -> None:
    table = new_table(T0)
    service = service_for(table)
    deliver(service, [envelope("chime:AttendeeJoined", T0 + 1, A, "bob")])
    table.attendees[A] = dataclasses.replace(table.attendees[A], presence=Presence.REMOVED)
    deliver(service, [envelope("chime:AttendeeJoined", T0 + 20, A, "bob")])
    assert table.attendees[A].presence is Presence.REMOVED


def test_meeting_ended_infers_no_audio() -> None:
    table = new_table(T0)
    service = service_for(table)
    batch = deliver(
        service,
        [
            envelope("chime:MeetingStarted", T0),
            envelope("chime:AttendeeJoined", T0 + 1000, A, "bob"),
            envelope("chime:AttendeeLeft", T0 + 60_000, A, "bob"),
            envelope("chime:MeetingEnded", T0 + 60_000 + 300_001),
        ],
    )
    assert table.meeting.status is MeetingStatus.ENDED
    # Stated only once settled: until then late events may still complete the log.
    assert (table.meeting.endReason, table.meeting.end_reason_final) == (EndReason.UNKNOWN, False)
    assert [applied.ended is not None for applied in batch.applied] == [True]
    assert settle(table).endReason is EndReason.NO_AUDIO_5MIN


def test_a_recorded_reason_wins_over_inference() -> None:
    table = new_table(T0, requestedEndReason=EndReason.HOST_ENDED)
    deliver(
        service_for(table),
        [envelope("chime:MeetingStarted", T0), envelope("chime:MeetingEnded", T0 + 400_000)],
    )
    assert table.meeting.endReason is EndReason.HOST_ENDED
    assert table.meeting.end_reason_final  # a requested reason is final at once


def test_end_closes_connected_attendees_and_late_events_refine_history() -> None:
    table = new_table(T0)
    service = service_for(table)
    deliver(
        service,
        [envelope("chime:MeetingStarted", T0), envelope("chime:AttendeeJoined", T0 + 1, A, "bob")],
    )
    deliver(service, [envelope("chime:MeetingEnded", T0 + 360_000)])
    assert table.attendees[A].leftAt == T0 + 360_000
    assert (
        table.meeting.endReason is EndReason.UNKNOWN
    )  # bob was still connected, as far as we knew
    deliver(service, [envelope("chime:AttendeeLeft", T0 + 50_000, A, "bob")])
    assert table.attendees[A].presence is Presence.LEFT and table.attendees[A].leftAt == T0 + 50_000
    assert table.meeting.endReason is EndReason.UNKNOWN  # never a reason that changes later
    assert settle(table).endReason is EndReason.NO_AUDIO_5MIN
    deliver(service, [envelope("chime:AttendeeJoined", T0 + 400_000, A, "bob")])
    assert table.attendees[A].presence is Presence.LEFT and table.meeting.connected == 0


def test_a_late_meeting_ended_dates_an_end_the_backend_noticed_first() -> None:
    table = new_table(T0)
    service = service_for(table)
    deliver(
        service,
        [envelope("chime:MeetingStarted", T0), envelope("chime:AttendeeJoined", T0 + 1, A, "bob")],
    )
    # A join 10 minutes after Chime's single-attendee end finds it gone: our clock dates it.
    noticed_at = T0 + 1_800_001 + 600_000
    stores = MemoryMeetingStore(table)
    stores.end_meeting(
        MEETING_ID,
        EndReason.UNKNOWN,
        noticed_at,
        origin=stores.pending_end(EndSource.BACKEND, noticed_at, EndNoticer.API),
    )
    deliver(service, [envelope("chime:MeetingEnded", T0 + 1_800_001)])
    assert (table.meeting.endedAt, table.meeting.endReason) == (T0 + 1_800_001, EndReason.UNKNOWN)
    settled = settle(table)
    assert (settled.endReason, settled.endedAt) == (EndReason.SINGLE_ATTENDEE_30MIN, T0 + 1_800_001)
    # Once settled, nothing changes it.
    deliver(service, [envelope("chime:MeetingEnded", T0 + 1_900_000)])
    assert table.meeting == settled


def test_unrecorded_meeting_is_retried_then_dropped() -> None:
    table = new_table(T0)
    body = json.dumps(envelope("chime:MeetingStarted", T0, meeting_id="elsewhere"))
    first = EventBatch(service_for(table), [Delivery("m1", body, receive_count=1)])
    with pytest.raises(MeetingNotRecordedError):
        first.settle("m1")
    last = EventBatch(service_for(table), [Delivery("m1", body, receive_count=3)])
    last.settle("m1")


def test_malformed_message_fails_alone() -> None:
    table = new_table(T0)
    good = json.dumps(envelope("chime:AttendeeJoined", T0 + 1, A, "bob"))
    batch = EventBatch(service_for(table), [Delivery("bad", "{not json"), Delivery("good", good)])
    with pytest.raises(MalformedChimeEventError):
        batch.settle("bad")
    batch.settle("good")
    assert table.meeting.connected == 1


def test_unknown_event_types_are_accepted_and_ignored() -> None:
    table = new_table(T0)
    deliver(service_for(table), [envelope("chime:TranscriptionStarted", T0 + 1)])
    assert table.writes == 0
