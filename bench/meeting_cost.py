"""Cost per meeting: every AWS request of one typical meeting, its capacity units, and the $ per
1,000 meetings at list prices (docs/performance.md, "Cost per meeting").

    PYTHONPATH=lambdas:. .venv/bin/python -m bench.meeting_cost

One meeting of 10 attendees for one simulated hour, through the real functions in this process
(moto for DynamoDB, its stream and EventBridge; the Chime emulator), the Chime clock and the
functions' clock moved together:
- the host creates it with `join:true` and connects (t = 5 s); nine users join through the API
  10 s apart and connect 3 s later, three of the ten with video;
- churn: three drops each followed by a reconnection, six camera toggles;
- from t = 3,540 s the nine leave, 5 s apart; at t = 3,600 s the host ends the meeting;
- the cleanup runs every minute (claims and Chime lookups as the schedule makes them);
- after every step the table's stream goes to the publisher (batches of up to 100), its
  events to the webhook fanout (no subscription registered; batches of up to 10).
Each step's Chime events reach the events function as one SQS batch (a quiet queue hands the
function what arrived together).

Counted (bench/capacity.py): every request of the functions' DynamoDB, Chime and EventBridge
clients, with DynamoDB's read and write units; each invocation's duration (measured here,
moto's time included) and log bytes. Derived from those counts, not observed (moto has no
billing): SQS requests (EventBridge's SendMessage per message, the event source's receive and
delete per batch), API Gateway requests (one per API call), the rule deliveries. The demo
backends' design is modelled from its request counts (one PutItem or GetItem per create or
join, an EventBridge rule invoking a function that only logs each Chime event).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from bench.backend import REGION, TABLE_NAME, Backend, in_process_backend
from bench.capacity import READ_UNIT_BYTES, CapacityMeter, Request, by_operation
from bench.stats import Figure, Sample, print_figures
from local.lambda_runtime import LocalLambdaContext

ATTENDEES: Final = 10
WITH_VIDEO: Final = 3
MEETING_SECONDS: Final = 3_600
CLEANUP_EVERY_SECONDS: Final = 60
EVENTS_BATCH: Final = 10  # infra/events.py
PUBLISHER_BATCH: Final = 100  # infra/publisher.py
FANOUT_BATCH: Final = 10  # infra/webhooks.py
SQS_CHUNK_BYTES: Final = 65_536
# Lambda writes START, END and REPORT lines for every invocation besides the function's own.
PLATFORM_LOG_BYTES: Final = 350

# us-east-1 list prices (USD), on-demand, as published by AWS on its pricing pages in 2025
# (DynamoDB's on-demand prices of 2024-11-01). Check them before relying on the $ figures.
PRICES_DATE: Final = "2025 (DynamoDB on-demand: 2024-11-01)"
PRICES: Final[dict[str, float]] = {
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm": 0.0000133334,
    "eventbridge_custom_event": 1.00 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "http_api_request": 1.00 / 1e6,
    "cloudwatch_logs_gb": 0.50,
    "chime_attendee_minute": 0.0017,
}
GOAL_FRACTION: Final = 0.001  # the backend's own cost under 0.1 % of Chime's charge
# The demo design, modelled: its functions' memory (Lambda's default) and the logging
# handler's duration and log line (the event, as JSON) per Chime event.
DEMO_MEMORY_MB: Final = 128
DEMO_LOG_HANDLER_MS: Final = 5.0


@dataclass
class Invocation:
    function: str
    milliseconds: float
    log_bytes: int
    records: int = 0


@dataclass
class Tally:
    requests: list[Request] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    chime_events: int = 0
    chime_event_bytes: int = 0
    api_requests: int = 0
    domain_events: int = 0
    # The cleanup's own runs: shared by every open meeting, counted apart.
    cleanup_runs: list[Invocation] = field(default_factory=list)


def _memory_mb() -> dict[str, int]:
    from infra.function import FUNCTION_SIZES  # noqa: PLC0415 - the stack's own sizes

    return {name: size.memory_mb for name, size in FUNCTION_SIZES.items()}


@contextlib.contextmanager
def _captured_stdout() -> Iterator[io.StringIO]:
    """The invocation's log lines: the logger's own stream (bound when it was created) and
    stdout (the metrics' EMF lines)."""
    from meetings.observability import logger  # noqa: PLC0415

    buffer = io.StringIO()
    handler = logger.registered_handler
    stream = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        with contextlib.redirect_stdout(buffer), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield buffer
    finally:
        handler.setStream(stream)  # type: ignore[attr-defined]


def _invoke(
    tally: Tally,
    meter: CapacityMeter,
    function: str,
    handler: Callable[[Any, Any], Any],
    event: Any,
    records: int = 0,
) -> Any:
    calling, meter.function = meter.function, function
    with _captured_stdout() as logs:
        started = time.perf_counter()
        answer = handler(event, LocalLambdaContext(f"meetings-bench-{function}", 60.0))
        elapsed = (time.perf_counter() - started) * 1000
    meter.function = calling
    invocation = Invocation(function, elapsed, len(logs.getvalue().encode()), records)
    (tally.cleanup_runs if function == "cleanup" else tally.invocations).append(invocation)
    return answer


class Lifecycle:
    """The scenario, step by step on one simulated clock."""

    def __init__(self, backend: Backend, meter: CapacityMeter, tally: Tally) -> None:
        from meetings import wiring  # noqa: PLC0415

        self.backend = backend
        self.meter = meter
        self.tally = tally
        self.received: list[dict[str, Any]] = []
        self.unsubscribe = backend.emulator.subscribe(self.received.append)
        self.start_ms = backend.emulator.now_ms()
        self.elapsed = 0.0
        wiring.container().clock = lambda: self.start_ms + int(self.elapsed * 1000)
        self.next_cleanup = CLEANUP_EVERY_SECONDS
        self.sequence = 0

    def at(self, second: float) -> None:
        """Move both clocks to `second`, running the cleanup runs due on the way."""
        while self.next_cleanup <= second:
            self._advance(self.next_cleanup)
            self._cleanup()
            self.next_cleanup += CLEANUP_EVERY_SECONDS
        self._advance(second)

    def _advance(self, second: float) -> None:
        if second > self.elapsed:
            self.backend.emulator.advance(second - self.elapsed)
            self.elapsed = second
        self.meter.now = second

    def api(self, method: str, path: str, user: str, body: Any = None) -> Any:
        from meetings.handlers.api import handler  # noqa: PLC0415

        event = self.backend.api_event(method, path, user=user, body=body)
        answer = _invoke(self.tally, self.meter, "api", handler, event)
        self.tally.api_requests += 1
        status = int(answer["statusCode"])
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {answer.get('body')}")
        self.settle()
        return json.loads(answer["body"]) if answer.get("body") else None

    def settle(self) -> None:
        """Deliver what Chime emitted (one SQS batch per 10) and drain the stream."""
        from meetings.handlers.events import handler  # noqa: PLC0415

        from bench.event_cost import sqs_event  # noqa: PLC0415

        while self.received:
            batch = self.received[:EVENTS_BATCH]
            del self.received[:EVENTS_BATCH]  # the emulator appends to this very list
            self.tally.chime_events += len(batch)
            self.tally.chime_event_bytes += sum(len(json.dumps(e).encode()) for e in batch)
            answer = _invoke(
                self.tally, self.meter, "events", handler, sqs_event(batch), len(batch)
            )
            if answer.get("batchItemFailures"):
                raise RuntimeError(f"the events function refused records: {answer}")
        while changes := self.meter.take_changes(PUBLISHER_BATCH):
            self._publish({"Records": [self._stream_record(old, new) for old, new in changes]})

    def _stream_record(self, old: Any, new: Any) -> dict[str, Any]:
        """A change as the stream's event source hands it to the publisher."""
        self.sequence += 1
        image = new or old
        change: dict[str, Any] = {
            "Keys": {name: image[name] for name in ("pk", "sk")},
            "SequenceNumber": f"{self.sequence:021d}",
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if old is not None:
            change["OldImage"] = old
        if new is not None:
            change["NewImage"] = new
        return {
            "eventID": str(self.sequence),
            "eventName": "INSERT" if old is None else "REMOVE" if new is None else "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": change,
            "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE_NAME}/stream/x",
        }

    def _publish(self, event: dict[str, Any]) -> dict[str, Any]:
        from meetings.handlers.publisher import handler  # noqa: PLC0415

        records = len(event["Records"])
        before = len(self.meter.requests)
        answer: dict[str, Any] = _invoke(
            self.tally, self.meter, "publisher", handler, event, records
        )
        published = [
            entry
            for request in self.meter.requests[before:]
            if request.operation == "PutEvents"
            for entry in request.payload
        ]
        self.tally.domain_events += len(published)
        for start in range(0, len(published), FANOUT_BATCH):
            self._fan_out(published[start : start + FANOUT_BATCH])
        return answer

    def _fan_out(self, entries: list[dict[str, Any]]) -> None:
        from meetings.handlers.webhook_fanout import handler  # noqa: PLC0415

        records = [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": json.dumps(
                    {
                        "source": entry["Source"],
                        "detail-type": entry["DetailType"],
                        "time": "2026-01-01T00:00:00Z",
                        "detail": json.loads(entry["Detail"]),
                    }
                ),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "awsRegion": REGION,
            }
            for entry in entries
        ]
        _invoke(
            self.tally, self.meter, "webhook_fanout", handler, {"Records": records}, len(records)
        )

    def _cleanup(self) -> None:
        from meetings.handlers.cleanup import handler  # noqa: PLC0415

        _invoke(self.tally, self.meter, "cleanup", handler, {})
        self.settle()

    def connect(self, attendee_id: str, *, video: bool) -> None:
        self.backend.emulator.connect(self.meeting_id, attendee_id, video=video)
        self.settle()

    def run(self) -> None:
        created = self.api("POST", "/meetings", "host", {"join": True})
        self.meeting_id = created["meeting"]["meetingId"]
        attendees = [created["joinInfo"]["Attendee"]["AttendeeId"]]
        self.at(5)
        self.connect(attendees[0], video=True)
        for index in range(1, ATTENDEES):
            self.at(10 * index)
            joined = self.api("POST", f"/meetings/{self.meeting_id}/attendees", f"u{index}")
            attendees.append(joined["Attendee"]["AttendeeId"])
            self.at(10 * index + 3)
            self.connect(attendees[index], video=index < WITH_VIDEO)
        video = {index: index < WITH_VIDEO for index in range(ATTENDEES)}
        churn: list[tuple[int, str, int]] = [
            (600, "drop", 3), (620, "rejoin", 3), (900, "camera", 4), (1_200, "camera", 4),
            (1_500, "drop", 5), (1_530, "rejoin", 5), (1_800, "camera", 6), (2_100, "camera", 6),
            (2_400, "drop", 7), (2_410, "rejoin", 7), (2_700, "camera", 1), (3_000, "camera", 1),
        ]  # fmt: skip
        for second, what, index in churn:
            self.at(second)
            if what == "drop":
                self.backend.emulator.drop(self.meeting_id, attendees[index])
                self.settle()
                continue
            if what == "camera":
                video[index] = not video[index]
            self.connect(attendees[index], video=video[index])
        for index in range(1, ATTENDEES):
            self.at(MEETING_SECONDS - 65 + 5 * index)
            self.backend.emulator.leave(self.meeting_id, attendees[index])
            self.settle()
        self.at(MEETING_SECONDS)
        self.api("DELETE", f"/meetings/{self.meeting_id}", "host")
        # The end's stream records and settlement: two more cleanup runs.
        self.at(MEETING_SECONDS + 2 * CLEANUP_EVERY_SECONDS)
        self.unsubscribe()


# --- the bill --------------------------------------------------------------------------------


@dataclass
class Bill:
    """One meeting's requests, units and dollars, by service."""

    counts: dict[str, float]
    dollars: dict[str, float]
    requests_by_operation: dict[str, int]

    @property
    def total(self) -> float:
        return sum(self.dollars.values())


def _gb_seconds(invocations: list[Invocation], memory: dict[str, int]) -> float:
    return sum(math.ceil(i.milliseconds) / 1000 * memory[i.function] / 1024 for i in invocations)


def _is_cleanup_listing(request: Request) -> bool:
    return request.function == "cleanup" and request.operation == "Query"


def cleanup_listing_units(tally: Tally) -> tuple[int, float]:
    """The cleanup's listing queries over the lifecycle, and their read units: a cost of the
    schedule, paid once per run however many meetings are open."""
    listings = [r for r in tally.requests if _is_cleanup_listing(r)]
    return len(listings), sum(r.read_units for r in listings)


def bill(tally: Tally, memory: dict[str, int]) -> Bill:
    """The meeting's own share: everything it caused, except the cleanup's listing queries,
    of which it pays only its items' bytes (what one more open meeting adds to a run)."""
    dynamodb = [r for r in tally.requests if r.service == "dynamodb"]
    own = [r for r in dynamodb if not _is_cleanup_listing(r)]
    wcu = sum(r.write_units for r in dynamodb)
    listed_bytes = sum(
        unit.read_bytes for r in dynamodb if _is_cleanup_listing(r) for unit in r.units
    )
    rcu = sum(r.read_units for r in own) + listed_bytes / READ_UNIT_BYTES / 2
    entries = sum(r.entries for r in tally.requests if r.operation == "PutEvents")
    invocations = tally.invocations
    batches = Counter(i.function for i in invocations)
    # EventBridge's SendMessage per message (64 KB chunks), the event source's
    # ReceiveMessage and DeleteMessageBatch per batch handed over.
    chime_chunks = max(tally.chime_events, math.ceil(tally.chime_event_bytes / SQS_CHUNK_BYTES))
    sqs = chime_chunks + 2 * batches["events"] + tally.domain_events + 2 * batches["webhook_fanout"]
    log_bytes = sum(i.log_bytes + PLATFORM_LOG_BYTES for i in invocations)
    gb_seconds = _gb_seconds(invocations, memory)
    counts = {
        "DynamoDB requests (cleanup listings apart)": len(own),
        "DynamoDB write units": wcu,
        "DynamoDB read units": rcu,
        "Lambda invocations": len(invocations),
        "Lambda GB-seconds": gb_seconds,
        "EventBridge custom events": entries,
        "Chime events (default bus, free)": tally.chime_events,
        "SQS requests": sqs,
        "API Gateway requests": tally.api_requests,
        "log bytes": log_bytes,
    }
    dollars = {
        "DynamoDB": wcu * PRICES["dynamodb_write_unit"] + rcu * PRICES["dynamodb_read_unit"],
        "Lambda": len(invocations) * PRICES["lambda_request"]
        + gb_seconds * PRICES["lambda_gb_second_arm"],
        "EventBridge": entries * PRICES["eventbridge_custom_event"],
        "SQS": sqs * PRICES["sqs_request"],
        "API Gateway": tally.api_requests * PRICES["http_api_request"],
        "CloudWatch Logs": log_bytes / 1e9 * PRICES["cloudwatch_logs_gb"],
    }
    return Bill(counts, dollars, by_operation(tally.requests))


def demo_bill(tally: Tally, api_milliseconds: float) -> Bill:
    """The demo design for the same meeting, from its request counts (modelled)."""
    joins = ATTENDEES  # its join creates the meeting when the title has none
    api_calls = joins + 1  # and an end
    gets, puts, deletes = joins, 1, 1
    wcu, rcu = puts + deletes, gets * 0.5
    log_handler = tally.chime_events
    invocations = api_calls + log_handler
    gb_seconds = (
        (api_calls * math.ceil(api_milliseconds) + log_handler * DEMO_LOG_HANDLER_MS)
        / 1000
        * (DEMO_MEMORY_MB / 1024)
    )
    log_bytes = tally.chime_event_bytes + invocations * PLATFORM_LOG_BYTES
    counts = {
        "DynamoDB requests": gets + puts + deletes,
        "DynamoDB write units": wcu,
        "DynamoDB read units": rcu,
        "Lambda invocations": invocations,
        "Lambda GB-seconds": gb_seconds,
        "API Gateway requests": api_calls,
        "log bytes": log_bytes,
    }
    dollars = {
        "DynamoDB": wcu * PRICES["dynamodb_write_unit"] + rcu * PRICES["dynamodb_read_unit"],
        "Lambda": invocations * PRICES["lambda_request"]
        + gb_seconds * PRICES["lambda_gb_second_arm"],
        "API Gateway": api_calls * PRICES["http_api_request"],
        "CloudWatch Logs": log_bytes / 1e9 * PRICES["cloudwatch_logs_gb"],
    }
    return Bill(counts, dollars, {})


def units_by_kind(tally: Tally) -> dict[str, float]:
    """Write units by where they land: the table or an index, and the partition's kind (its
    key up to the first `#`)."""
    totals: dict[str, float] = {}
    for request in tally.requests:
        for unit in request.units:
            if unit.write:
                where = f"{unit.target} {unit.partition.split('#')[0]}"
                totals[where] = totals.get(where, 0.0) + unit.write
    return dict(sorted(totals.items(), key=lambda entry: -entry[1]))


def chime_charge() -> float:
    return ATTENDEES * MEETING_SECONDS / 60 * PRICES["chime_attendee_minute"]


def run_lifecycle() -> Tally:
    """One meeting through the functions, every request recorded (also bench/hot_keys.py)."""
    from meetings.adapters import aws_clients  # noqa: PLC0415

    tally = Tally()
    with in_process_backend(stream=False) as backend:
        import boto3  # noqa: PLC0415

        boto3.client("events", region_name=REGION).create_event_bus(Name="meetings-bench-bus")
        meter = CapacityMeter(backend.dynamodb, TABLE_NAME)
        for client in (
            aws_clients.dynamodb_client(),
            aws_clients.chime_client(),
            aws_clients.events_client(),
        ):
            meter.attach(client)
        try:
            Lifecycle(backend, meter, tally).run()
        finally:
            meter.detach_all()
        tally.requests = meter.take()
    return tally


def measure(runs: int = 1) -> list[Figure]:
    memory = _memory_mb()
    bills, demos, tallies = [], [], []
    for _ in range(runs):
        tally = run_lifecycle()
        api_ms = sorted(i.milliseconds for i in tally.invocations if i.function == "api")
        tallies.append(tally)
        bills.append(bill(tally, memory))
        demos.append(demo_bill(tally, api_ms[len(api_ms) // 2]))
    per_thousand = Sample.of([b.total * 1000 for b in bills])
    demo_per_thousand = Sample.of([d.total * 1000 for d in demos])
    chime = chime_charge() * 1000
    last, demo, tally = bills[-1], demos[-1], tallies[-1]
    cleanup_gb_s = _gb_seconds(tally.cleanup_runs, memory)
    cleanup_hour = 3600 // CLEANUP_EVERY_SECONDS
    runs = max(1, len(tally.cleanup_runs))
    per_run = cleanup_gb_s / runs
    listings, listing_units = cleanup_listing_units(tally)
    fixed_month = (
        730
        * cleanup_hour
        * (
            PRICES["lambda_request"]
            + per_run * PRICES["lambda_gb_second_arm"]
            + listing_units / runs * PRICES["dynamodb_read_unit"]
        )
    )
    return [
        Figure(
            "cost per 1,000 meetings (10 attendees, 1 h), backend's own AWS cost",
            per_thousand,
            Sample.of([chime * GOAL_FRACTION]),
            " $",
            goal=f"< 0.1 % of Chime's ${chime:,.0f} = ${chime * GOAL_FRACTION:.2f}",
            met=per_thousand.median < chime * GOAL_FRACTION,
            notes={
                "prices": f"us-east-1 list, {PRICES_DATE}: {PRICES}",
                "Chime per 1,000 meetings": f"${chime:,.2f} (not in the figure)",
                "fraction of Chime's charge": f"{per_thousand.median / chime:.4%}",
                "per meeting, counts": {k: round(v, 2) for k, v in last.counts.items()},
                "per 1,000 meetings, $ by service": {
                    k: round(v * 1000, 4) for k, v in last.dollars.items()
                },
                "requests by operation": last.requests_by_operation,
                "DynamoDB write units by table or index and key kind": units_by_kind(tally),
                "invocations by function": dict(Counter(i.function for i in tally.invocations)),
                "cleanup schedule (shared, not per meeting)": (
                    f"{cleanup_hour} runs/h, {per_run:.4f} GB-s and {listings / runs:.0f} "
                    f"listing queries ({listing_units / runs:.1f} RCU) each: "
                    f"${fixed_month:.2f}/month"
                ),
            },
        ),
        Figure(
            "cost per 1,000 meetings, demo backends' design (modelled from its request counts)",
            demo_per_thousand,
            per_thousand,
            " $",
            goal="for comparison (ratio: demo / this backend)",
            met=True,
            notes={
                "per meeting, counts": {k: round(v, 2) for k, v in demo.counts.items()},
                "per 1,000 meetings, $ by service": {
                    k: round(v * 1000, 4) for k, v in demo.dollars.items()
                },
            },
        ),
    ]


def main() -> None:
    print_figures(measure())


if __name__ == "__main__":
    main()
