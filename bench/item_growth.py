"""Item sizes and bytes written per Chime event as a meeting ages (docs/performance.md).

Since the log moved into write-once chunks, the "activity item" measured here is the log's
small head; bench/event_flatness.py counts the write units per event of the chunked layout.

One 250-person meeting against moto in-process (the table from `meetings.deployment`): the
250 join, then each in turn starts its camera, stops it, leaves and joins again, in batches
of 10 events (the stack's SQS batch size) through the events service. At each age (events
so far) it reports the meeting item's and the activity item's size by DynamoDB's rules
(bench/item_size.py) and the bytes the batch that reached that age wrote per event: every
item a TransactWriteItems updates or puts, plus its copies in the indexes that project ALL
(the meeting: byHost, openByCreated, openByDeadline while open; an attendee: rosterByAdded).
DynamoDB bills a write by the larger of the item's sizes before and after; the size after is
counted (they differ by the batch's own few bytes). ConditionChecks write nothing.

    .venv/bin/python -m bench.item_growth [--ages 100,1000,10000]
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import boto3
from meetings import deployment
from meetings.adapters.table import codec
from meetings.adapters.table.activity import ActivityTable
from meetings.adapters.table.codec import meeting_to_item
from meetings.adapters.table.store import MeetingTable
from meetings.domain.chime_events import ChimeEvent, ChimeEventType
from meetings.domain.records import MeetingRecord
from meetings.service.events import ChimeEventService
from meetings.wiring import wall_clock_ms

from bench.item_size import item_size

TABLE_NAME: Final = "meetings-growth"
MEETING_ID: Final = "87654321-4321-4321-4321-210987654321"
T0: Final = 1_764_097_200_000
ATTENDEES: Final = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(250)]
BATCH: Final = 10
DEFAULT_AGES: Final = (100, 1_000, 10_000)
_CYCLE: Final = (
    ChimeEventType.VIDEO_STARTED,
    ChimeEventType.VIDEO_STOPPED,
    ChimeEventType.ATTENDEE_LEFT,
    ChimeEventType.ATTENDEE_JOINED,
)
_INDEXED_COPIES: Final = {
    # sort key prefix → index attribute whose presence puts a copy of the item in an index
    codec.MEETING_SK: (
        deployment.HOST_INDEX_PK,
        deployment.OPEN_INDEX_PK,
        deployment.DUE_INDEX_PK,
    ),
    codec.ATTENDEE_SK_PREFIX: (deployment.ROSTER_INDEX_SK,),
}


@dataclass(frozen=True)
class Age:
    events: int
    meeting_bytes: int
    activity_bytes: int
    written_per_event: float


def events(count: int) -> Iterator[ChimeEvent]:
    for i in range(min(count, 250)):
        yield ChimeEvent(
            ChimeEventType.ATTENDEE_JOINED, MEETING_ID, T0 + 1_000 + i, ATTENDEES[i], f"u{i}"
        )
    for i in range(max(0, count - 250)):
        attendee = i % 250
        kind = _CYCLE[(i // 250) % len(_CYCLE)]
        at = T0 + 60_000 + i * 2_000
        yield ChimeEvent(kind, MEETING_ID, at, ATTENDEES[attendee], f"u{attendee}")


class _Recording:
    """The DynamoDB client, remembering the keys each TransactWriteItems writes."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.written: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **arguments: Any) -> Any:
        answer = self._client.transact_write_items(**arguments)
        for action in arguments["TransactItems"]:
            for kind in ("Update", "Put"):
                if kind in action:
                    body = action[kind]
                    key = body.get("Key") or {
                        name: body["Item"][name]
                        for name in (deployment.PARTITION_KEY, deployment.SORT_KEY)
                    }
                    self.written.append(key)
        return answer


def _item(client: Any, sort_key: str) -> dict[str, Any]:
    key = {
        deployment.PARTITION_KEY: {"S": codec.meeting_pk(MEETING_ID)},
        deployment.SORT_KEY: {"S": sort_key},
    }
    return dict(client.get_item(TableName=TABLE_NAME, Key=key).get("Item", {}))


def _bytes_written(client: Any, written: Sequence[dict[str, Any]]) -> int:
    total = 0
    for key in written:
        item = client.get_item(TableName=TABLE_NAME, Key=key).get("Item", {})
        copies = 1
        sort_key = key[deployment.SORT_KEY]["S"]
        for prefix, index_attributes in _INDEXED_COPIES.items():
            if sort_key.startswith(prefix):
                copies += sum(1 for name in index_attributes if name in item)
        total += item_size(item) * copies
    return total


@contextmanager
def _table() -> Iterator[Any]:
    from moto import mock_aws  # noqa: PLC0415 - only this figure needs moto

    from local.aws_services import StrictDynamoDB  # noqa: PLC0415

    # The local stack's transactions (conditions first, then the writes): moto's own
    # deep-copies the whole table for every one, minutes for thousands of batches.
    strict = StrictDynamoDB(threading.Lock(), transaction_in_flight_ms=0)
    strict.install()

    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
    )
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            definition = deployment.table_definition(TABLE_NAME)
            del definition["StreamSpecification"]
            client.create_table(**definition)
            yield client
    finally:
        strict.uninstall()
        os.environ.clear()
        os.environ.update(saved)


def put_meeting(client: Any, external_meeting_id: str) -> None:
    """The bench's meeting, created at T0 by `host`, as the API records it."""
    meeting = MeetingRecord(
        meetingId=MEETING_ID,
        externalMeetingId=external_meeting_id,
        mediaRegion="us-east-1",
        hostUserId="host",
        createdAt=T0,
    )
    client.put_item(TableName=TABLE_NAME, Item=meeting_to_item(meeting))


def measure(ages: Sequence[int] = DEFAULT_AGES) -> list[Age]:
    results = []
    with _table() as client:
        put_meeting(client, "growth")
        recording = _Recording(client)
        service = ChimeEventService(
            ActivityTable(TABLE_NAME, recording),  # type: ignore[arg-type]
            MeetingTable(TABLE_NAME, client),
            clock=wall_clock_ms,
        )
        stream = list(events(max(ages)))
        for start in range(0, len(stream), BATCH):
            batch = stream[start : start + BATCH]
            recording.written.clear()
            service.apply(MEETING_ID, batch)
            age = start + len(batch)
            if age in ages:
                results.append(
                    Age(
                        events=age,
                        meeting_bytes=item_size(_item(client, codec.MEETING_SK)),
                        activity_bytes=item_size(_item(client, "ACTIVITY")),
                        written_per_event=_bytes_written(client, recording.written) / len(batch),
                    )
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ages", default=",".join(map(str, DEFAULT_AGES)))
    ages = [int(age) for age in parser.parse_args().ages.split(",")]
    print("| meeting age (events) | meeting item | activity item | bytes written per event |")
    print("|---|---|---|---|")
    for age in measure(ages):
        print(
            f"| {age.events:,} | {age.meeting_bytes:,} B | {age.activity_bytes:,} B "
            f"| {age.written_per_event:,.0f} B |"
        )


if __name__ == "__main__":
    main()
