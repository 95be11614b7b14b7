"""The activity log's own item against moto: a meeting's items stay bounded however long it
runs, and a transaction DynamoDB cancels for a conflict is applied again, never dropped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from meetings import deployment
from meetings.adapters.table import codec
from meetings.adapters.table.activity import ActivityTable
from meetings.adapters.table.codec import meeting_to_item
from meetings.adapters.table.store import MeetingTable
from meetings.domain.chime_events import ChimeEvent, ChimeEventType
from meetings.domain.presence import entry_for
from meetings.domain.records import MeetingRecord, MeetingStatus, Presence
from meetings.service.events import ChimeEventService
from meetings.wiring import wall_clock_ms
from moto import mock_aws

from bench.item_size import ITEM_SIZE_LIMIT, item_size
from local.aws_services import StrictDynamoDB
from tests.integration.conftest import REGION, TABLE_NAME

MEETING_ID = "87654321-4321-4321-4321-210987654321"
T0 = 1_764_097_200_000
ATTENDEES = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(250)]


@pytest.fixture
def quick_table(aws_env: dict[str, str]) -> Iterator[Any]:
    """moto with the service table, without its stream, and with the local stack's strict
    DynamoDB (DynamoDB's size limits; transactions that check every condition before any
    write: moto's own deep-copies the whole table and its stream history for every
    transaction, minutes for thousands of batches)."""
    strict = StrictDynamoDB(threading.Lock(), transaction_in_flight_ms=0)
    strict.install()
    try:
        yield from _quick_table()
    finally:
        strict.uninstall()


def _quick_table() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        definition = deployment.table_definition(TABLE_NAME)
        del definition["StreamSpecification"]
        client.create_table(**definition)
        yield client


def record_meeting(client: Any) -> None:
    meeting = MeetingRecord(
        meetingId=MEETING_ID,
        externalMeetingId="all-day",
        mediaRegion="us-east-1",
        hostUserId="alice",
        createdAt=T0,
    )
    client.put_item(TableName=TABLE_NAME, Item=meeting_to_item(meeting))


def event(kind: ChimeEventType, at: int, attendee: int | None = None) -> ChimeEvent:
    if attendee is None:
        return ChimeEvent(kind, MEETING_ID, at)
    attendee_id = ATTENDEES[attendee]
    return ChimeEvent(kind, MEETING_ID, at, attendee_id, f"user-{attendee:03d}")


def item(client: Any, sort_key: str) -> dict[str, Any]:
    key = {
        deployment.PARTITION_KEY: {"S": codec.meeting_pk(MEETING_ID)},
        deployment.SORT_KEY: {"S": sort_key},
    }
    return dict(client.get_item(TableName=TABLE_NAME, Key=key).get("Item", {}))


def test_an_all_day_250_person_meeting_keeps_its_items_small_and_ends(quick_table: Any) -> None:
    """The issue's observation: ~19,000 state events. The log on the meeting item passed
    400 KB (DynamoDB refuses every later write, MeetingEnded's included: the strict local
    DynamoDB refuses it too). The sizes are also computed here by DynamoDB's rules as the
    meeting ages."""
    table = quick_table
    record_meeting(table)
    service = ChimeEventService(
        ActivityTable(TABLE_NAME, table), MeetingTable(TABLE_NAME, table), clock=wall_clock_ms
    )
    joins = [event(ChimeEventType.ATTENDEE_JOINED, T0 + 1_000 + i, i) for i in range(250)]
    # Cameras toggled all day, a few attendees per batch (what grows is the log; each
    # batch's attendee writes are what make a test of this length slow).
    toggles = [
        event(
            ChimeEventType.VIDEO_STARTED if i % 2 == 0 else ChimeEventType.VIDEO_STOPPED,
            T0 + 60_000 + i * 2_000,
            (i // 100) % 250,
        )
        for i in range(18_750)
    ]
    events = joins + toggles
    largest = {codec.MEETING_SK: 0, codec.ACTIVITY_SK: 0}
    for start in range(0, len(events), 500):
        service.apply(MEETING_ID, events[start : start + 500])
        for sort_key, size in list(largest.items()):
            largest[sort_key] = max(size, item_size(item(table, sort_key)))
        assert max(largest.values()) < ITEM_SIZE_LIMIT, largest
    ended_at = events[-1].timestamp + 1_000
    applied = service.apply(MEETING_ID, [event(ChimeEventType.MEETING_ENDED, ended_at)])
    assert applied.ended is not None
    meeting = MeetingTable(TABLE_NAME, table).get_meeting(MEETING_ID)
    assert meeting is not None
    assert (meeting.status, meeting.endedAt, meeting.peakConnected) == (
        MeetingStatus.ENDED,
        ended_at,
        250,
    )
    attendee = MeetingTable(TABLE_NAME, table).get_attendee(MEETING_ID, ATTENDEES[7])
    assert attendee is not None and (attendee.presence, attendee.leftAt) == (
        Presence.LEFT,
        ended_at,
    )
    # The meeting item holds no log; the activity's head stays tiny and every chunk of the
    # log is bounded (a compaction's holds the most: docs/events.md).
    assert largest[codec.MEETING_SK] < 4_000 and largest[codec.ACTIVITY_SK] < 200, largest
    assert max(item_size(chunk) for chunk in log_chunks(table)) < 60_000


def log_chunks(client: Any) -> list[dict[str, Any]]:
    pages = client.get_paginator("query").paginate(
        TableName=TABLE_NAME,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": codec.activity_log_pk(MEETING_ID)}},
    )
    return [item for page in pages for item in page["Items"]]


def test_a_head_of_the_earlier_layout_is_read_then_moved_into_a_chunk(quick_table: Any) -> None:
    """Before the chunks, the head held the whole log: such a log still counts, and the first
    compaction moves what it keeps into a chunk."""
    table = quick_table
    record_meeting(table)
    joins = [event(ChimeEventType.ATTENDEE_JOINED, T0 + 1_000 + i, i) for i in range(3)]
    legacy = [entry.encode() for entry in map(entry_for, joins) if entry is not None]
    head = codec.activity_key(MEETING_ID) | {"entries": {"SS": legacy}, "version": {"N": "1"}}
    table.put_item(TableName=TABLE_NAME, Item=head)
    store = MeetingTable(TABLE_NAME, table)
    service = ChimeEventService(ActivityTable(TABLE_NAME, table), store, clock=wall_clock_ms)
    service.apply(MEETING_ID, [event(ChimeEventType.VIDEO_STARTED, T0 + 5_000, 0)])
    meeting = store.get_meeting(MEETING_ID)
    assert meeting is not None and meeting.connected == 3
    # Camera toggles of the three over 45 minutes: enough entries, old enough, to compact.
    toggles = [
        event(
            ChimeEventType.VIDEO_STOPPED if i % 2 else ChimeEventType.VIDEO_STARTED,
            T0 + 10_000 + i * 4_000,
            i % 3,
        )
        for i in range(700)
    ]
    service.apply(MEETING_ID, toggles)
    head = item(table, codec.ACTIVITY_SK)
    assert "entries" not in head and int(head["base"]["N"]) == int(head["version"]["N"])
    snapshot = ActivityTable(TABLE_NAME, table).read(MEETING_ID, [])
    assert snapshot is not None and snapshot.log.checkpoint is not None
    meeting = store.get_meeting(MEETING_ID)
    assert meeting is not None and (meeting.connected, meeting.peakConnected) == (3, 3)


class ConflictOnce:
    """The DynamoDB client, except that the first TransactWriteItems is cancelled as DynamoDB
    cancels one that overlaps another transaction on the same item."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.cancelled = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **arguments: Any) -> Any:
        if not self.cancelled:
            self.cancelled += 1
            reasons = [{"Code": "None"}] * (len(arguments["TransactItems"]) - 1)
            raise ClientError(
                {
                    "Error": {
                        "Code": "TransactionCanceledException",
                        "Message": "Transaction cancelled, please refer cancellation reasons "
                        "for specific reasons [None, TransactionConflict]",
                    },
                    "CancellationReasons": [*reasons, {"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**arguments)


def test_a_transaction_conflict_reads_and_writes_again(table: Any) -> None:
    record_meeting(table)
    client = ConflictOnce(table)
    store = ActivityTable(TABLE_NAME, client)  # type: ignore[arg-type]
    service = ChimeEventService(store, MeetingTable(TABLE_NAME, table), clock=wall_clock_ms)
    service.apply(MEETING_ID, [event(ChimeEventType.ATTENDEE_JOINED, T0 + 5, 0)])
    assert client.cancelled == 1
    meeting = MeetingTable(TABLE_NAME, table).get_meeting(MEETING_ID)
    assert meeting is not None and (meeting.status, meeting.connected) == (
        MeetingStatus.STARTED,
        1,
    )
