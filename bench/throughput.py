"""Figure 6 — local stack throughput: joins per second with 16 concurrent clients over
loopback, with p50/p99 latency, against the floor of GET /health through the same gateway
and worker pool (the transport and process hand-off alone).

The stack runs as `make dev` runs it (LocalStack with ephemeral ports); the clients run in a
separate process so they do not share the stack's interpreter lock.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Final

from bench.stats import Figure, Sample

CLIENTS: Final = 16
JOIN_SECONDS: Final = 8.0
HEALTH_SECONDS: Final = 3.0
SINGLE_CLIENT_SECONDS: Final = 4.0


def _request(url: str, method: str, token: str | None, body: bytes | None) -> int:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()
        return int(answer.status)


def drive(targets: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """One thread per target, each sending its requests back to back for `seconds`.

    A target is {"url", "method", "token", "users": bool}; with users, each request joins as
    a new user (the target's url is then a template with `{n}`)."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(target: dict[str, Any]) -> None:
        count = 0
        while time.monotonic() < deadline:
            token = target["tokens"][count % len(target["tokens"])] if target["tokens"] else None
            started = time.perf_counter()
            try:
                status = _request(target["url"], target["method"], token, target.get("body"))
            except Exception as error:  # counted, not fatal: a figure, not a test
                with lock:
                    failures.append(repr(error))
                continue
            elapsed = time.perf_counter() - started
            with lock:
                if status < 300:
                    latencies.append(elapsed * 1000)
                else:
                    failures.append(str(status))
            count += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "latencies": latencies,
        "failures": failures[:5],
        "failed": len(failures),
        "seconds": time.monotonic() - started,
    }


def _in_other_process(targets: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result: dict[str, Any] = pool.submit(drive, targets, seconds).result(timeout=seconds + 120)
    return result


def _figure(
    title: str, joins: dict[str, Any], health: dict[str, Any], notes: dict[str, Any]
) -> Figure:
    measured, floor = Sample.of(joins["latencies"]), Sample.of(health["latencies"])
    return Figure(
        title,
        measured,
        floor,
        " ms",
        notes=notes
        | {
            "joins per second": round(len(joins["latencies"]) / joins["seconds"], 1),
            "join p50 ms": round(measured.quantile(0.5), 1),
            "join p99 ms": round(measured.quantile(0.99), 1),
            "health per second": round(len(health["latencies"]) / health["seconds"], 1),
            "health p50 ms": round(floor.quantile(0.5), 1),
            "health p99 ms": round(floor.quantile(0.99), 1),
            "failed requests": joins["failed"],
        },
    )


def measure(clients: int = CLIENTS, join_seconds: float = JOIN_SECONDS) -> list[Figure]:
    from local.stack import LocalStack, LocalStackConfig  # noqa: PLC0415

    config = LocalStackConfig(api_port=0, aws_port=0, chime_port=0, log_level="WARNING")
    with LocalStack(config) as stack:
        url = stack.api_url
        hosts = [stack.issuer.issue(f"host{i}") for i in range(clients)]
        meetings = []
        for token in hosts:
            body = _request_json(f"{url}/meetings", token, {})
            meetings.append(body["meeting"]["meetingId"])
        # Each client joins its own meeting as ever new users (a fresh attendee each time).
        per_client = 250
        joins = [
            {
                "url": f"{url}/meetings/{meeting_id}/attendees",
                "method": "POST",
                "tokens": [stack.issuer.issue(f"c{i}-u{n}") for n in range(per_client)],
            }
            for i, meeting_id in enumerate(meetings)
        ]
        health = [{"url": f"{url}/health", "method": "GET", "tokens": []} for _ in range(clients)]
        health_result = _in_other_process(health, HEALTH_SECONDS)
        join_result = _in_other_process(joins, join_seconds)
        # One client alone: the latency of a join when nothing else competes for the CPUs.
        single_health = _in_other_process(health[:1], SINGLE_CLIENT_SECONDS / 2)
        single = [joins[0] | {"tokens": joins[0]["tokens"][-60:]}]
        single_result = _in_other_process(single, SINGLE_CLIENT_SECONDS)
        notes = {"api workers": config.api_workers, "cpus": os.cpu_count()}
    return [
        _figure(
            f"local stack throughput, join latency ratio, {clients} clients (vs GET /health)",
            join_result,
            health_result,
            notes | {"clients": clients},
        ),
        _figure(
            "local stack throughput, join latency ratio, 1 client (vs GET /health)",
            single_result,
            single_health,
            notes | {"clients": 1},
        ),
    ]


def _request_json(url: str, token: str, body: Any) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())
