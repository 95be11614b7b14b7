"""Join rush: N users (250 by default) join one meeting within one second, through the local
stack (gateway, worker processes, moto, the Chime emulator), as at the start of a large meeting.

Reports the answers' status counts, the 5xx count, p50/p99 latency, and how many Chime
attendees were created and then deleted again (from the emulator's own event record, read
in-process: `chime:AttendeeDeleted` of a meeting that is still open). The goal: every join 201,
no 5xx, no attendee created and deleted.

When the local DynamoDB models transaction conflicts (`LocalStackConfig.transaction_in_flight_ms`),
the rush runs with them (`--in-flight-ms`, default 20). The clients run in a separate process
(threads released together at one instant), so they do not share the stack's interpreter lock.

Alone: `.venv/bin/python -m bench.join_rush [--users 250] [--workers 16] [--in-flight-ms 20]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Final

from bench.stats import Figure, Sample

USERS: Final = 250
API_WORKERS: Final = 16
IN_FLIGHT_MS: Final = 20.0
RUSH_SECONDS: Final = 1.0


def _join(url: str, token: str) -> tuple[int, float, str]:
    """(status, milliseconds, the error's code: ours, or the gateway's message)."""
    request = urllib.request.Request(
        url, data=b"", method="POST", headers={"authorization": f"Bearer {token}"}
    )
    started = time.perf_counter()
    kind = ""
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
            status = int(answer.status)
    except urllib.error.HTTPError as error:
        status = int(error.code)
        try:
            body = json.loads(error.read() or b"{}")
            kind = str((body.get("error") or {}).get("code") or body.get("message") or "")
        except ValueError:
            kind = "not JSON"
    except OSError as error:
        status, kind = 0, type(error).__name__  # no answer at all
    return status, (time.perf_counter() - started) * 1000, kind


def rush(url: str, tokens: list[str], seconds: float) -> dict[str, Any]:
    """One thread per user; user i starts at i/N of `seconds` after a common instant."""
    results: list[tuple[int, float, str]] = []
    lock = threading.Lock()
    start_at = time.monotonic() + 0.5
    spacing = seconds / max(1, len(tokens))

    def user(index: int, token: str) -> None:
        delay = start_at + index * spacing - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        outcome = _join(url, token)
        with lock:
            results.append(outcome)

    threads = [
        threading.Thread(target=user, args=(index, token)) for index, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"results": results, "sent_within_seconds": seconds}


def _read(request: urllib.request.Request) -> None:
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()


def _stack_config(workers: int, in_flight_ms: float | None) -> Any:
    from local.stack import LocalStackConfig  # noqa: PLC0415

    settings: dict[str, Any] = {
        "api_port": 0,
        "aws_port": 0,
        "chime_port": 0,
        "api_workers": workers,
        "events_workers": 1,
        "cleanup_every_seconds": 3600,
        "log_level": "WARNING",
    }
    known = {field.name for field in dataclasses.fields(LocalStackConfig)}
    if in_flight_ms is not None and "transaction_in_flight_ms" in known:
        settings["transaction_in_flight_ms"] = in_flight_ms
    return LocalStackConfig(**settings)


def created_then_deleted(stack: Any, meeting_id: str) -> int:
    """Attendees Chime deleted in a meeting still open: each was created and undone."""
    return sum(
        1
        for envelope in stack.chime.events
        if envelope["detail"]["eventType"] == "chime:AttendeeDeleted"
        and envelope["detail"]["meetingId"] == meeting_id
    )


def run(
    users: int = USERS, workers: int = API_WORKERS, in_flight_ms: float | None = IN_FLIGHT_MS
) -> dict[str, Any]:
    from local.stack import LocalStack  # noqa: PLC0415

    config = _stack_config(workers, in_flight_ms)
    with LocalStack(config) as stack:
        url = stack.api_url
        host = stack.issuer.issue("rush-host")
        request = urllib.request.Request(
            f"{url}/meetings",
            data=b"{}",
            method="POST",
            headers={"content-type": "application/json", "authorization": f"Bearer {host}"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            meeting_id = json.loads(answer.read())["meeting"]["meetingId"]
        # Warm every worker first (imports, clients): the rush measures joins, not cold starts.
        read = urllib.request.Request(
            f"{url}/meetings/{meeting_id}", headers={"authorization": f"Bearer {host}"}
        )
        warm = [threading.Thread(target=_read, args=(read,)) for _ in range(workers * 2)]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()
        tokens = [stack.issuer.issue(f"rush-user-{n}") for n in range(users)]
        join_url = f"{url}/meetings/{meeting_id}/attendees"
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            outcome = pool.submit(rush, join_url, tokens, RUSH_SECONDS).result(timeout=600)
        results = outcome["results"]
        statuses = Counter(status for status, _, _ in results)
        errors = Counter(f"{status} {kind}" for status, _, kind in results if status >= 300)
        live = len(stack.chime.open_meeting_ids() & {meeting_id})
        summary = {
            "users": users,
            "api workers": workers,
            "transaction in flight ms": getattr(config, "transaction_in_flight_ms", None),
            "status counts": dict(sorted(statuses.items())),
            "5xx": sum(count for status, count in statuses.items() if status >= 500),
            "errors": dict(errors),
            "p50 ms": round(Sample.of([ms for _, ms, _ in results]).quantile(0.5), 1),
            "p99 ms": round(Sample.of([ms for _, ms, _ in results]).quantile(0.99), 1),
            "created then deleted": created_then_deleted(stack, meeting_id),
            "meeting still open": bool(live),
            "cpus": os.cpu_count(),
        }
        summary["latencies"] = [ms for _, ms, _ in results]
    return summary


def measure(users: int = USERS) -> list[Figure]:
    summary = run(users=users)
    latencies = summary.pop("latencies")
    created = summary["status counts"].get(201, 0)
    met = created == users and summary["5xx"] == 0 and summary["created then deleted"] == 0
    return [
        Figure(
            f"join rush, {users} users within {RUSH_SECONDS:.0f} s, latency",
            Sample.of(latencies),
            Sample.of([min(latencies)]),
            " ms",
            goal=f"{users} x 201, no 5xx, nothing created then deleted",
            met=met,
            notes=summary,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.join_rush", description=__doc__)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--workers", type=int, default=API_WORKERS)
    parser.add_argument(
        "--in-flight-ms",
        type=float,
        default=IN_FLIGHT_MS,
        help="how long a local transaction stays in flight (when the stack models it)",
    )
    arguments = parser.parse_args()
    summary = run(arguments.users, arguments.workers, arguments.in_flight_ms)
    summary.pop("latencies")
    for key, value in summary.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
