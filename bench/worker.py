"""Runs one figure in its own process: `python -m bench.worker <figure> <result.json> [quick]`.

Each figure gets a fresh interpreter, so moto's mocks, the environment and the functions'
cached clients of one figure never leak into another, and the functions' own stdout (logs,
metrics) stays out of the report.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from bench.stats import Figure


def _figures(name: str, quick: bool) -> list[Figure]:
    measures: dict[str, Callable[[], list[Figure]]] = {
        "cold_start": lambda: _module("cold_start").measure(runs=2 if quick else 5),
        "overhead": lambda: _module("overhead").measure(runs=20 if quick else 200),
        "roundtrips": lambda: _module("roundtrips").measure(runs=1 if quick else 3),
        "event_cost": lambda: _module("event_cost").measure(runs=1 if quick else 3),
        "cleanup_scaling": lambda: _module("cleanup_scaling").measure(
            scales=(100, 1_000) if quick else (1_000, 10_000, 100_000),
            open_meetings=10 if quick else 100,
        ),
        "meeting_cost": lambda: _module("meeting_cost").measure(),
        "hot_keys": lambda: _module("hot_keys").measure(),
        "event_flatness": lambda: _module("event_flatness").measure(
            late=500 if quick else 5_000, window=20 if quick else 200
        ),
        "throughput": lambda: _module("throughput").measure(join_seconds=3 if quick else 8),
        "join_rush": lambda: _module("join_rush").measure(users=60 if quick else 250),
        "asset": lambda: _module("asset").measure(),
        "end_reason_accuracy": lambda: _module("end_reason_accuracy").measure(
            meetings=40 if quick else 200
        ),
        "soak": lambda: _module("soak").measure(
            **({"meetings": 4, "attendees": 4, "minutes": 2} if quick else {})
        ),
        "webhook_reliability": lambda: _module("webhook_reliability").measure(
            meetings=6 if quick else 20, flap_seconds=30 if quick else 120
        ),
    }
    return measures[name]()


def _module(name: str) -> Any:
    return __import__(f"bench.{name}", fromlist=["measure"])


def main(argv: list[str]) -> None:
    name, result_path = argv[0], argv[1]
    quick = len(argv) > 2 and argv[2] == "quick"
    figures = _figures(name, quick)
    with open(result_path, "w") as file:
        json.dump([figure.as_dict() for figure in figures], file, default=str)


if __name__ == "__main__":
    main(sys.argv[1:])
