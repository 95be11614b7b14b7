"""Webhook reliability: bad receivers, event chaos, and what the healthy receiver sees.

A local stack (127.0.0.1 only, `WEBHOOK_TARGETS=loopback`) with the retry schedule shortened
to seconds (`WEBHOOK_RETRY_BASE_SECONDS=1`, horizon 900 s) and several delivery batches at
once (as Lambda runs an SQS source). Loopback receivers, each registered for every event
type (`["*"]`):

- `healthy`: answers 204 at once;
- `fail-first`: 500 to the first two attempts of each `webhook-id`;
- `timeout`: holds the first attempt of each `webhook-id` past the 10-second bound;
- `flap`: 503 for `--flap-period` seconds, then up as long, for `--flap-seconds`;
- `gone`: 410 (→ disabled, and a `webhook.disabled` event).

Phase 1: `--meetings` meetings through their lifecycle (create with a join, connect, leave,
DELETE) with only a healthy receiver: its delivery latency without bad neighbours. Phase 2:
Chime event chaos on (`POST /_local/chaos`), every receiver above plus a fresh healthy one,
as many meetings again. Then, from the domain events the stack published
(`GET /_local/domain-events`): every one delivered at least once to every subscriber that
answers 2xx in the end, each delivery verified with `standardwebhooks`; repeats of a
`webhook-id` carry the same body; per-meeting sequences gap-free at the healthy receiver; the
410 receiver disabled; and the healthy receiver's latency (event's `occurredAt` → arrival).

    python -m bench.webhook_reliability --meetings 20 [--json]

`python -m bench --only webhook_reliability` runs it with these defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from bench.end_reason_accuracy import Http
from bench.environments import PROJECT_ROOT
from bench.stats import Figure, Sample

# Past the deliverer's 10-second bound: the attempt is a timeout.
HOLD_SECONDS: Final = 12.0
BAD_RECEIVERS: Final = ("fail-first", "timeout", "flap", "gone")


@dataclass(frozen=True)
class Options:
    meetings: int = 20
    drop_rate: float = 0.15
    duplicate_rate: float = 0.15
    reorder_window: int = 5
    seed: int = 20261202
    flap_seconds: float = 120.0
    flap_period: float = 20.0
    deadline_seconds: float = 900.0
    # Delivery batches handled at once on each lane (Lambda scales these out).
    delivery_workers: int = 4


@dataclass(frozen=True)
class Arrival:
    path: str
    headers: dict[str, str]
    body: str
    at: float  # epoch seconds, this machine's clock
    delivered: bool  # answered 2xx in time (not a held request the sender gave up on)


@dataclass
class Receivers:
    """One loopback HTTP server; the first path segment chooses the behaviour."""

    options: Options
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    flap_from: float = 0.0

    def answer(self, path: str, webhook_id: str) -> tuple[int, float]:
        """(status, seconds to hold first) for a request."""
        kind = path.strip("/").split("/")[0]
        with self.lock:
            attempt = 1 + sum(
                1 for a in self.arrivals if a.path == path and a.headers["webhook-id"] == webhook_id
            )  # this request included
        if kind == "gone":
            return 410, 0.0
        if kind == "fail-first":
            return (500 if attempt <= 2 else 200), 0.0
        if kind == "timeout":
            return 200, (HOLD_SECONDS if attempt <= 1 else 0.0)
        if kind == "flap":
            since = time.time() - self.flap_from
            flapping = since < self.options.flap_seconds
            down = flapping and int(since / self.options.flap_period) % 2 == 0
            return (503 if down else 200), 0.0
        return 204, 0.0

    def at(self, path: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path == path]


@contextmanager
def serving(receivers: Receivers) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
            headers = {name.lower(): value for name, value in self.headers.items()}
            arrived = time.time()
            status, hold = receivers.answer(self.path, headers.get("webhook-id", ""))
            delivered = 200 <= status < 300 and hold == 0
            with receivers.lock:
                receivers.arrivals.append(Arrival(self.path, headers, body, arrived, delivered))
            time.sleep(hold)  # the behaviour under test: a receiver that does not answer
            try:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender stopped waiting

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _lifecycle(http: Http, index: int, tag: str) -> str:
    host = http.token(f"webhook-bench-{tag}-{index}")
    created = http.ok("POST", "/meetings", {"join": True}, token=host)
    meeting_id = str(created["meeting"]["meetingId"])
    attendee = created["joinInfo"]["Attendee"]["AttendeeId"]
    media = f"/_local/meetings/{meeting_id}/attendees/{attendee}"
    http.ok("POST", f"{media}/connect", {"audio": True})
    http.ok("POST", f"{media}/leave")
    http.ok("DELETE", f"/meetings/{meeting_id}", token=host)
    return meeting_id


def _run_meetings(http: Http, count: int, tag: str) -> set[str]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return set(pool.map(lambda i: _lifecycle(http, i, tag), range(count)))


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Subscriber:
    name: str
    path: str
    webhook_id: str
    secret: str


def _subscribe(http: Http, admin: str, base: str, name: str, tag: str) -> Subscriber:
    path = f"/{name}/{tag}"
    answer = http.ok("POST", "/webhooks", {"url": base + path, "eventTypes": ["*"]}, token=admin)
    return Subscriber(name, path, answer["webhook"]["webhookId"], answer["secret"])


def _expected(http: Http, meetings: set[str], gone_id: str | None) -> dict[str, dict[str, Any]]:
    """The published domain events of these meetings (and the gone receiver's disabling), by
    event id."""
    published: dict[str, dict[str, Any]] = {}
    for event in http.ok("GET", "/_local/domain-events")["events"]:
        detail = event["detail"]
        ours = detail.get("meetingId") in meetings or (
            gone_id is not None and detail.get("webhookId") == gone_id
        )
        if ours:
            published[str(detail["eventId"])] = event
    return published


def _missing(receivers: Receivers, who: Subscriber, expected: dict[str, Any]) -> set[str]:
    got = {a.headers["webhook-id"] for a in receivers.at(who.path) if a.delivered}
    return set(expected) - got


def _wait_delivered(
    http: Http, receivers: Receivers, subscribers: list[Subscriber], meetings: set[str],
    gone_id: str | None, deadline: float,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Until every meeting's end was published, every subscriber has every published event,
    and nothing new was published for three looks in a row."""
    sizes: list[int] = []
    while True:
        expected = _expected(http, meetings, gone_id)
        details = [e["detail"] for e in expected.values() if e["detail-type"] == "meeting.ended"]
        ended = {detail["meetingId"] for detail in details}
        missing = sum(len(_missing(receivers, s, expected)) for s in subscribers)
        sizes = [*sizes[-2:], len(expected)]
        settled = ended >= meetings and len(sizes) == 3 and len(set(sizes)) == 1
        if (settled and missing == 0) or time.monotonic() > deadline:
            return expected
        time.sleep(2)


def _latencies(receivers: Receivers, who: Subscriber) -> list[float]:
    first: dict[str, Arrival] = {}
    for arrival in receivers.at(who.path):
        if arrival.delivered:
            first.setdefault(arrival.headers["webhook-id"], arrival)
    out = []
    for arrival in first.values():
        occurred = json.loads(arrival.body)["data"].get("occurredAt")
        if occurred:
            out.append((arrival.at - _epoch(occurred)) * 1000)
    return out


def _verify_all(receivers: Receivers, who: Subscriber) -> tuple[int, int]:
    """(verified, refused) deliveries: the stock library, this machine's clock."""
    verified = refused = 0
    for arrival in receivers.at(who.path):
        try:
            Webhook(who.secret).verify(arrival.body, arrival.headers)
            verified += 1
        except WebhookVerificationError:
            refused += 1
    return verified, refused


def _gaps(receivers: Receivers, who: Subscriber, expected: dict[str, dict[str, Any]]) -> int:
    """Meetings whose sequences at the receiver are not 1..n, n the events published."""
    published: dict[str, int] = defaultdict(int)
    for event in expected.values():
        if "meetingId" in event["detail"]:
            published[event["detail"]["meetingId"]] += 1
    seen: dict[str, set[int]] = defaultdict(set)
    for arrival in receivers.at(who.path):
        data = json.loads(arrival.body)["data"]
        if "sequence" in data:
            seen[data["meetingId"]].add(int(data["sequence"]))
    return sum(1 for m, n in published.items() if seen[m] != set(range(1, n + 1)))


def run(base_url: str, receivers: Receivers, options: Options) -> dict[str, Any]:
    http = Http(base_url)
    admin = http.ok("POST", "/_local/token", {"sub": "webhook-bench-admin", "groups": ["admins"],
                                              "ttlSeconds": 7 * 86_400})["token"]  # fmt: skip
    started = time.monotonic()
    deadline = started + options.deadline_seconds
    with serving(receivers) as base:
        alone = _subscribe(http, admin, base, "healthy", "alone")
        quiet = _run_meetings(http, options.meetings, "alone")
        _wait_delivered(http, receivers, [alone], quiet, None, deadline)
        http.ok("DELETE", f"/webhooks/{alone.webhook_id}", token=admin)

        receivers.flap_from = time.time()
        http.ok("POST", "/_local/chaos", {"dropRate": options.drop_rate,
                "duplicateRate": options.duplicate_rate, "reorderWindow": options.reorder_window,
                "seed": options.seed})  # fmt: skip
        names = ("healthy", *BAD_RECEIVERS)
        crowd = [_subscribe(http, admin, base, name, "crowd") for name in names]
        healthy, gone = crowd[0], crowd[-1]
        try:
            busy = _run_meetings(http, options.meetings, "crowd")
        finally:
            http.call("POST", "/_local/chaos", {})
        answering = crowd[:-1]
        expected = _wait_delivered(http, receivers, answering, busy, gone.webhook_id, deadline)
        gone_view = http.ok("GET", f"/webhooks/{gone.webhook_id}", token=admin)["webhook"]
        chaos = http.ok("GET", "/_local/chaos")["deliveries"]
    report: dict[str, Any] = {"events published": len(expected), "chaos": chaos, "receivers": {}}
    for who in answering:
        arrivals = receivers.at(who.path)
        verified, refused = _verify_all(receivers, who)
        bodies: dict[str, set[str]] = defaultdict(set)
        for arrival in arrivals:
            bodies[arrival.headers["webhook-id"]].add(arrival.body)
        report["receivers"][who.name] = {
            "requests": len(arrivals),
            "delivered (2xx in time)": sum(1 for a in arrivals if a.delivered),
            "distinct webhook-ids": len(bodies),
            "repeats": len(arrivals) - len(bodies),
            "repeats with another body": sum(1 for b in bodies.values() if len(b) > 1),
            "verified / refused": (verified, refused),
            "lost": len(_missing(receivers, who, expected)),
        }
    report["gone"] = {"requests": len(receivers.at(gone.path)), "enabled": gone_view["enabled"],
                      "disabledReason": gone_view["disabledReason"],
                      "webhook.disabled delivered to healthy": any(
                          json.loads(a.body)["type"] == "webhook.disabled"
                          for a in receivers.at(healthy.path))}  # fmt: skip
    report["sequence gaps at healthy (meetings)"] = _gaps(receivers, healthy, expected)
    report["latency alone ms"] = _latencies(receivers, alone)
    report["latency crowd ms"] = _latencies(receivers, healthy)
    report["seconds"] = round(time.monotonic() - started)
    return report


@contextmanager
def local_stack(delivery_workers: int) -> Iterator[str]:
    """A local stack on ephemeral loopback ports, retries in seconds, `delivery_workers`
    delivery batches at once on each lane; the functions' output goes to a scratch file."""
    from local.stack import LocalStack, LocalStackConfig  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="webhooks-") as scratch:
        config = LocalStackConfig(
            api_port=0, aws_port=0, chime_port=0, api_workers=4, events_workers=2,
            cleanup_every_seconds=3600, log_level="WARNING",
            webhook_delivery_workers=delivery_workers,
            worker_log_path=str(Path(scratch) / "functions.log"),
            extra_environment={"WEBHOOK_RETRY_BASE_SECONDS": "1",
                               "WEBHOOK_RETRY_HORIZON_SECONDS": "900"},
        )  # fmt: skip
        with LocalStack(config) as stack:
            yield stack.api_url


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    summary = {k: v for k, v in report.items() if not k.startswith("latency")}
    for phase in ("alone", "crowd"):
        sample = Sample.of(report[f"latency {phase} ms"] or [0.0])
        summary[f"healthy latency {phase} p50/p99 ms"] = (
            round(sample.quantile(0.5)), round(sample.quantile(0.99)),
        )  # fmt: skip
    return summary


def measure(**overrides: Any) -> list[Figure]:
    options = Options(**overrides)
    with local_stack(options.delivery_workers) as base_url:
        report = run(base_url, Receivers(options), options)
    notes = _summary(report)
    lost = sum(r["lost"] for r in report["receivers"].values())
    owed = report["events published"] * len(report["receivers"])
    crowd = Sample.of(report["latency crowd ms"] or [0.0])
    alone = Sample.of(report["latency alone ms"] or [0.0])
    return [
        Figure(
            f"webhook latency to a healthy receiver beside 4 bad ones, event chaos on "
            f"({options.meetings} meetings; vs alone)",
            crowd,
            alone,
            " ms",
            notes=notes,
        ),
        Figure(
            "webhook events delivered, every published event to every 2xx subscriber "
            "(vs events owed; 0 lost)",
            Sample.of([owed - lost]),
            Sample.of([owed]),
            "",
            goal="nothing lost",
            met=lost == 0,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhook_reliability", description=__doc__.split("\n\n")[0]
    )
    for option in dataclasses.fields(Options):  # --meetings, --drop-rate, ...
        flag = "--" + option.name.replace("_", "-")
        parser.add_argument(flag, type=type(option.default), default=option.default)
    parser.add_argument("--json", action="store_true", help="print the raw report as JSON")
    arguments = vars(parser.parse_args(argv))
    options = Options(**{f.name: arguments[f.name] for f in dataclasses.fields(Options)})
    # The functions run this checkout's code, as under `python -m bench` (bench/__main__.py).
    sys.path.insert(0, str(PROJECT_ROOT / "lambdas"))
    with local_stack(options.delivery_workers) as base_url:
        report = run(base_url, Receivers(options), options)
    shown = report if arguments["json"] else _summary(report)
    print(json.dumps(shown, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
