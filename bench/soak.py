"""Soak: many meetings whose attendees keep connecting, leaving and dropping, under event chaos,
on the local stack with the world clock accelerated; then nothing may be lost.

A local stack (127.0.0.1 only) runs `--meetings` meetings of `--attendees` users each. Every
host creates its meeting with `join: true`, the others join through the API, and all connect
(the local control routes stand in for the clients). Then `--minutes` of world time pass in
ticks of `--tick-seconds` (`POST /_local/clock/advance`); in every tick each attendee but the
host (who stays, so that no auto-end rule ends a meeting) changes state with probability
`--churn`: a connected one leaves or drops, a gone one connects again. Actions run in waves
of `--wave`, each (and the next tick) once the previous wave's events are off the queue.
Event chaos is on the whole time (`POST /_local/chaos`: drops, duplicates, reorders). At the
end the hosts end half of the meetings; the events drain, chaos stops, the clock passes the
settle window and the cleanup runs with a full reconciliation.

Reported, each against its goal:

- **lost updates**: every meeting's status (`GET /meetings/{id}`) against the emulator's
  (`GET /_local/truth/meetings/{id}`), every attendee's presence (the roster) against its last
  presence event in the emulator's record (`GET /_local/events`: AttendeeJoined → CONNECTED,
  AttendeeLeft → LEFT, AttendeeDropped → DROPPED; in an ended meeting, not CONNECTED), and
  each open meeting's `attendees.connected` against the truth's count. An attendee whose last
  event chaos dropped for good (`GET /_local/chaos` `lost`) cannot be known to the backend: it
  is counted apart ("unobservable"), not as lost. Goal: 0.
- **events-handler lag**: for each Chime event, from the emulator handing it to the bus to
  the end of the first events-function invocation that accepted it (real time), p50 and p99;
  the floor is the events function's own time per invocation.
- **memory**: every local Lambda function's worker processes are sampled (`VmRSS` and the
  peak `VmHWM` from /proc) while the run lasts; per function the mean RSS of the last quarter
  of the samples against the first quarter (goal: flat, <= 1.10x) and its peak against the
  memory the stack gives that function (infra/function.py).

    python -m bench.soak                       # the quick default (the `make bench` run)
    python -m bench.soak --meetings 100 --tick-seconds 30   # the full soak
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from bench.end_reason_accuracy import Http, bench_stack, queued_events
from bench.stats import Figure, Sample

PRESENCE_OF_EVENT: Final = {
    "chime:AttendeeJoined": "CONNECTED",
    "chime:AttendeeLeft": "LEFT",
    "chime:AttendeeDropped": "DROPPED",
}
FLAT_GOAL: Final = 1.10
SETTLE_SECONDS: Final = 121  # past the functions' default end settle window (docs/events.md)


@dataclass(frozen=True)
class Options:
    meetings: int = 100
    attendees: int = 10
    minutes: float = 10.0
    tick_seconds: float = 30.0
    churn: float = 0.25  # chance that a non-host attendee changes state in a tick
    drop_rate: float = 0.1
    duplicate_rate: float = 0.1
    reorder_window: int = 5
    seed: int = 20261202
    clients: int = 8  # client threads driving the API and the control routes
    sample_seconds: float = 0.5
    quiet_seconds: float = 4.0
    quiet_timeout: float = 300.0
    drain_timeout: float = 60.0  # per wave of actions, for its events to go through
    wave: int = 100  # actions at most between two waits for the events to drain


# What `make bench` runs (the module doc's full scale is `--meetings 100 --tick-seconds 30`).
QUICK: Final = Options(
    meetings=8, attendees=10, minutes=10.0, tick_seconds=120.0, quiet_seconds=3.0
)


@dataclass
class Attendee:
    user_id: str
    token: str
    attendee_id: str = ""
    connected: bool = False


@dataclass
class Meeting:
    meeting_id: str
    host: Attendee
    others: list[Attendee] = field(default_factory=list)
    ended: bool = False


# --- what the functions do, seen from the outside -----------------------------------------------
class MemorySampler:
    """Samples VmRSS of every worker of every local function; keeps each worker's VmHWM."""

    def __init__(self, pids: Callable[[], dict[str, list[int]]], every: float) -> None:
        self._pids = pids
        self._every = every
        # function → pid → (monotonic seconds, RSS MB)
        self.samples: dict[str, dict[int, list[tuple[float, float]]]] = {}
        self.peaks: dict[str, dict[int, float]] = {}  # function → pid → VmHWM MB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            for function, pids in self._pids().items():
                for pid in pids:
                    status = _proc_status(pid)
                    if status:
                        self.samples.setdefault(function, {}).setdefault(pid, []).append(
                            (time.monotonic(), status["VmRSS"])
                        )
                        self.peaks.setdefault(function, {})[pid] = status["VmHWM"]


def _proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB (empty once it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0]) / 1024
    return values if len(values) == 2 else {}


class LagRecorder:
    """When the emulator handed each Chime event to the bus, and when the events function first
    accepted it (both real time, monotonic)."""

    def __init__(self) -> None:
        self.emitted: dict[tuple[Any, ...], float] = {}
        self.handled: dict[tuple[Any, ...], float] = {}
        self.invocation_ms: list[float] = []
        self._lock = threading.Lock()

    def deliver(self, envelopes: Sequence[dict[str, Any]]) -> None:  # an emulator EventSink
        now = time.monotonic()
        with self._lock:
            for envelope in envelopes:
                self.emitted.setdefault(_event_key(envelope["detail"]), now)

    def wrap(self, invoke: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
        def timed(event: dict[str, Any]) -> Any:
            started = time.monotonic()
            result = invoke(event)
            finished = time.monotonic()
            failed = {
                item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])
            }
            with self._lock:
                self.invocation_ms.append((finished - started) * 1000)
                for record in event["Records"]:
                    if record["messageId"] not in failed:
                        key = _event_key(_json(record["body"])["detail"])
                        self.handled.setdefault(key, finished)
            return result

        return timed

    def lags_ms(self) -> list[float]:
        with self._lock:
            return [
                (self.handled[key] - emitted) * 1000
                for key, emitted in self.emitted.items()
                if key in self.handled
            ]


def _json(text: str) -> Any:
    import json  # noqa: PLC0415 - only here

    return json.loads(text)


def _event_key(detail: dict[str, Any]) -> tuple[Any, ...]:
    return (
        detail.get("eventType"),
        detail.get("meetingId"),
        detail.get("attendeeId"),
        detail.get("timestamp"),
    )


# --- the run ------------------------------------------------------------------------------------
class Soak:
    def __init__(self, http: Http, options: Options, progress: Callable[[str], None]) -> None:
        self.http = http
        self.options = options
        self.progress = progress
        self.rng = random.Random(options.seed)
        self.pool = ThreadPoolExecutor(max_workers=options.clients, thread_name_prefix="soak")
        self.meetings: list[Meeting] = []
        self.actions = 0

    def _all(self, actions: list[Callable[[], None]], pending: Callable[[], int]) -> bool:
        """Run the actions on the client threads in waves of `wave` at most, each once the
        previous wave's events are off the queue (bounded); whether the last wave drained.

        The emulator hands events to the bus from the thread of whichever control request
        holds its outbox, until the outbox is empty: a burst of a thousand connects on a busy
        machine keeps one request draining for minutes (past the client's timeout)."""
        drained = True
        for start in range(0, len(actions), self.options.wave):
            wave = actions[start : start + self.options.wave]
            for future in [self.pool.submit(action) for action in wave]:
                future.result()
            drained = _wait(lambda: pending() == 0, self.options.drain_timeout)
        self.actions += len(actions)
        return drained

    def open_meetings(self, pending: Callable[[], int]) -> None:
        tag = f"{self.options.seed}-{time.monotonic_ns() % 10**9}"

        def open_one(index: int) -> Meeting:
            host = Attendee(f"soak-{tag}-{index}-0", self.http.token(f"soak-{tag}-{index}-0"))
            created = self.http.ok("POST", "/meetings", {"join": True}, host.token)
            host.attendee_id = created["joinInfo"]["Attendee"]["AttendeeId"]
            meeting = Meeting(created["meeting"]["meetingId"], host)
            for seat in range(1, self.options.attendees):
                user = f"soak-{tag}-{index}-{seat}"
                attendee = Attendee(user, self.http.token(user))
                path = f"/meetings/{meeting.meeting_id}/attendees"
                joined = self.http.ok("POST", path, {}, attendee.token)
                attendee.attendee_id = joined["Attendee"]["AttendeeId"]
                meeting.others.append(attendee)
            return meeting

        self.meetings = list(self.pool.map(open_one, range(self.options.meetings)))
        self._all(
            [
                self._connector(meeting, attendee)
                for meeting in self.meetings
                for attendee in [meeting.host, *meeting.others]
            ],
            pending,
        )

    def _media(self, meeting: Meeting, attendee: Attendee, action: str) -> None:
        path = f"/_local/meetings/{meeting.meeting_id}/attendees/{attendee.attendee_id}/{action}"
        self.http.ok("POST", path, {"audio": True} if action == "connect" else {})

    def _connector(self, meeting: Meeting, attendee: Attendee) -> Callable[[], None]:
        def connect() -> None:
            self._media(meeting, attendee, "connect")
            attendee.connected = True

        return connect

    def _leaver(self, meeting: Meeting, attendee: Attendee, action: str) -> Callable[[], None]:
        def leave() -> None:
            self._media(meeting, attendee, action)
            attendee.connected = False

        return leave

    def churn(self, pending: Callable[[], int]) -> None:
        ticks = round(self.options.minutes * 60 / self.options.tick_seconds)
        for tick in range(ticks):
            self.http.advance_ms(round(self.options.tick_seconds * 1000))
            actions = []
            for meeting in self.meetings:
                for attendee in meeting.others:
                    if self.rng.random() >= self.options.churn:
                        continue
                    if attendee.connected:
                        action = "drop" if self.rng.random() < 0.3 else "leave"
                        actions.append(self._leaver(meeting, attendee, action))
                    else:
                        actions.append(self._connector(meeting, attendee))
            # The next tick once this one's events are through: the functions keep up, so
            # the lag is a tick's burst, not a backlog that only grows on a busy machine.
            drained = self._all(actions, pending)
            self.progress(f"tick {tick + 1}/{ticks}: {len(actions)} changes, drained {drained}")

    def end_half(self, pending: Callable[[], int]) -> None:
        def end(meeting: Meeting) -> None:
            self.http.ok("DELETE", f"/meetings/{meeting.meeting_id}", token=meeting.host.token)
            meeting.ended = True

        self._all([lambda m=m: end(m) for m in self.meetings[::2]], pending)  # type: ignore[misc]

    def quiet(self, pending: Callable[[], int]) -> None:
        started = time.monotonic()
        last, since = self.http.deliveries(), started
        while time.monotonic() - started < self.options.quiet_timeout:
            time.sleep(0.5)
            now = self.http.deliveries()
            if now != last or pending() > 0:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= self.options.quiet_seconds:
                return
        self.progress("events still moving at the quiet timeout; reading anyway")

    def reconcile(self, pending: Callable[[], int]) -> None:
        self.quiet(pending)
        self.http.call("POST", "/_local/chaos", {})
        self.http.advance_ms(SETTLE_SECONDS * 1000)
        self.http.cleanup({})
        for _ in range(5):
            if self.http.cleanup({"reconcile": "all"}).get("complete", True):
                break
        self.quiet(pending)
        self.http.cleanup({})


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@dataclass
class Check:
    records: int = 0  # meeting statuses, presences and connected counts compared
    lost: list[str] = field(default_factory=list)
    unobservable: int = 0


def compare(http: Http, meetings: list[Meeting]) -> Check:
    """The backend's records against the emulator's truth (see the module doc)."""
    last_presence: dict[str, tuple[int, str, tuple[Any, ...]]] = {}
    for envelope in http.ok("GET", "/_local/events")["events"]:
        detail = envelope["detail"]
        presence = PRESENCE_OF_EVENT.get(detail.get("eventType"))
        if presence is None:
            continue
        seen = last_presence.get(detail["attendeeId"])
        if seen is None or detail["timestamp"] >= seen[0]:
            last_presence[detail["attendeeId"]] = (
                detail["timestamp"],
                presence,
                _event_key(detail),
            )
    lost_keys = {_event_key(event) for event in http.ok("GET", "/_local/chaos")["lost"]}
    check = Check()
    for meeting in meetings:
        view = http.ok("GET", f"/meetings/{meeting.meeting_id}", token=meeting.host.token)
        truth = http.ok("GET", f"/_local/truth/meetings/{meeting.meeting_id}")
        ended = truth["status"] == "ENDED"
        check.records += 1
        if (view["meeting"]["status"] == "ENDED") != ended:
            check.lost.append(f"{meeting.meeting_id}: status {view['meeting']['status']}")
        path = f"/meetings/{meeting.meeting_id}/attendees?limit=100"
        roster = http.ok("GET", path, token=meeting.host.token)["attendees"]
        connected_truth = 0
        for row in roster:
            timestamp_presence_key = last_presence.get(row["attendeeId"])
            if timestamp_presence_key is None:
                continue
            _, expected, key = timestamp_presence_key
            connected_truth += expected == "CONNECTED" and not ended
            if key in lost_keys:
                check.unobservable += 1
                continue
            check.records += 1
            fine = row["presence"] != "CONNECTED" if ended else row["presence"] == expected
            if not fine:
                check.lost.append(f"{row['attendeeId']}: {row['presence']}, Chime {expected}")
        if not ended and not any(
            last_presence.get(r["attendeeId"], (0, "", ()))[2] in lost_keys for r in roster
        ):
            check.records += 1
            if view["meeting"]["attendees"]["connected"] != connected_truth:
                check.lost.append(f"{meeting.meeting_id}: connected count")
    return check


# --- figures ------------------------------------------------------------------------------------
def _quarters(values: list[float]) -> tuple[list[float], list[float]]:
    quarter = max(1, len(values) // 4)
    return values[:quarter], values[-quarter:]


def memory_figures(sampler: MemorySampler, churn: tuple[float, float]) -> list[Figure]:
    """Per function: RSS flat over the churn (the workers are warm by then: every function
    ran while the meetings opened), and the peak against the function's Lambda memory."""
    from meetings.deployment import FUNCTION_MEMORY_MB  # noqa: PLC0415

    figures = []
    for function in sorted(sampler.samples):
        during = {
            pid: [rss for at, rss in series if churn[0] <= at <= churn[1]]
            for pid, series in sampler.samples[function].items()
        }
        # The worker whose RSS grew most stands for the function.
        first, last = max(
            (_quarters(series) for series in during.values() if series),
            key=lambda pair: Sample.of(pair[1]).median / Sample.of(pair[0]).median,
        )
        growth = Figure(
            f"soak memory flat, {function}: RSS last vs first quarter of the churn",
            Sample.of(last),
            Sample.of(first),
            " MB",
            goal=f"ratio <= {FLAT_GOAL}",
            met=Sample.of(last).median / Sample.of(first).median <= FLAT_GOAL,
            notes={"workers": len(during), "samples per worker": max(map(len, during.values()))},
        )
        peaks = list(sampler.peaks[function].values())
        configured = FUNCTION_MEMORY_MB[function]
        peak = Figure(
            f"memory sizing, {function}: peak RSS (VmHWM) in the soak vs its Lambda memory",
            Sample.of(peaks),
            Sample.of([configured]),
            " MB",
            goal="ratio <= 0.5 (headroom for Lambda's runtime and bigger payloads)",
            met=max(peaks) <= configured / 2,
            notes={"peak MB per worker": [round(p, 1) for p in peaks]},
        )
        figures += [growth, peak]
    return figures


def measure(
    quick: bool = True, progress: Callable[[str], None] | None = None, **overrides: Any
) -> list[Figure]:
    """`make bench`'s soak figures (the quick default unless `quick=False`)."""
    options = replace(QUICK if quick else Options(), **overrides)
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    started = time.monotonic()
    lag = LagRecorder()
    # The cleanup on the deployed schedule's period: it runs as the clock ticks through the churn.
    with bench_stack("soak-", cleanup_every_seconds=60, log_level="ERROR") as stack:
        stack.chime.add_sink(lag)
        stack.events_poller.invoke = lag.wrap(stack.events_poller.invoke)
        http = Http(stack.api_url)
        pending = queued_events(stack)
        soak = Soak(http, options, say)
        chaos = {
            "dropRate": options.drop_rate,
            "duplicateRate": options.duplicate_rate,
            "reorderWindow": options.reorder_window,
            "seed": options.seed,
        }
        with MemorySampler(stack.function_pids, options.sample_seconds) as sampler:
            http.ok("POST", "/_local/chaos", chaos)
            try:
                soak.open_meetings(pending)
                say(f"{len(soak.meetings)} meetings open, everyone connected")
                churn_started = time.monotonic()
                soak.churn(pending)
                churn = (churn_started, time.monotonic())
                soak.end_half(pending)
                soak.reconcile(pending)
            finally:
                http.call("POST", "/_local/chaos", {})
                soak.pool.shutdown()
        check = compare(http, soak.meetings)
        deliveries = http.deliveries()
    for line in check.lost[:20]:
        say(f"lost: {line}")
    lags = lag.lags_ms()
    scale = f"{options.meetings} meetings x {options.attendees} attendees, {options.minutes:g} min"
    notes = {
        "actions (joins, connects, leaves, drops, ends)": soak.actions,
        "deliveries to the events function": deliveries,
        "unobservable (last event lost for good by chaos)": check.unobservable,
        "seconds": round(time.monotonic() - started),
    }
    return [
        Figure(
            f"soak lost updates after reconciliation, {scale} (records compared as floor)",
            Sample.of([len(check.lost)]),
            Sample.of([check.records]),
            "",
            goal="0 lost",
            met=not check.lost,
            notes=notes,
        ),
        Figure(
            "soak events-handler lag p50, Chime event -> accepted by the events function "
            "(floor: one invocation's own time)",
            Sample.of([Sample.of(lags).median]),
            Sample.of(lag.invocation_ms),
            " ms",
            notes={"events timed": len(lags), "p99 ms": round(Sample.of(lags).quantile(0.99), 1)},
        ),
        Figure(
            "soak events-handler lag p99 (floor: one invocation's own time, p99)",
            Sample.of([Sample.of(lags).quantile(0.99)]),
            Sample.of([Sample.of(lag.invocation_ms).quantile(0.99)]),
            " ms",
        ),
        *memory_figures(sampler, churn),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    defaults = QUICK
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    arguments = parser.parse_args(argv)
    overrides = {name: getattr(arguments, name) for name in vars(defaults)}
    figures = measure(quick=True, **overrides)
    for figure in figures:
        print(figure.line())
        for key, value in figure.notes.items():
            print(f"    {key}: {value}")
    return 0 if all(f.met is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
