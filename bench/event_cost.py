"""Figure 4 — event cost: Lambda invocations and DynamoDB requests of the events function per
Chime event and per meeting lifecycle, with the SQS batching of the deployed stack.

One lifecycle: the host creates a meeting and joins (join:true), nine users join, all ten
connect audio (three with video), the nine leave, the host ends the meeting. The emulator
emits Chime's events for it; each phase's events reach the events function before the next
phase starts, as they would in real time. The stack's event source takes batches of 10 with
no batching window: a quiet queue hands the function one event at a time, a burst up to ten.
Both are measured. The floor is one DynamoDB request per delivered event (the goal's line).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.backend import Backend, in_process_backend, quiet_stdout
from bench.stats import Figure, Sample
from local.lambda_runtime import LocalLambdaContext

ATTENDEES = 10
WITH_VIDEO = 3
SQS_BATCH_SIZE = 10  # infra/events.py: SqsEventSource(batch_size=10), no batching window
REQUESTS_PER_EVENT_GOAL = 1.0


def sqs_event(envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    """What the SQS event source mapping hands the function."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": json.dumps(envelope),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "awsRegion": "us-east-1",
            }
            for envelope in envelopes
        ]
    }


@dataclass
class Delivery:
    """Counts of one regime over one lifecycle."""

    batch_size: int
    events: int = 0
    invocations: int = 0
    requests: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)


def _deliver(backend: Backend, envelopes: list[dict[str, Any]], tally: Delivery) -> None:
    from meetings.handlers.events import handler  # noqa: PLC0415

    for start in range(0, len(envelopes), tally.batch_size):
        batch = envelopes[start : start + tally.batch_size]
        with backend.recorder.recording() as recorder, quiet_stdout():
            answer = handler(sqs_event(batch), LocalLambdaContext("meetings-bench-events"))
        if answer.get("batchItemFailures"):
            raise RuntimeError(f"the events function refused records: {answer}")
        calls = [call for call in recorder.calls if call.service == "dynamodb"]
        tally.events += len(batch)
        tally.invocations += 1
        tally.requests += len(calls)
        for call in calls:
            tally.by_operation[call.operation] = tally.by_operation.get(call.operation, 0) + 1


def lifecycle(backend: Backend, deliver: Callable[[list[dict[str, Any]]], None]) -> None:
    """One meeting from creation to its end, delivering each phase's events as they come."""
    received: list[dict[str, Any]] = []
    unsubscribe = backend.emulator.subscribe(received.append)

    def flush() -> None:
        pending = list(received)
        received.clear()
        deliver(pending)

    try:
        status, created = backend.api("POST", "/meetings", user="host", body={"join": True})
        if status != 201:
            raise RuntimeError(f"create failed: {status} {created}")
        meeting_id = created["meeting"]["meetingId"]
        attendees = [created["joinInfo"]["Attendee"]["AttendeeId"]]
        for index in range(1, ATTENDEES):
            _, joined = backend.api("POST", f"/meetings/{meeting_id}/attendees", user=f"u{index}")
            attendees.append(joined["Attendee"]["AttendeeId"])
        flush()
        for index, attendee_id in enumerate(attendees):
            backend.emulator.connect(meeting_id, attendee_id, video=index < WITH_VIDEO)
        flush()
        for attendee_id in attendees[1:]:
            backend.emulator.leave(meeting_id, attendee_id)
        flush()
        status, _ = backend.api("DELETE", f"/meetings/{meeting_id}", user="host")
        if status != 200:
            raise RuntimeError(f"end failed: {status}")
        flush()
    finally:
        unsubscribe()


def measure_regime(backend: Backend, batch_size: int) -> Delivery:
    tally = Delivery(batch_size)
    lifecycle(backend, lambda envelopes: _deliver(backend, envelopes, tally))
    return tally


def measure(runs: int = 3) -> list[Figure]:
    figures = []
    with in_process_backend() as backend:
        backend.count_clients()
        for batch_size, regime in (
            (1, "one event per invocation"),
            (SQS_BATCH_SIZE, "batches of 10"),
        ):
            tallies = [measure_regime(backend, batch_size) for _ in range(runs)]
            per_event = Sample.of([t.requests / t.events for t in tallies])
            floor = Sample.of([1.0 for _ in tallies])
            last = tallies[-1]
            figures.append(
                Figure(
                    f"event cost, DynamoDB requests per Chime event ({regime})",
                    per_event,
                    floor,
                    " req",
                    goal=f"<= {REQUESTS_PER_EVENT_GOAL:g} per event",
                    met=per_event.median <= REQUESTS_PER_EVENT_GOAL,
                    notes={
                        "events per lifecycle": last.events,
                        "invocations per lifecycle": last.invocations,
                        "DynamoDB requests per lifecycle": last.requests,
                        "requests by operation": last.by_operation,
                    },
                )
            )
    return figures
