"""Flat per event: the write units of event #10 and of event #5,000 of one long meeting
(docs/performance.md, "Flat per event").

    PYTHONPATH=lambdas:. .venv/bin/python -m bench.event_flatness

One meeting of 10 attendees (recorded by the API before their first event) against moto
in-process, through the events service and the
activity store (the events function's code, without its SQS wrapper): events 1-10 are the
ten joins; from event 11 on, attendee `(k - 1) % 10` in turn starts its camera, stops it,
leaves and joins again, one event every 2 s (event #5,000 is at 2 h 47 min; the activity log
compacts past its 30-minute horizon many times before). Event #10 and event #5,000 are both
attendee 9 joining, each delivered alone (one event per invocation, as a quiet queue hands
them over); the events between them go in batches of 100 to keep the run short. Write units
per bench/capacity.py: the table's item writes (doubled in a transaction) plus index copies.
The 200 events up to #5,000 are also delivered one by one, to give the mean per event with
the compactions they include, and the largest single event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import boto3
from meetings.adapters.table.activity import ActivityTable
from meetings.adapters.table.codec import attendee_to_item
from meetings.adapters.table.store import MeetingTable
from meetings.domain.chime_events import ChimeEvent, ChimeEventType
from meetings.domain.records import AttendeeRecord
from meetings.service.events import ChimeEventService
from meetings.wiring import wall_clock_ms

from bench.capacity import CapacityMeter
from bench.item_growth import MEETING_ID, T0, TABLE_NAME, _table, put_meeting
from bench.stats import Figure, Sample, print_figures

ATTENDEES: Final = [f"{i:08d}-0000-4000-8000-00000000000a" for i in range(10)]
EARLY: Final = 10
LATE: Final = 5_000
MEAN_WINDOW: Final = 200
FILL_BATCH: Final = 100
RATIO_GOAL: Final = 1.1
_CYCLE: Final = (
    ChimeEventType.VIDEO_STARTED,
    ChimeEventType.VIDEO_STOPPED,
    ChimeEventType.ATTENDEE_LEFT,
    ChimeEventType.ATTENDEE_JOINED,
)


@dataclass(frozen=True)
class Flatness:
    early: float
    late: float
    late_mean: float
    late_max: float


def event(number: int) -> ChimeEvent:
    """The meeting's event `number` (from 1)."""
    if number <= len(ATTENDEES):
        kind, attendee = ChimeEventType.ATTENDEE_JOINED, number - 1
    else:
        index = number - 1
        kind, attendee = _CYCLE[(index // len(ATTENDEES)) % len(_CYCLE)], index % len(ATTENDEES)
    at = T0 + number * 2_000
    return ChimeEvent(kind, MEETING_ID, at, ATTENDEES[attendee], f"user-{attendee}")


def _batches(first: int, last: int, size: int) -> Iterator[list[ChimeEvent]]:
    for start in range(first, last + 1, size):
        yield [event(n) for n in range(start, min(last, start + size - 1) + 1)]


def measure_units(late: int = LATE, window: int = MEAN_WINDOW) -> Flatness:
    with _table() as client:
        put_meeting(client, "long")
        for index, attendee_id in enumerate(ATTENDEES):
            # As the API records them when they join (the events then update them).
            attendee = AttendeeRecord(
                attendeeId=attendee_id,
                meetingId=MEETING_ID,
                userId=f"user-{index}",
                externalUserId=f"user-{index}",
                addedAt=T0,
            )
            client.put_item(TableName=TABLE_NAME, Item=attendee_to_item(attendee))
        reader = boto3.client("dynamodb", region_name="us-east-1")
        meter = CapacityMeter(reader, TABLE_NAME)
        service = ChimeEventService(
            ActivityTable(TABLE_NAME, client),
            MeetingTable(TABLE_NAME, client),
            clock=wall_clock_ms,
        )

        def alone(number: int) -> float:
            meter.take()
            service.apply(MEETING_ID, [event(number)])
            return sum(request.write_units for request in meter.take())

        service.apply(MEETING_ID, [event(n) for n in range(1, EARLY)])
        meter.attach(client)
        early = alone(EARLY)
        meter.detach_all()
        for batch in _batches(EARLY + 1, late - window, FILL_BATCH):
            service.apply(MEETING_ID, batch)
        meter.attach(client)
        units = [alone(n) for n in range(late - window + 1, late + 1)]
        meter.detach_all()
    return Flatness(early, units[-1], sum(units) / len(units), max(units))


def measure(late: int = LATE, window: int = MEAN_WINDOW) -> list[Figure]:
    result = measure_units(late, window)
    return [
        Figure(
            f"flat per event: write units of event #{late:,} vs #{EARLY}",
            Sample.of([result.late]),
            Sample.of([result.early]),
            " WCU",
            goal=f"ratio <= {RATIO_GOAL}",
            met=result.late <= RATIO_GOAL * result.early,
            notes={
                f"mean of events #{late - window + 1:,}..#{late:,} (compactions included)": round(
                    result.late_mean, 2
                ),
                f"largest single event of those {window:,}": result.late_max,
            },
        )
    ]


def main() -> None:
    print_figures(measure())


if __name__ == "__main__":
    main()
