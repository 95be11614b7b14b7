"""Domain events from old and new images: one per transition, with stable ids."""

from __future__ import annotations

from decimal import Decimal

from meetings.domain.domain_events import attendee_events, meeting_events

MEETING = {
    "meetingId": "m-1",
    "externalMeetingId": "room-42",
    "hostUserId": "alice",
    "status": "CREATED",
    "createdAt": Decimal(1_764_097_200_000),
    "peakConnected": Decimal(0),
    "attendeeTotal": Decimal(0),
}


def test_created_started_and_ended_each_once() -> None:
    assert [e.detail_type for e in meeting_events(None, MEETING)] == ["meeting.created"]
    started = MEETING | {"status": "STARTED", "startedAt": Decimal(1_764_097_201_000)}
    assert [e.detail_type for e in meeting_events(MEETING, started)] == ["meeting.started"]
    assert meeting_events(started, started | {"connected": Decimal(2)}) == []
    ended = started | {
        "status": "ENDED",
        "endedAt": Decimal(1_764_097_500_500),
        "endReason": "no_audio_5min",
        "peakConnected": Decimal(2),
        "attendeeTotal": Decimal(3),
    }
    (event,) = meeting_events(started, ended)
    assert event.detail_type == "meeting.ended"
    assert event.detail | {"eventId": None} == {
        "eventId": None,
        "occurredAt": "2025-11-25T19:05:00.500Z",
        "meetingId": "m-1",
        "externalMeetingId": "room-42",
        "hostUserId": "alice",
        "endReason": "no_audio_5min",
        "endReasonFinal": True,
        "endedAt": "2025-11-25T19:05:00.500Z",
        "durationSeconds": 300,
        "peakConnected": 2,
        "attendeeCount": 3,
    }
    refined = ended | {"endReason": "single_attendee_30min"}
    assert meeting_events(ended, refined) == []
    assert meeting_events(ended, None) == []


def test_an_end_whose_reason_waits_is_followed_by_exactly_one_settled_event() -> None:
    started = MEETING | {"status": "STARTED", "startedAt": Decimal(1_764_097_201_000)}
    pending = started | {
        "status": "ENDED",
        "endedAt": Decimal(1_764_097_800_000),
        "endReason": "unknown",
        "endSettlesAt": Decimal(1_764_097_920_000),
        "peakConnected": Decimal(1),
        "attendeeTotal": Decimal(1),
    }
    (ended,) = meeting_events(started, pending)
    assert (ended.detail_type, ended.detail["endReason"], ended.detail["endReasonFinal"]) == (
        "meeting.ended",
        "unknown",
        False,
    )
    # A late MeetingEnded dates the end by Chime's instant: nothing is published yet.
    dated = pending | {"endedAt": Decimal(1_764_097_500_500)}
    assert meeting_events(pending, dated) == []
    settled = {k: v for k, v in dated.items() if k != "endSettlesAt"} | {
        "endReason": "no_audio_5min"
    }
    (event,) = meeting_events(dated, settled)
    assert event.detail_type == "meeting.end_settled"
    assert event.detail | {"eventId": None} == {
        "eventId": None,
        "occurredAt": "2025-11-25T19:05:00.500Z",
        "meetingId": "m-1",
        "externalMeetingId": "room-42",
        "hostUserId": "alice",
        "endReason": "no_audio_5min",
        "endedAt": "2025-11-25T19:05:00.500Z",
        "durationSeconds": 300,
        "peakConnected": 1,
        "attendeeCount": 1,
    }
    assert meeting_events(dated, settled)[0].event_id == event.event_id  # stable
    assert event.event_id != ended.event_id
    assert meeting_events(settled, settled | {"connected": Decimal(0)}) == []


def test_event_ids_are_stable_and_distinct() -> None:
    first = meeting_events(None, MEETING)[0].event_id
    assert meeting_events(None, MEETING)[0].event_id == first
    assert meeting_events(None, MEETING | {"meetingId": "m-2"})[0].event_id != first


ATTENDEE = {"meetingId": "m-1", "attendeeId": "a-1", "userId": "bob", "presence": "PROVISIONED"}


def test_joins_and_leaves_per_connection() -> None:
    joined = ATTENDEE | {"presence": "CONNECTED", "joinedAt": Decimal(10)}
    (join,) = attendee_events(ATTENDEE, joined, MEETING)
    assert (join.detail_type, join.detail["userId"], join.detail["hostUserId"]) == (
        "attendee.joined",
        "bob",
        "alice",
    )
    assert attendee_events(joined, joined | {"video": True}, MEETING) == []
    left = joined | {"presence": "DROPPED", "leftAt": Decimal(20)}
    (leave,) = attendee_events(joined, left, MEETING)
    assert (leave.detail_type, leave.detail["presence"]) == ("attendee.left", "DROPPED")
    # A later correction of the same leave (DROPPED at an earlier instant) publishes nothing.
    assert attendee_events(left, left | {"leftAt": Decimal(15)}, MEETING) == []
    rejoined = left | {"presence": "CONNECTED", "joinedAt": Decimal(30)}
    (again,) = attendee_events(left, rejoined, MEETING)
    assert again.event_id != join.event_id


def test_removal_of_a_connected_attendee_is_a_leave() -> None:
    joined = ATTENDEE | {"presence": "CONNECTED", "joinedAt": Decimal(10)}
    (leave,) = attendee_events(joined, joined | {"presence": "REMOVED"}, None)
    assert leave.detail["meetingId"] == "m-1"
