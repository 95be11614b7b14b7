"""The benchmarks' counting parts on tiny inputs (no timings are asserted anywhere)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import cleanup_scaling, cold_start, event_cost, roundtrips
from bench.calls import AwsCall, busy_seconds, items_read, sequential_depth
from bench.cold_start import import_breakdown
from bench.environments import PROJECT_ROOT
from bench.stats import Figure, Sample


def call(start: float, end: float, operation: str = "Query") -> AwsCall:
    return AwsCall("dynamodb", operation, start, end)


def test_overlapping_calls_count_once_in_the_depth() -> None:
    # A join: CreateAttendee alongside the read, then the write.
    calls = [call(0, 10, "CreateAttendee"), call(1, 5, "BatchGetItem"), call(11, 15)]
    assert sequential_depth(calls) == 2
    assert sequential_depth([call(0, 1), call(2, 3), call(4, 5), call(6, 7)]) == 4
    assert sequential_depth([]) == 0


def test_busy_time_merges_overlaps() -> None:
    assert busy_seconds([call(0, 4), call(2, 6), call(10, 11)]) == pytest.approx(7)


def test_items_read_per_operation() -> None:
    assert items_read("Query", {"Count": 2, "ScannedCount": 5}) == 5
    assert items_read("GetItem", {}) == 0
    assert items_read("BatchGetItem", {"Responses": {"t": [{}, {}], "u": [{}]}}) == 3


def test_sample_and_figure_line() -> None:
    figure = Figure("cleanup items read", Sample.of([3, 1, 2]), Sample.of([2]), " items")
    assert figure.ratio == 1.0 and "ratio 1.00x" in figure.line()
    assert Figure.from_dict(figure.as_dict()).line() == figure.line()


def test_import_breakdown_sums_own_time_per_package() -> None:
    log = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:      1000 |       1000 |     botocore.utils",
            "import time:      2000 |       3000 |   botocore",
            "import time:       500 |       3500 | boto3",
        ]
    )
    assert import_breakdown(log) == [("botocore", 3.0), ("boto3", 0.5)]


def test_round_trips_event_cost_and_cleanup_count_on_tiny_inputs() -> None:
    depth_figures = roundtrips.measure(runs=1, scenarios=roundtrips.SCENARIOS[:2])
    depths: dict[str, Any] = {f.title: f.measured.median for f in depth_figures}
    assert depths["round trip depth, demo backends' join (the floor)"] == 4
    # The attendee transaction, then its count on the meeting item (no hot item in it).
    assert depths["round trip depth, join (new attendee)"] == 3

    per_event = event_cost.measure(runs=1)
    assert all(f.notes["events per lifecycle"] > 20 for f in per_event)
    assert all(f.measured.median <= 1.0 for f in per_event)

    flat = cleanup_scaling.measure(scales=(50,), open_meetings=3)
    assert [f.measured.median for f in flat] == [flat[0].floor.median]


def test_index_copies_of_a_write_follow_the_index_keys() -> None:
    """bench/capacity.py: an index copy per index the item is in; a moved key is a delete
    and a put; an item in no index writes no copy."""
    from meetings import deployment  # noqa: PLC0415

    from bench.capacity import index_writes  # noqa: PLC0415

    def meeting(open_pk: str | None, padding: int = 0) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": "MEETING#m"},
            "sk": {"S": "MEETING"},
            deployment.HOST_INDEX_PK: {"S": "HOST#h"},
            deployment.HOST_INDEX_SK: {"S": "t#m"},
            "pad": {"S": "x" * padding},
        }
        if open_pk is not None:
            item |= {deployment.OPEN_INDEX_PK: {"S": open_pk}, deployment.OPEN_INDEX_SK: {"S": "t"}}
        return item

    grown = index_writes(meeting("OPEN#1"), meeting("OPEN#1", padding=1500))
    assert sorted((u.target, u.partition, u.write) for u in grown) == [
        (deployment.HOST_INDEX, "HOST#h", 2),
        (deployment.OPEN_INDEX, "OPEN#1", 2),
    ]
    moved = index_writes(meeting("OPEN"), meeting("OPEN#1"))
    assert sorted(u.partition for u in moved if u.target == deployment.OPEN_INDEX) == [
        "OPEN",
        "OPEN#1",
    ]
    ended = index_writes(meeting("OPEN#1"), meeting(None))
    assert [u.partition for u in ended if u.target == deployment.OPEN_INDEX] == ["OPEN#1"]
    assert index_writes({"pk": {"S": "ACTIVITY#m"}, "sk": {"S": "1"}}, None) == []


@pytest.mark.parametrize(("body", "status"), [(b"{}", 201), (b'{"unknown": 1}', 422)])
def test_the_contract_floor_serves_the_api_event_through_validation(
    tmp_path: Path, body: bytes, status: int
) -> None:
    """bench/cold_probe.py `contract`: the api's own first event reaches its route, and the
    body is validated (an unknown field is refused), so the floor times what the contract
    costs and not an error path."""
    event = cold_start.first_event("api", None) | {"body": body.decode()}
    environment = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PROJECT_ROOT / "lambdas")}
    result = cold_start.probe(
        sys.executable, "contract", {"clients": [], "event": event}, environment, tmp_path
    )
    assert result["answer"]["statusCode"] == status
