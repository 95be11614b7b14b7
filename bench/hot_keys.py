"""No hot key: the busiest partition keys of the table and of every index at 10,000 open
meetings and 100 creates a second (docs/performance.md, "No hot key").

    PYTHONPATH=lambdas:. .venv/bin/python -m bench.hot_keys

A simulation built on one measured meeting: bench/meeting_cost.py runs its one-hour lifecycle
through the real functions and records every DynamoDB request with its read and write units on
each partition key of the table and of each index (bench/capacity.py). That trace is then
replayed for many meetings over a window of WINDOW_SECONDS:
- 10,000 meetings already open, each somewhere in its hour (a uniformly drawn phase past its
  first minute, seeded), and
- 100 new meetings a second, each from its creation on.
Keys that name one meeting (its partition, its sequence counter, its room) or one host (each
meeting has its own host: the per-user cap keeps hosts many) stay that meeting's own; the open
indexes' partitions follow the meeting's shard (`OPEN#<n>`, from its id) or, before sharding,
are the one `OPEN`; other keys (the webhook subscriptions, recordings due) are shared by all.
Each meeting's cleanup reads are replayed as if its own Query (they share a run's pages), an
overestimate of the due index's reads. Per key and second: WCU and RCU, and the peak second.
DynamoDB sustains 1,000 WCU/s and 3,000 RCU/s on one partition.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from bench.capacity import Request
from bench.meeting_cost import run_lifecycle
from bench.stats import Figure, Sample, print_figures

OPEN_MEETINGS: Final = 10_000
CREATES_PER_SECOND: Final = 100
WINDOW_SECONDS: Final = 60
PARTITION_WCU: Final = 1_000
PARTITION_RCU: Final = 3_000
TOP: Final = 3
_PER_MEETING: Final = ("MEETING#", "SEQUENCE#", "ROOM#", "HOST#", "ACTIVITY#")


@dataclass(frozen=True)
class KeyLoad:
    target: str
    partition: str
    peak_wcu: float
    peak_rcu: float
    mean_wcu: float
    mean_rcu: float


def _shards() -> int:
    from meetings import deployment  # noqa: PLC0415

    return int(getattr(deployment, "OPEN_SHARDS", 1))


def _instance_key(partition: str, instance: int, shards: int) -> str:
    """The trace's key as the `instance`-th meeting of the simulation would have it."""
    if partition.startswith(_PER_MEETING):
        return f"{partition.split('#', maxsplit=1)[0]}#m{instance}"
    if partition.startswith("OPEN#"):
        digest = hashlib.blake2b(str(instance).encode(), digest_size=4).digest()
        return f"OPEN#{int.from_bytes(digest, 'big') % shards}"
    return partition


def _trace(requests: Iterable[Request]) -> dict[int, list[tuple[str, str, float, float]]]:
    """Second of the lifecycle → (target, partition, wcu, rcu) of the requests in it."""
    by_second: dict[int, list[tuple[str, str, float, float]]] = defaultdict(list)
    for request in requests:
        for unit in request.units:
            by_second[int(request.at)].append((unit.target, unit.partition, unit.write, unit.read))
    return by_second


def simulate(
    requests: list[Request],
    *,
    open_meetings: int = OPEN_MEETINGS,
    creates_per_second: int = CREATES_PER_SECOND,
    window: int = WINDOW_SECONDS,
    seed: int = 16,
) -> list[KeyLoad]:
    trace = _trace(requests)
    length = max(trace) + 1
    shards = _shards()
    rng = random.Random(seed)
    # (instance, the lifecycle second at the window's start)
    meetings = [(i, rng.randrange(60, length)) for i in range(open_meetings)]
    first_new = open_meetings
    for second in range(window):
        for k in range(creates_per_second):
            meetings.append((first_new + second * creates_per_second + k, -second))
    load: dict[tuple[str, str], list[list[float]]] = {}
    for instance, phase in meetings:
        for second in range(window):
            for target, partition, wcu, rcu in trace.get(phase + second, ()):
                key = (target, _instance_key(partition, instance, shards))
                seconds = load.setdefault(key, [[0.0, 0.0] for _ in range(window)])
                seconds[second][0] += wcu
                seconds[second][1] += rcu
    return [
        KeyLoad(
            target,
            partition,
            max(w for w, _ in seconds),
            max(r for _, r in seconds),
            sum(w for w, _ in seconds) / window,
            sum(r for _, r in seconds) / window,
        )
        for (target, partition), seconds in load.items()
    ]


def _share_of_partition(load: KeyLoad) -> float:
    return max(load.peak_wcu / PARTITION_WCU, load.peak_rcu / PARTITION_RCU)


def top_table(loads: list[KeyLoad], top: int = TOP) -> str:
    """The busiest keys of each target (by their peak's share of a partition), as a Markdown
    table."""
    lines = [
        "| table / index | partition key | peak WCU/s | peak RCU/s | mean WCU/s | mean RCU/s |",
        "|---|---|---|---|---|---|",
    ]
    by_target: dict[str, list[KeyLoad]] = defaultdict(list)
    for load in loads:
        by_target[load.target].append(load)
    for target in sorted(by_target):
        ranked = sorted(by_target[target], key=_share_of_partition, reverse=True)
        for load in ranked[:top]:
            lines.append(
                f"| {target} | {load.partition} | {load.peak_wcu:,.0f} | {load.peak_rcu:,.0f} "
                f"| {load.mean_wcu:,.0f} | {load.mean_rcu:,.0f} |"
            )
    return "\n".join(lines)


def measure(open_meetings: int = OPEN_MEETINGS, creates: int = CREATES_PER_SECOND) -> list[Figure]:
    requests = [r for r in run_lifecycle().requests if r.service == "dynamodb"]
    loads = simulate(requests, open_meetings=open_meetings, creates_per_second=creates)
    busiest_write = max(loads, key=lambda k: k.peak_wcu)
    busiest_read = max(loads, key=lambda k: k.peak_rcu)
    scenario = f"{open_meetings:,} open meetings, {creates} creates/s"
    return [
        Figure(
            f"hot key: busiest partition's peak WCU/s ({scenario})",
            Sample.of([busiest_write.peak_wcu]),
            Sample.of([PARTITION_WCU]),
            " WCU/s",
            goal=f"<= {PARTITION_WCU:,} per partition key",
            met=busiest_write.peak_wcu <= PARTITION_WCU,
            notes={
                "key": f"{busiest_write.target} {busiest_write.partition}",
                "open-index shards": _shards(),
                "top keys": "\n" + top_table(loads),
            },
        ),
        Figure(
            f"hot key: busiest partition's peak RCU/s ({scenario})",
            Sample.of([busiest_read.peak_rcu]),
            Sample.of([PARTITION_RCU]),
            " RCU/s",
            goal=f"<= {PARTITION_RCU:,} per partition key",
            met=busiest_read.peak_rcu <= PARTITION_RCU,
            notes={"key": f"{busiest_read.target} {busiest_read.partition}"},
        ),
    ]


def main() -> None:
    print_figures(measure())


if __name__ == "__main__":
    main()
