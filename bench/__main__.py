"""`python -m bench [--quick] [--only name,...]`: every figure, printed as it comes.

Figures (in order): cold_start, overhead, roundtrips, event_cost, cleanup_scaling,
meeting_cost (`python -m bench.meeting_cost`), hot_keys (`python -m bench.hot_keys`),
event_flatness (`python -m bench.event_flatness`), throughput, join_rush, asset, soak
(meetings churning under event chaos: lost updates, the events function's lag, each
function's memory; `python -m bench.soak --help`). They finish within `make bench`'s ten
minutes.

The reliability figures run only when named (`make bench-reliability`, tens of minutes):
end_reason_accuracy (precision and recall of the stated end reasons under event chaos;
`python -m bench.end_reason_accuracy --help` runs it alone with its arguments) and
webhook_reliability (bad receivers and event chaos: nothing lost, the healthy receiver's
latency; `python -m bench.webhook_reliability --help`).
Each runs in its own process (bench/worker.py); the results also land in
`.bench-cache/results.json` for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from bench.environments import CACHE_ROOT, PROJECT_ROOT
from bench.stats import Figure, print_figures

FIGURES: Final = (
    "cold_start",
    "overhead",
    "roundtrips",
    "event_cost",
    "cleanup_scaling",
    "meeting_cost",
    "hot_keys",
    "event_flatness",
    "throughput",
    "join_rush",
    "asset",
    "soak",
)
# Each waits for hundreds of meetings' events to pass the chaos and the functions.
RELIABILITY_FIGURES: Final = ("end_reason_accuracy", "webhook_reliability")
FIGURE_TIMEOUT_SECONDS: Final = 420
LONGER_TIMEOUTS: Final = {"end_reason_accuracy": 1800, "webhook_reliability": 1200}


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    paths = [str(PROJECT_ROOT / "lambdas"), str(PROJECT_ROOT)]
    if environment.get("PYTHONPATH"):
        paths.append(environment["PYTHONPATH"])
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    environment.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    return environment


def run_figure(name: str, quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        result = Path(scratch) / "result.json"
        command = [sys.executable, "-m", "bench.worker", name, str(result)]
        finished = subprocess.run(
            [*command, *(["quick"] if quick else [])],
            cwd=PROJECT_ROOT,
            env=_environment(),
            capture_output=True,
            text=True,
            check=False,
            timeout=LONGER_TIMEOUTS.get(name, FIGURE_TIMEOUT_SECONDS),
        )
        if finished.returncode != 0 or not result.exists():
            raise RuntimeError(f"{name} failed:\n{finished.stderr[-4000:]}")
        return [Figure.from_dict(data) for data in json.loads(result.read_text())]


def _save(results: dict[str, Any]) -> None:
    """Each figure's latest result: a run of some figures keeps the others' earlier ones."""
    path = CACHE_ROOT / "results.json"
    CACHE_ROOT.mkdir(exist_ok=True)
    saved = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps(saved | results, indent=1, default=str))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny inputs, for a smoke run")
    parser.add_argument("--only", default="", help="comma-separated figure names")
    arguments = parser.parse_args()
    wanted = [name for name in arguments.only.split(",") if name] or list(FIGURES)
    known = FIGURES + RELIABILITY_FIGURES
    unknown = set(wanted) - set(known)
    if unknown:
        parser.error(f"unknown figures {sorted(unknown)}; choose from {', '.join(known)}")
    started = time.monotonic()
    results: dict[str, Any] = {}
    failed = []
    for name in wanted:
        print(f"== {name}", flush=True)
        figure_started = time.monotonic()
        try:
            figures = run_figure(name, arguments.quick)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"   FAILED: {error}", flush=True)
            failed.append(name)
            continue
        print_figures(figures)
        print(f"   ({name}: {time.monotonic() - figure_started:.0f} s)")
        sys.stdout.flush()
        results[name] = [figure.as_dict() for figure in figures]
    _save(results)
    print(f"== done in {time.monotonic() - started:.0f} s; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
