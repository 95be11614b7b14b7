"""Figure 5 — cleanup scaling: DynamoDB items read by one scheduled cleanup run with 1k, 10k
and 100k ended meetings in the table besides 100 open ones. It must stay flat: the cleanup
reads the open meetings' due index only, never the ended ones (no scan). The floor is the
same run with no ended meeting at all. The index's shards are read a few items at a time and
merged (adapters/table/shards.py): a page re-reads the few items per shard the page before
read but did not take, so the count may differ from the floor's by a few items per shard
(where the runs' due instants fall), but not with the number of ended meetings.

The ended meetings are written straight into moto's in-process backend (`Table.put_item`),
not through `BatchWriteItem`: the items are the ones `meeting_to_item` builds, but skipping
the request round trip through botocore and moto's HTTP emulation makes 100k items take
seconds instead of a minute. The 100 open meetings are created through the API and the
emulator, as users would.
"""

from __future__ import annotations

import time
from typing import Any

from bench.backend import REGION, TABLE_NAME, Backend, in_process_backend, quiet_stdout
from bench.stats import Figure, Sample
from local.lambda_runtime import LocalLambdaContext

OPEN_MEETINGS = 100
SCALES = (1_000, 10_000, 100_000)
HOUR_MS = 3_600_000
FLAT_TOLERANCE = 0.05


def write_ended_meetings(first: int, count: int) -> None:
    from meetings.adapters.table.codec import meeting_to_item  # noqa: PLC0415
    from meetings.domain.records import EndReason, MeetingRecord, MeetingStatus  # noqa: PLC0415
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(TABLE_NAME)
    created = 1_700_000_000_000
    for index in range(first, first + count):
        record = MeetingRecord(
            meetingId=f"00000000-0000-4000-8000-{index:012d}",
            externalMeetingId=f"auto-ended-{index}",
            mediaRegion=REGION,
            hostUserId=f"user{index % 500}",
            createdAt=created + index,
            status=MeetingStatus.ENDED,
            endedAt=created + index + 600_000,
            endReason=EndReason.NO_AUDIO_5MIN,
            expiresAt=(created + index) // 1000 + 30 * 86_400,
        )
        table.put_item(meeting_to_item(record))


def run_cleanup(backend: Backend, now_ms: int) -> tuple[int, int, dict[str, Any]]:
    """One scheduled run at `now_ms`: (items read, requests, its summary)."""
    from meetings import wiring  # noqa: PLC0415
    from meetings.handlers import cleanup  # noqa: PLC0415

    container = wiring.container()
    wall_clock = container.clock
    container.clock = lambda: now_ms  # the container's clock: what every service decides by
    try:
        with backend.recorder.recording() as recorder, quiet_stdout():
            summary = cleanup.handler({}, LocalLambdaContext("meetings-bench-cleanup", 900.0))
    finally:
        container.clock = wall_clock
    calls = [call for call in recorder.calls if call.service == "dynamodb"]
    return sum(call.items_read for call in calls), len(calls), summary


def measure(scales: tuple[int, ...] = SCALES, open_meetings: int = OPEN_MEETINGS) -> list[Figure]:
    figures = []
    with in_process_backend(stream=False) as backend:
        backend.count_clients()
        for index in range(open_meetings):
            status, _ = backend.api("POST", "/meetings", user=f"host{index % 10}", body={})
            if status != 201:
                raise RuntimeError(f"creating open meeting {index} failed: {status}")
        # Each run happens an hour after the previous one, so every open meeting is due again.
        now = time.time_ns() // 1_000_000 + HOUR_MS
        floor_read, floor_requests, floor_summary = run_cleanup(backend, now)
        floor = Sample.of([floor_read])
        written = 0
        for scale in scales:
            write_ended_meetings(written, scale - written)
            written = scale
            now += HOUR_MS
            read, requests, summary = run_cleanup(backend, now)
            figures.append(
                Figure(
                    f"cleanup items read, {scale:,} ended + {open_meetings} open meetings",
                    Sample.of([read]),
                    floor,
                    " items",
                    goal="flat (within 5 % of no ended meeting)",
                    met=abs(read - floor_read) <= FLAT_TOLERANCE * floor_read,
                    notes={
                        "requests": requests,
                        "floor requests": floor_requests,
                        "summary": summary,
                        "floor summary": floor_summary,
                    },
                )
            )
    return figures
