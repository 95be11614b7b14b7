"""The store against moto's DynamoDB: item layout, conditional writes, ending, pagination."""

from __future__ import annotations

from typing import Any

import pytest
from meetings import deployment
from meetings.adapters.table import codec
from meetings.adapters.table.cleanup import CleanupTable
from meetings.adapters.table.codec import meeting_from_item, meeting_to_item
from meetings.adapters.table.store import MeetingTable
from meetings.domain.instants import rfc3339
from meetings.domain.records import (
    AttendeeRecord,
    EndNoticer,
    EndReason,
    EndSource,
    MeetingRecord,
    MeetingStatus,
    Presence,
    UserPointerRecord,
)
from meetings.service.ports import (
    OpenMeetingLimitError,
    PageRequest,
    RoomClaim,
    TransactionRejectedError,
)

from tests.integration.conftest import TABLE_NAME

T0 = 1_764_097_200_000


def meeting(meeting_id: str = "m-1", host: str = "alice", **fields: Any) -> MeetingRecord:
    values: dict[str, Any] = {
        "meetingId": meeting_id,
        "externalMeetingId": f"room-{meeting_id}",
        "mediaRegion": "us-east-1",
        "hostUserId": host,
        "createdAt": T0,
        **fields,
    }
    return MeetingRecord(**values)


def attendee(attendee_id: str, user: str, meeting_id: str = "m-1", **fields: Any) -> AttendeeRecord:
    return AttendeeRecord(
        attendeeId=attendee_id,
        meetingId=meeting_id,
        userId=user,
        externalUserId=user,
        addedAt=T0 + 1,
        **fields,
    )


def pointer(user: str, attendee_id: str, meeting_id: str = "m-1") -> UserPointerRecord:
    return UserPointerRecord(
        meetingId=meeting_id, userId=user, attendeeId=attendee_id, externalUserId=user
    )


def page(limit: int, token: str | None = None) -> PageRequest:
    return PageRequest(limit=limit, token=token, binding="the-query", now=T0)


@pytest.fixture
def store(table: Any) -> MeetingTable:
    return MeetingTable(TABLE_NAME, table, reconcile_interval_seconds=180, retention_days=30)


def open_meetings_of(table: Any, host_user_id: str) -> int:
    """How many open meetings the host holds, as the create's cap counts them."""
    key = codec.open_meetings_key(host_user_id)
    item = table.get_item(TableName=TABLE_NAME, Key=key).get("Item")
    return 0 if item is None else int(item[codec.OPEN_MEETINGS_ATTRIBUTE]["N"])


def raw_item(table: Any, pk: str, sk: str) -> Any:
    return table.get_item(TableName=TABLE_NAME, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]


def test_meeting_item_round_trips_with_index_attributes() -> None:
    record = meeting(
        maxDurationSeconds=60,
        tags={"team": "sales"},
        chimeMeeting={"MeetingId": "m-1", "MeetingFeatures": {"Attendee": {"MaxCount": 5}}},
    )
    item = meeting_to_item(record, reconcile_interval_seconds=180)
    assert item[deployment.HOST_INDEX_PK] == {"S": "HOST#alice"}
    assert item[deployment.OPEN_INDEX_PK] == {"S": codec.open_partition(record.meetingId)}
    # The max-duration deadline (60 s) comes before the first reconciliation (180 s).
    assert item[deployment.DUE_INDEX_SK] == {"S": "2025-11-25T19:01:00.000Z"}
    assert "endedAt" not in item
    assert meeting_from_item(item) == record


def test_ended_meeting_item_has_no_open_index_attributes() -> None:
    item = meeting_to_item(meeting(status=MeetingStatus.ENDED, endReason=EndReason.UNKNOWN))
    assert not {deployment.OPEN_INDEX_PK, deployment.DUE_INDEX_PK} & set(item)


def test_create_claims_room_once_per_generation(store: MeetingTable) -> None:
    store.create_meeting(meeting("m-1"), room=RoomClaim(roomName="Room-M-1"))
    assert store.get_room("room-m-1") == RoomClaim(
        roomName="Room-M-1", generation=1, meetingId="m-1"
    )
    with pytest.raises(TransactionRejectedError) as rejected:
        store.create_meeting(meeting("m-2"), room=RoomClaim(roomName="ROOM-m-1"))
    assert rejected.value.failed_at(1)
    assert store.get_meeting("m-2") is None


def test_end_meeting_closes_everything_once(store: MeetingTable, table: Any) -> None:
    store.create_meeting(
        meeting("m-1", connected=1),
        room=RoomClaim(roomName="room-m-1"),
        first_attendee=(
            attendee("a-1", "alice", presence=Presence.CONNECTED),
            pointer("alice", "a-1"),
        ),
    )
    ended = store.end_meeting("m-1", EndReason.NO_AUDIO_5MIN, T0 + 60_000)
    assert ended is not None
    assert (ended.status, ended.endReason, ended.endedAt, ended.connected) == (
        MeetingStatus.ENDED,
        EndReason.NO_AUDIO_5MIN,
        T0 + 60_000,
        0,
    )
    assert ended.expiresAt == (T0 + 60_000) // 1000 + 30 * 86400
    item = raw_item(table, "MEETING#m-1", "MEETING")
    assert not {deployment.OPEN_INDEX_PK, deployment.DUE_INDEX_SK} & set(item)
    assert store.get_room("room-m-1").meetingId is None
    left = store.get_attendee("m-1", "a-1")
    assert left is not None and (left.presence, left.leftAt) == (Presence.LEFT, T0 + 60_000)
    assert "expiresAt" in raw_item(table, "MEETING#m-1", "USER#alice")
    # A second end changes nothing: the first reason stands.
    again = store.end_meeting("m-1", EndReason.CHIME_24H_LIMIT, T0 + 90_000)
    assert again is not None and (again.endReason, again.endedAt) == (
        EndReason.NO_AUDIO_5MIN,
        T0 + 60_000,
    )


def test_open_meetings_count_caps_creates_and_ending_frees_a_place(
    store: MeetingTable, table: Any
) -> None:
    store.create_meeting(meeting("m-1"), open_meetings_cap=2)
    store.create_meeting(meeting("m-2"), open_meetings_cap=2)
    store.create_meeting(meeting("b-1", host="bob"), open_meetings_cap=2)
    with pytest.raises(OpenMeetingLimitError):
        store.create_meeting(meeting("m-3"), open_meetings_cap=2)
    assert store.get_meeting("m-3") is None
    assert (open_meetings_of(table, "alice"), open_meetings_of(table, "bob")) == (2, 1)
    store.end_meeting("m-1", EndReason.UNKNOWN, T0 + 1000)
    store.end_meeting("m-1", EndReason.UNKNOWN, T0 + 2000)  # counted down once only
    assert open_meetings_of(table, "alice") == 1
    store.create_meeting(meeting("m-3"), open_meetings_cap=2)
    assert open_meetings_of(table, "alice") == 2


def test_a_duplicate_meeting_is_no_cap_refusal(store: MeetingTable) -> None:
    store.create_meeting(meeting("m-1"), open_meetings_cap=1)
    with pytest.raises(TransactionRejectedError) as rejected:
        store.create_meeting(meeting("m-1"), open_meetings_cap=1)
    assert not isinstance(rejected.value, OpenMeetingLimitError)
    assert rejected.value.failed_at(0)


def test_ending_a_meeting_older_than_the_count_still_ends_it(
    store: MeetingTable, table: Any
) -> None:
    store.create_meeting(meeting("m-1"), room=RoomClaim(roomName="room-m-1"))  # not counted
    ended = store.end_meeting("m-1", EndReason.UNKNOWN, T0 + 1000)
    assert ended is not None and ended.status is MeetingStatus.ENDED
    assert store.get_room("room-m-1").meetingId is None
    assert open_meetings_of(table, "alice") == 0  # never below zero
    store.create_meeting(meeting("m-2"), open_meetings_cap=1)
    assert open_meetings_of(table, "alice") == 1


def test_end_meeting_closes_more_attendees_than_one_transaction_holds(
    store: MeetingTable, table: Any
) -> None:
    store.create_meeting(meeting("m-1", connected=30))
    for number in range(30):
        store.add_attendee(
            attendee(f"a-{number}", f"user{number}", presence=Presence.CONNECTED),
            pointer(f"user{number}", f"a-{number}"),
            replaces_attendee_id=None,
        )
    ended = store.end_meeting("m-1", EndReason.NO_AUDIO_5MIN, T0 + 60_000)
    assert ended is not None and ended.attendeeTotal == 30
    roster, _ = store.list_roster("m-1", page=page(100))
    assert {record.presence for record in roster} == {Presence.LEFT}
    assert {record.leftAt for record in roster} == {T0 + 60_000}
    for number in range(30):
        assert "expiresAt" in raw_item(table, "MEETING#m-1", f"USER#user{number}")


def test_an_ended_meeting_keeps_its_reason(store: MeetingTable) -> None:
    store.create_meeting(meeting("m-1"))
    store.end_meeting("m-1", EndReason.UNKNOWN, T0 + 1000)
    again = store.end_meeting("m-1", EndReason.SINGLE_ATTENDEE_30MIN, T0 + 2000)
    assert again is not None and (again.endReason, again.endedAt) == (EndReason.UNKNOWN, T0 + 1000)


def test_a_pending_end_stays_due_until_settled_and_takes_chime_s_instant(
    store: MeetingTable, table: Any
) -> None:
    store.create_meeting(meeting("m-1"))
    noticed = T0 + 600_000
    origin = store.pending_end(EndSource.BACKEND, noticed, EndNoticer.API)
    ended = store.end_meeting("m-1", EndReason.UNKNOWN, noticed, origin=origin)
    assert ended is not None and not ended.end_reason_final
    assert ended.endSettlesAt == noticed + 120_000
    item = raw_item(table, "MEETING#m-1", "MEETING")
    assert deployment.OPEN_INDEX_PK not in item
    assert item[deployment.DUE_INDEX_SK]["S"] == rfc3339(noticed + 120_000)
    # A late MeetingEnded: Chime's instant replaces the backend's; the reason still waits.
    dated = store.end_meeting(
        "m-1", EndReason.UNKNOWN, T0 + 300_001, origin=store.pending_end(EndSource.CHIME, noticed)
    )
    assert dated is not None
    assert (dated.endedAt, dated.endedAtSource, dated.endReason) == (
        T0 + 300_001,
        EndSource.CHIME,
        EndReason.UNKNOWN,
    )
    assert store.settle_end(dated, EndReason.NO_AUDIO_5MIN, T0 + 300_001, EndSource.CHIME)
    # Settled once: a second settlement from the same read, or a later instant, is refused.
    assert not store.settle_end(dated, EndReason.VANISHED, T0 + 300_001, EndSource.CHIME)
    late = store.end_meeting(
        "m-1", EndReason.UNKNOWN, T0 + 400_000, origin=store.pending_end(EndSource.CHIME, noticed)
    )
    assert late is not None and late.end_reason_final
    assert (late.endReason, late.endedAt) == (EndReason.NO_AUDIO_5MIN, T0 + 300_001)
    assert not {deployment.DUE_INDEX_PK, deployment.DUE_INDEX_SK} & set(
        raw_item(table, "MEETING#m-1", "MEETING")
    )


def test_a_withdrawn_end_request_leaves_nothing_behind(store: MeetingTable) -> None:
    store.create_meeting(meeting("m-1"))
    store.request_end("m-1", EndReason.HOST_ENDED)
    store.withdraw_end_request("m-1", EndReason.MAX_DURATION)  # not ours: stays
    current = store.get_meeting("m-1")
    assert current is not None and current.requestedEndReason is EndReason.HOST_ENDED
    store.withdraw_end_request("m-1", EndReason.HOST_ENDED)
    current = store.get_meeting("m-1")
    assert current is not None and current.requestedEndReason is None


def test_requested_reason_wins_over_the_inferred_one(store: MeetingTable) -> None:
    store.create_meeting(meeting("m-1"))
    requested = store.request_end("m-1", EndReason.HOST_ENDED)
    assert requested is not None and requested.requestedEndReason is EndReason.HOST_ENDED
    ended = store.end_meeting("m-1", EndReason.UNKNOWN, T0 + 1000)
    assert ended is not None and ended.endReason is EndReason.HOST_ENDED
    assert store.request_end("m-1", EndReason.MAX_DURATION) is None


def test_end_meeting_of_unknown_meeting_is_none(store: MeetingTable) -> None:
    assert store.end_meeting("nope", EndReason.UNKNOWN, T0) is None


def test_add_attendee_counts_once_and_respects_the_bar(store: MeetingTable) -> None:
    store.create_meeting(meeting("m-1"))
    store.add_attendee(attendee("a-1", "bob"), pointer("bob", "a-1"), replaces_attendee_id=None)
    assert store.count_attendee("m-1") is True
    counted = store.get_meeting("m-1")
    assert counted is not None and counted.attendeeTotal == 1
    with pytest.raises(TransactionRejectedError):
        store.add_attendee(attendee("a-2", "bob"), pointer("bob", "a-2"), replaces_attendee_id=None)
    recorded = store.get_meeting("m-1")
    assert recorded is not None and recorded.attendeeTotal == 1
    bob = store.get_attendee("m-1", "a-1")
    assert bob is not None
    store.remove_attendee(bob, removed_at_ms=T0 + 5, bar_user=True)
    barred = store.get_pointer("m-1", "bob")
    assert barred is not None and barred.barred
    with pytest.raises(TransactionRejectedError) as rejected:
        store.add_attendee(
            attendee("a-3", "bob"), pointer("bob", "a-3"), replaces_attendee_id="a-1"
        )
    assert rejected.value.failed_at(1)


def test_count_attendee_refuses_an_ended_meeting(store: MeetingTable) -> None:
    store.create_meeting(meeting("m-1"))
    store.end_meeting("m-1", EndReason.UNKNOWN, T0 + 10)
    assert store.count_attendee("m-1") is False
    assert store.count_attendee("nope") is False


def test_removing_a_connected_attendee_frees_its_seat(store: MeetingTable) -> None:
    store.create_meeting(
        meeting("m-1", connected=1),
        first_attendee=(attendee("a-1", "bob", presence=Presence.CONNECTED), pointer("bob", "a-1")),
    )
    bob = store.get_attendee("m-1", "a-1")
    assert bob is not None
    store.remove_attendee(bob, removed_at_ms=T0 + 5, bar_user=False)
    recorded = store.get_meeting("m-1")
    assert recorded is not None and recorded.connected == 0
    # The same removal from the stale read is refused, and counts nothing twice.
    with pytest.raises(TransactionRejectedError):
        store.remove_attendee(bob, removed_at_ms=T0 + 6, bar_user=False)


def test_listings_page_newest_first(store: MeetingTable) -> None:
    for number in range(5):
        store.create_meeting(meeting(f"m-{number}", createdAt=T0 + number))
    store.end_meeting("m-3", EndReason.UNKNOWN, T0 + 10)
    first, start = store.list_hosted("alice", status_filter=None, page=page(2))
    assert [record.meetingId for record in first] == ["m-4", "m-3"]
    second, _ = store.list_hosted("alice", status_filter=None, page=page(2, start))
    assert [record.meetingId for record in second] == ["m-2", "m-1"]
    open_only, _ = store.list_hosted("alice", status_filter="open", page=page(10))
    assert [record.meetingId for record in open_only] == ["m-4", "m-2", "m-1", "m-0"]
    everyone_open, _ = store.list_open(status_filter=None, page=page(10))
    assert len(everyone_open) == 4
    cleanup = CleanupTable(TABLE_NAME, store.client)
    due, _ = cleanup.page(due_by=rfc3339(T0 + 180_010), limit=10, start_key=None)
    assert {listed.meeting.meetingId for listed in due} == {"m-0", "m-1", "m-2", "m-4"}
    assert cleanup.page(due_by=rfc3339(T0), limit=10, start_key=None)[0] == []
