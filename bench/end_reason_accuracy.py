"""End-reason accuracy under event chaos: how often the backend's stated end reason is right.

Meetings with mixed lifecycles are driven through a local stack over HTTP (127.0.0.1 only)
while the event router drops, duplicates and reorders Chime's events; then every meeting's
reason as the API states it (GET /meetings/{id}, as its host) is compared with the emulator's
ground truth (GET /_local/truth/meetings/{id}).

- precision = correct stated reasons / stated reasons. A stated reason names a cause: anything
  but null, `unknown` and `vanished` — `vanished` says the backend never saw why Chime ended
  the meeting (no end event, no timeline that explains it), which is never false; the strict
  precision counts it as a wrong statement all the same, and is reported beside;
- recall = correct stated reasons / meetings; the ceiling is the share of meetings whose end
  the backend can name at all (not Chime's screen-share rule, which no event reveals);
- a confusion table, truth x stated, and what chaos did to the deliveries.

The lifecycles end by every rule: nobody connects, everyone leaves (no_audio_5min), one
attendee alone or left alone (single_attendee_30min), screen-share viewers only
(screen_share_idle_30min: `unknown` is the right answer), the 24-hour limit, the host's DELETE
(host_ended) and `maxDurationSeconds` (max_duration, ended by the backend's cleanup), with
video and content shares mixed in. Offsets are random to the millisecond. All meetings share
one clock: waves are created and driven while earlier waves still run.

    python -m bench.end_reason_accuracy --meetings 200 --drop-rate 0.15 \
        --duplicate-rate 0.15 --reorder-window 5 --seed 20261202 [--json]

starts its own local stack (or drives a running one: `--api-url http://127.0.0.1:3000`).
`python -m bench --only end_reason_accuracy` runs it with these defaults.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import itertools
import json
import random
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from bench.environments import PROJECT_ROOT
from bench.stats import Figure, Sample

SECOND: Final = 1000
MINUTE: Final = 60 * SECOND
DAY: Final = 86_400 * SECOND
UNSTATED: Final = frozenset({None, "unknown", "vanished"})
NO_CAUSE_KNOWN: Final = "vanished"
# Scenario → share of the run (the rest of the division goes to the first ones).
SCENARIOS: Final = {
    "nobody_connects": 0.10,
    "everyone_leaves": 0.16,
    "alone": 0.10,
    "left_alone": 0.12,
    "screen_share_viewer": 0.08,
    "viewer_after_share": 0.04,
    "day": 0.08,
    "host_delete": 0.14,
    "max_duration": 0.08,
    "media_mix": 0.10,
}
OPEN: Final = "(open)"


@dataclass(frozen=True)
class Options:
    meetings: int = 200
    drop_rate: float = 0.15
    duplicate_rate: float = 0.15
    reorder_window: int = 5
    seed: int = 20261202
    # World time allowed after the last end before the final reading (the backend may keep a
    # reason `unknown` until a settle window has passed).
    settle_seconds: float = 600.0
    # Real seconds to wait, at most, for a backend clock that does not follow the world
    # clock to reach the max-duration deadlines.
    max_duration_wait: float = 120.0
    quiet_seconds: float = 5.0
    quiet_timeout: float = 600.0
    wave_size: int = 24
    reconcile_attempts: int = 3
    threads: int = 4


# --- HTTP ---------------------------------------------------------------------------------------
class Http:
    """A JSON client of the local stack's API port (loopback only)."""

    def __init__(self, base_url: str) -> None:
        if not base_url.startswith("http://127.0.0.1:"):
            raise ValueError("the benchmark talks to 127.0.0.1 only")
        self.base_url = base_url.rstrip("/")
        self.tokens: dict[str, str] = {}

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                payload = answer.read()
                return answer.status, json.loads(payload) if payload else None
        except urllib.error.HTTPError as error:
            payload = error.read()
            try:
                return error.code, json.loads(payload) if payload else None
            except json.JSONDecodeError:
                return error.code, None

    def ok(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        status, answer = self.call(method, path, body, token)
        if status >= 300:
            raise RuntimeError(f"{method} {path} → {status} {answer}")
        return answer

    def cleanup(self, body: dict[str, Any], attempts: int = 3) -> Any:
        """Run the cleanup now. The local stack has one cleanup worker: a run asked for while
        the scheduled one works may time out waiting (500); it is asked again."""
        for attempt in range(attempts):
            status, answer = self.call("POST", "/_local/cleanup", body)
            if status < 300:
                return answer
            if attempt == attempts - 1:
                raise RuntimeError(f"POST /_local/cleanup → {status} {answer}")
        return None

    def token(self, sub: str) -> str:
        if sub not in self.tokens:
            answer = self.ok("POST", "/_local/token", {"sub": sub, "ttlSeconds": 7 * 24 * 3600})
            self.tokens[sub] = answer["token"]
        return self.tokens[sub]

    def advance_ms(self, milliseconds: int) -> int:
        """Move the world clock on; answers the clock's new reading (epoch ms)."""
        answer = self.ok("POST", "/_local/clock/advance", {"seconds": milliseconds / 1000})
        return int(answer["nowMs"])

    def deliveries(self) -> dict[str, int]:
        return dict(self.ok("GET", "/_local/chaos")["deliveries"])

    def lost_events(self) -> list[dict[str, Any]]:
        return list(self.ok("GET", "/_local/chaos")["lost"])


# --- the lifecycles -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    at_ms: int  # after the meeting's wave was set up
    action: str  # connect | leave | drop | delete
    seat: int = 0
    media: tuple[tuple[str, bool], ...] = ()


@dataclass
class Meeting:
    index: int
    scenario: str
    seats: int
    steps: list[Step]
    max_duration_seconds: int | None = None
    host: str = ""
    meeting_id: str = ""
    created_at_ms: int = 0  # the backend's createdAt
    attendees: list[str] = field(default_factory=list)
    refused: int = 0  # actions Chime refused (the meeting had ended first)


def _media(rng: random.Random, *, audio: bool = True, share: bool = False) -> tuple[Any, ...]:
    return (
        ("audio", audio),
        ("video", rng.random() < 0.35),
        ("content", share),
        ("viewingContent", not share and rng.random() < 0.2),
    )


def _ms(rng: random.Random, low_s: float, high_s: float) -> int:
    return rng.randint(round(low_s * SECOND), round(high_s * SECOND))


def _leave(rng: random.Random) -> str:
    return rng.choice(("leave", "drop"))


def plan(scenario: str, rng: random.Random) -> tuple[int, list[Step], int | None]:
    """(attendees to add, the media and host steps, maxDurationSeconds) of one lifecycle.

    Offsets keep each meeting clear of the rules it is not meant to end by (creation lies a few
    seconds before the wave's start): every first audio connection within 200 s, everyone gone
    by 1,400 s when no_audio_5min is to end it, two audio connections throughout when a
    30-minute rule other than single_attendee_30min or the 24-hour limit is to."""
    steps: list[Step] = []
    if scenario == "nobody_connects":
        return rng.choice((0, 0, 1, 2)), steps, None  # added attendees who never connect
    if scenario in {"everyone_leaves", "media_mix"}:
        seats = rng.randint(1, 3)
        sharer = rng.randrange(seats) if scenario == "media_mix" else -1
        for seat in range(seats):
            joined = _ms(rng, 0.2, 200)
            left = rng.randint(joined + 5 * SECOND, 1_400 * SECOND)
            steps.append(Step(joined, "connect", seat, _media(rng, share=seat == sharer)))
            if scenario == "media_mix" and rng.random() < 0.6:  # a hand-off: other media
                moved = rng.randint(joined + SECOND, left - SECOND)
                steps.append(Step(moved, "connect", seat, _media(rng)))
            steps.append(Step(left, _leave(rng), seat))
        return seats, steps, None
    if scenario == "alone":
        steps.append(Step(_ms(rng, 0.2, 200), "connect", 0, _media(rng)))
        if rng.random() < 0.4:  # video only: not an audio connection
            steps.append(Step(_ms(rng, 0.2, 600), "connect", 1, (("video", True),)))
            return 2, steps, None
        return 1, steps, None
    if scenario == "left_alone":
        first, second = _ms(rng, 0.2, 200), _ms(rng, 0.2, 200)
        steps.append(Step(first, "connect", 0, _media(rng)))
        steps.append(Step(second, "connect", 1, _media(rng)))
        steps.append(
            Step(rng.randint(max(first, second) + 5 * SECOND, 2_400 * SECOND), _leave(rng), 1)
        )
        return 2, steps, None
    if scenario in {"screen_share_viewer", "viewer_after_share"}:
        sharing = scenario == "viewer_after_share"
        talkers = [_ms(rng, 0.2, 200), _ms(rng, 0.2, 200)]
        steps.append(Step(talkers[0], "connect", 0, _media(rng, share=sharing)))
        steps.append(Step(talkers[1], "connect", 1, _media(rng)))
        viewer = rng.randint(max(talkers) + SECOND, 900 * SECOND)
        steps.append(Step(viewer, "connect", 2, (("viewingContent", True),)))
        if sharing:  # the share stops: the viewer is idle from then on
            steps.append(
                Step(rng.randint(viewer + SECOND, 1_200 * SECOND), "connect", 0, _media(rng))
            )
        return 3, steps, None
    if scenario == "day":
        talkers = [_ms(rng, 0.2, 200), _ms(rng, 0.2, 200)]
        for seat, joined in enumerate(talkers):
            steps.append(Step(joined, "connect", seat, _media(rng, share=seat == 0)))
        # A third comes and goes during the day; a talker changes device (a hand-off).
        came = rng.randint(max(talkers), 20 * 3_600 * SECOND)
        steps.append(Step(came, "connect", 2, _media(rng)))
        steps.append(Step(rng.randint(came + SECOND, 23 * 3_600 * SECOND), _leave(rng), 2))
        steps.append(Step(_ms(rng, 3_600, 80_000), "connect", 1, _media(rng)))
        return 3, steps, None
    if scenario == "host_delete":
        seats = rng.randint(0, 3)
        connected = [_ms(rng, 0.2, 200) for _ in range(seats)]
        for seat, joined in enumerate(connected):
            steps.append(Step(joined, "connect", seat, _media(rng, share=seat == 0)))
        latest = max(connected, default=0)
        ends_by = 280 if not connected else 1_500
        steps.append(Step(rng.randint(latest + 5 * SECOND, ends_by * SECOND), "delete"))
        return seats, steps, None
    if scenario == "max_duration":
        for seat in range(2):
            steps.append(Step(_ms(rng, 0.2, 30), "connect", seat, _media(rng, share=seat == 0)))
        return 2, steps, rng.randint(60, 90)
    raise ValueError(f"unknown scenario {scenario}")


def _assign(count: int, rng: random.Random) -> list[str]:
    names = list(SCENARIOS)
    counts = {name: int(count * share) for name, share in SCENARIOS.items()}
    for name in itertools.islice(itertools.cycle(names), count - sum(counts.values())):
        counts[name] += 1
    assigned = [name for name in names for _ in range(counts[name])]
    rng.shuffle(assigned)
    return assigned


# --- one clock, many meetings ---------------------------------------------------------------------
class Timeline:
    """Actions at instants of the world clock, run in time order; the clock is advanced to
    each one (it may also follow real time, so instants are the earliest, not exact)."""

    def __init__(self, http: Http) -> None:
        self.http = http
        self.now = http.advance_ms(0)
        self._queue: list[tuple[int, int, Callable[[], object]]] = []
        self._order = itertools.count()

    def at(self, instant_ms: int, action: Callable[[], object]) -> None:
        heapq.heappush(self._queue, (instant_ms, next(self._order), action))

    def run(self) -> None:
        while self._queue:
            instant, _, action = heapq.heappop(self._queue)
            if instant > self.now:
                self.now = self.http.advance_ms(instant - self.now)
            action()

    def advance(self, milliseconds: int) -> None:
        self.now = self.http.advance_ms(milliseconds)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Run:
    def __init__(
        self,
        http: Http,
        options: Options,
        progress: Callable[[str], None] = _to_stderr,
        pending: Callable[[], int] | None = None,
    ) -> None:
        self.http = http
        self.options = options
        self._pending = pending
        self._progress = progress
        self._started = time.monotonic()
        self.rng = random.Random(options.seed)
        self.tag = uuid.uuid4().hex[:8]
        self.meetings: list[Meeting] = []
        self.pool = ThreadPoolExecutor(options.threads, thread_name_prefix="accuracy")

    def progress(self, what: str) -> None:
        self._progress(f"[{time.monotonic() - self._started:6.1f} s] {what}")

    # --- setting meetings up ----------------------------------------------------------------
    def _open(self, meeting: Meeting) -> None:
        meeting.host = self.http.token(f"acc-{self.tag}-h{meeting.index}")
        body: dict[str, Any] = {"externalMeetingId": f"acc-{self.tag}-{meeting.index}"}
        if meeting.max_duration_seconds is not None:
            body["maxDurationSeconds"] = meeting.max_duration_seconds
        view = self.http.ok("POST", "/meetings", body, meeting.host)["meeting"]
        meeting.meeting_id = view["meetingId"]
        meeting.created_at_ms = _epoch_ms(view["createdAt"])
        for seat in range(meeting.seats):
            user = self.http.token(f"acc-{self.tag}-m{meeting.index}-u{seat}")
            path = f"/meetings/{meeting.meeting_id}/attendees"
            joined = self.http.ok("POST", path, {}, user)
            meeting.attendees.append(joined["Attendee"]["AttendeeId"])

    def wave(self, timeline: Timeline, meetings: list[Meeting]) -> int:
        """Create the meetings and add their attendees; their steps are scheduled from the
        instant this ends (returned)."""
        list(self.pool.map(self._open, meetings))
        start = self.http.advance_ms(0)
        timeline.now = max(timeline.now, start)
        for meeting in meetings:
            for step in meeting.steps:
                timeline.at(start + step.at_ms, self._stepper(meeting, step))
        return start

    def _stepper(self, meeting: Meeting, step: Step) -> Callable[[], None]:
        def act() -> None:
            if step.action == "delete":
                status, _ = self.http.call(
                    "DELETE", f"/meetings/{meeting.meeting_id}", token=meeting.host
                )
            else:
                attendee = meeting.attendees[step.seat]
                path = f"/_local/meetings/{meeting.meeting_id}/attendees/{attendee}/{step.action}"
                status, _ = self.http.call("POST", path, dict(step.media))
            if status >= 300:
                meeting.refused += 1

        return act

    def _meetings(self, scenarios: list[str]) -> list[Meeting]:
        made = []
        for scenario in scenarios:
            seats, steps, max_duration = plan(scenario, self.rng)
            made.append(Meeting(len(self.meetings), scenario, seats, steps, max_duration))
            self.meetings.append(made[-1])
        return made

    # --- the phases -------------------------------------------------------------------------
    def drive(self) -> None:
        scenarios = _assign(self.options.meetings, self.rng)
        timeline = Timeline(self.http)
        # 1. The day-long meetings first, alone on the clock for a day.
        day = self._meetings([s for s in scenarios if s == "day"])
        self.progress(f"{len(scenarios)} meetings: {dict(Counter(scenarios))}")
        if day:
            began = self.wave(timeline, day)
            timeline.run()
            timeline.advance(max(0, began + DAY + _ms(self.rng, 60, 600) - timeline.now))
        # 2. Waves of the rest, each started a few minutes after the previous one. The
        #    max-duration meetings come first: they need the most backend time by the end.
        rest = [s for s in scenarios if s == "max_duration"]
        rest += [s for s in scenarios if s not in {"day", "max_duration"}]
        size = self.options.wave_size
        start = timeline.now
        self.progress("the day-long meetings are over; the waves begin")
        for number, first in enumerate(range(0, len(rest), size)):
            meetings = self._meetings(rest[first : first + size])
            offset = number * _ms(self.rng, 150, 400)
            timeline.at(start + offset, functools.partial(self.wave, timeline, meetings))
        timeline.run()
        # Every rule a lifecycle was meant to end by is past (single_attendee_30min at most
        # 2,400 s + 1,800 s after its wave began).
        timeline.advance(_ms(self.rng, 4_300, 4_600))
        self.progress("every wave is past its rules; ending the max-duration meetings")
        self._end_max_duration(timeline)

    def _end_max_duration(self, timeline: Timeline) -> None:
        bounded = [m for m in self.meetings if m.max_duration_seconds is not None]
        if not bounded:
            return
        deadline = max(m.created_at_ms + (m.max_duration_seconds or 0) * SECOND for m in bounded)
        wait_s = (deadline - self._backend_now()) / SECOND
        if 0 < wait_s <= self.options.max_duration_wait:
            self.progress(f"waiting {wait_s:.0f} s of real time for the backend's deadlines")
            time.sleep(wait_s + 1)  # the backend's clock does not follow the world clock
        for _ in range(3):
            self.http.cleanup({})
            if all(self._truth(m)["status"] == "ENDED" for m in bounded):
                return
            time.sleep(1)

    def _backend_now(self) -> int:
        """The backend's clock, read as the createdAt of a throwaway meeting."""
        host = self.http.token(f"acc-{self.tag}-probe")
        view = self.http.ok("POST", "/meetings", {}, host)["meeting"]
        self.http.ok("DELETE", f"/meetings/{view['meetingId']}", token=host)
        return _epoch_ms(view["createdAt"])

    def settle(self) -> None:
        """Events delivered, the settle window past, cleanup and a full reconciliation run."""
        self.progress("waiting for the events to be delivered")
        self.quiet()
        self.http.advance_ms(round(self.options.settle_seconds * SECOND))
        self.progress(f"clock advanced {self.options.settle_seconds:.0f} s; cleanup")
        self.http.cleanup({})
        for _ in range(self.options.reconcile_attempts):
            summary = self.http.cleanup({"reconcile": "all"})
            self.progress(f"reconcile all: {summary}")
            if summary.get("complete", True):
                break
        self.quiet()
        self.http.cleanup({})
        self.quiet()

    def quiet(self) -> None:
        """Until the Chime event queue is empty (when it can be seen) and the deliveries to the
        events function stopped moving for `quiet_seconds` (bounded by `quiet_timeout`)."""
        started = time.monotonic()
        last, since = self.http.deliveries(), started
        while time.monotonic() - started < self.options.quiet_timeout:
            time.sleep(1.0)
            now = self.http.deliveries()
            if now != last or (self._pending is not None and self._pending() > 0):
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= self.options.quiet_seconds:
                return
        self.progress(f"events still moving after {self.options.quiet_timeout:.0f} s; going on")

    # --- reading ----------------------------------------------------------------------------
    def _truth(self, meeting: Meeting) -> Any:
        return self.http.ok("GET", f"/_local/truth/meetings/{meeting.meeting_id}")

    def _reading(self, meeting: Meeting) -> tuple[Any, Any]:
        view = self.http.ok("GET", f"/meetings/{meeting.meeting_id}", token=meeting.host)
        return view["meeting"], self._truth(meeting)

    def read(self) -> list[tuple[Meeting, Any, Any]]:
        """Every meeting's view and truth, read until two readings agree (bounded)."""
        previous: list[tuple[Any, Any]] | None = None
        self.progress("reading every meeting")
        for _ in range(4):
            readings = list(self.pool.map(self._reading, self.meetings))
            if readings == previous:
                break
            previous = readings
            self.quiet()
        assert previous is not None
        return [(m, v, t) for m, (v, t) in zip(self.meetings, previous, strict=True)]


def _epoch_ms(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)


# --- scoring ------------------------------------------------------------------------------------
@dataclass
class Outcome:
    meeting_id: str
    scenario: str
    truth: str  # the emulator's reason, DeleteMeeting split by who asked; `(open)`
    expected: str | None  # the one stated reason that is right; None: none is
    status: str
    stated: str  # the API's endReason, `(open)` while not ENDED
    refused_actions: int
    # Chime events of this meeting that inference reads and chaos lost for good (no copy
    # reached the backend): a wrong reason is then one the delivered events could not refute.
    lost_timeline_events: int = 0

    @property
    def is_stated(self) -> bool:
        return self.status == "ENDED" and self.stated not in UNSTATED

    @property
    def correct(self) -> bool:
        return self.is_stated and self.stated == self.expected


# The Chime events the end-reason inference reads: presence, the start and the end.
TIMELINE_EVENTS: Final = frozenset(
    {
        "chime:MeetingStarted",
        "chime:MeetingEnded",
        "chime:AttendeeJoined",
        "chime:AttendeeLeft",
        "chime:AttendeeDropped",
    }
)


def _timeline_losses(lost: list[dict[str, Any]]) -> Counter[str]:
    return Counter(
        str(event.get("meetingId")) for event in lost if event.get("eventType") in TIMELINE_EVENTS
    )


def outcome(
    meeting: Meeting, view: dict[str, Any], truth: dict[str, Any], lost_timeline_events: int = 0
) -> Outcome:
    emulator = truth["emulatorEndReason"]
    expected: str | None = truth["endReason"]
    label = emulator or OPEN
    if emulator == "deleted":
        by_host = meeting.scenario == "host_delete"
        expected = "host_ended" if by_host else "max_duration"
        label = "deleted (host DELETE)" if by_host else "deleted (max duration)"
    ended = view["status"] == "ENDED"
    return Outcome(
        meeting_id=meeting.meeting_id,
        scenario=meeting.scenario,
        truth=label,
        expected=expected,
        status=view["status"],
        stated=str(view["endReason"]) if ended else OPEN,
        refused_actions=meeting.refused,
        lost_timeline_events=lost_timeline_events,
    )


@dataclass
class Report:
    options: Options
    outcomes: list[Outcome]
    deliveries: dict[str, int]
    seconds: float
    # For each wrong reason stated from complete evidence: what the backend's timeline showed,
    # the emulator's truth and the lifecycle as driven, read before the stack stops.
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def stated(self) -> int:
        return sum(o.is_stated for o in self.outcomes)

    @property
    def correct(self) -> int:
        return sum(o.correct for o in self.outcomes)

    @property
    def precision(self) -> float:
        return self.correct / self.stated if self.stated else 1.0

    @property
    def strict_precision(self) -> float:
        """As `precision`, with `vanished` counted as a stated (and so wrong) reason."""
        vanished = sum(o.status == "ENDED" and o.stated == NO_CAUSE_KNOWN for o in self.outcomes)
        stated = self.stated + vanished
        return self.correct / stated if stated else 1.0

    @property
    def recall(self) -> float:
        return self.correct / len(self.outcomes) if self.outcomes else 0.0

    @property
    def recall_ceiling(self) -> float:
        nameable = sum(o.expected is not None and o.truth != OPEN for o in self.outcomes)
        return nameable / len(self.outcomes) if self.outcomes else 0.0

    @property
    def still_open(self) -> dict[str, int]:
        return {
            "in Chime": sum(o.truth == OPEN for o in self.outcomes),
            "in the backend": sum(o.status != "ENDED" for o in self.outcomes),
        }

    @property
    def all_ended(self) -> bool:
        return not any(self.still_open.values())

    def confusion(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = {}
        for item in self.outcomes:
            table.setdefault(item.truth, Counter())[item.stated] += 1
        return {truth: dict(row) for truth, row in sorted(table.items())}

    def wrong(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.is_stated and not o.correct]

    def wrong_with_every_event_delivered(self) -> list[Outcome]:
        """Wrong reasons stated for meetings whose timeline events all reached the backend:
        each one is a defect of the inference, not a gap chaos left in the evidence."""
        return [o for o in self.wrong() if not o.lost_timeline_events]

    @property
    def precision_with_every_event_delivered(self) -> float:
        complete = [o for o in self.outcomes if o.is_stated and not o.lost_timeline_events]
        return sum(o.correct for o in complete) / len(complete) if complete else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options),
            "meetings": len(self.outcomes),
            "stated": self.stated,
            "correct": self.correct,
            "precision": self.precision,
            "precisionWithEveryEventDelivered": self.precision_with_every_event_delivered,
            "strictPrecision": self.strict_precision,
            "recall": self.recall,
            "recallCeiling": self.recall_ceiling,
            "stillOpen": self.still_open,
            "confusion": self.confusion(),
            "scenarios": dict(Counter(o.scenario for o in self.outcomes)),
            "refusedActions": sum(o.refused_actions for o in self.outcomes),
            "deliveries": self.deliveries,
            "seconds": round(self.seconds, 1),
            "wrong": [asdict(o) for o in self.wrong()],
            "evidenceOfWrongWithEveryEventDelivered": self.evidence,
        }

    def table(self) -> str:
        confusion = self.confusion()
        columns = sorted({c for row in confusion.values() for c in row})
        width = max([len(t) for t in confusion] + [len("truth \\ stated")])
        head = "truth \\ stated".ljust(width) + "".join(f" {c:>{max(len(c), 5)}}" for c in columns)
        lines = [head, "-" * len(head)]
        for truth, row in confusion.items():
            cells = "".join(f" {row.get(c, 0):>{max(len(c), 5)}}" for c in columns)
            lines.append(truth.ljust(width) + cells)
        o, d = self.options, self.deliveries
        return "\n".join(
            [
                f"end-reason accuracy: {len(self.outcomes)} meetings, drop {o.drop_rate:.0%}, "
                f"duplicate {o.duplicate_rate:.0%}, reorder window {o.reorder_window}, "
                f"seed {o.seed}; {self.seconds:.0f} s",
                f"precision {self.precision:.1%} ({self.correct}/{self.stated} stated reasons "
                f"correct; strict, vanished counted wrong: {self.strict_precision:.1%}); "
                f"recall {self.recall:.1%} ({self.correct}/{len(self.outcomes)}; "
                f"ceiling {self.recall_ceiling:.1%})",
                f"precision where every timeline event was delivered: "
                f"{self.precision_with_every_event_delivered:.1%}; wrong reasons: "
                f"{len(self.wrong())}, of them with every timeline event delivered: "
                f"{len(self.wrong_with_every_event_delivered())}",
                f"still open: {self.still_open['in Chime']} in Chime, "
                f"{self.still_open['in the backend']} in the backend",
                f"deliveries to the events function: {d.get('delivered', 0)} delivered, "
                f"{d.get('dropped', 0)} dropped, {d.get('duplicated', 0)} duplicated",
                "",
                *lines,
            ]
        )


# --- entry points -------------------------------------------------------------------------------
def run(
    base_url: str,
    options: Options,
    progress: Callable[[str], None] = _to_stderr,
    pending: Callable[[], int] | None = None,
) -> Report:
    """Drive, settle, read and score one run against the stack at `base_url`; `pending`, if
    given, counts the Chime events still queued for the events function."""
    http = Http(base_url)
    started = time.monotonic()
    before = http.deliveries()
    chaos = {
        "dropRate": options.drop_rate,
        "duplicateRate": options.duplicate_rate,
        "reorderWindow": options.reorder_window,
        "seed": options.seed,
    }
    http.ok("POST", "/_local/chaos", chaos)
    accuracy = Run(http, options, progress, pending)
    try:
        accuracy.drive()
        accuracy.settle()
        readings = accuracy.read()
    finally:
        http.call("POST", "/_local/chaos", {})
        accuracy.pool.shutdown()
    after = http.deliveries()
    deliveries = {name: after[name] - before.get(name, 0) for name in after}
    lost = _timeline_losses(http.lost_events())
    outcomes = [outcome(m, view, truth, lost[m.meeting_id]) for m, view, truth in readings]
    report = Report(options, outcomes, deliveries, time.monotonic() - started)
    report.evidence = _evidence(http, report, readings)
    return report


def _evidence(
    http: Http, report: Report, readings: list[tuple[Meeting, Any, Any]]
) -> dict[str, Any]:
    """What a wrong reason stated from complete evidence was inferred from, to trace it."""
    by_id = {meeting.meeting_id: (meeting, truth) for meeting, _, truth in readings}
    evidence = {}
    for wrong in report.wrong_with_every_event_delivered():
        meeting, truth = by_id[wrong.meeting_id]
        path = f"/meetings/{wrong.meeting_id}/timeline"
        evidence[wrong.meeting_id] = {
            "timeline": http.call("GET", path, token=meeting.host)[1],
            "truth": truth,
            "steps": [asdict(step) for step in meeting.steps],
            "createdAtMs": meeting.created_at_ms,
        }
    return evidence


@contextmanager
def local_stack() -> Iterator[tuple[str, Callable[[], int]]]:
    """A local stack as `make dev` runs it (see `bench_stack`); the scheduled cleanup is pushed
    an hour away so that the run triggers it at known points. Yields the API's URL and the
    queue gauge of `queued_events`."""
    with bench_stack("accuracy-", cleanup_every_seconds=3600) as stack:
        yield stack.api_url, queued_events(stack)


@contextmanager
def bench_stack(prefix: str, **settings: Any) -> Iterator[Any]:
    """A `LocalStack` on ephemeral loopback ports with 4 api and 2 events workers, the
    functions' output in a scratch file (not in the report); `settings` override the config."""
    from local.stack import LocalStack, LocalStackConfig  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        config = LocalStackConfig(
            **{
                "api_port": 0,
                "aws_port": 0,
                "chime_port": 0,
                "api_workers": 4,
                "events_workers": 2,
                "log_level": "WARNING",
                "worker_log_path": str(Path(scratch) / "functions.log"),
                **settings,
            }
        )
        with LocalStack(config) as stack:
            yield stack


def queued_events(stack: Any) -> Callable[[], int]:
    """How many Chime events wait in the events function's queue or are in flight (read from
    the local SQS over loopback)."""
    sqs = stack.client("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    def count() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.events_poller.queue_url, AttributeNames=names
        )["Attributes"]
        return sum(int(attributes[name]) for name in names)

    return count


def measure(**overrides: Any) -> list[Figure]:
    """`make bench`'s figure: precision and recall (against their ceilings)."""
    options = Options(**overrides)
    with local_stack() as (base_url, pending):
        report = run(base_url, options, pending=pending)
    print(report.table(), file=sys.stderr)
    notes = {
        "stated / correct": f"{report.stated} / {report.correct}",
        # The invariant: where no timeline event was lost, no stated reason is wrong.
        "precision where every timeline event was delivered": (
            f"{report.precision_with_every_event_delivered:.1%}"
        ),
        "wrong where every timeline event was delivered (scenario, truth, stated)": [
            (o.scenario, o.truth, o.stated) for o in report.wrong_with_every_event_delivered()
        ],
        "still open (Chime, backend)": tuple(report.still_open.values()),
        "deliveries": report.deliveries,
        "confusion (truth: stated counts)": report.confusion(),
        "seconds": round(report.seconds),
    }
    return [
        Figure(
            f"end-reason precision under event chaos, {options.meetings} meetings (vs 100 %)",
            Sample.of([100 * report.precision]),
            Sample.of([100.0]),
            " %",
            goal="100 % (no stated reason wrong)",
            met=report.precision == 1.0,
            notes=notes,
        ),
        Figure(
            "end-reason recall under event chaos (vs the share the backend can name)",
            Sample.of([100 * report.recall]),
            Sample.of([100 * report.recall_ceiling]),
            " %",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    defaults = Options()
    parser = argparse.ArgumentParser(
        prog="python -m bench.end_reason_accuracy", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--meetings", type=int, default=defaults.meetings)
    parser.add_argument("--drop-rate", type=float, default=defaults.drop_rate)
    parser.add_argument("--duplicate-rate", type=float, default=defaults.duplicate_rate)
    parser.add_argument("--reorder-window", type=int, default=defaults.reorder_window)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--settle-seconds", type=float, default=defaults.settle_seconds)
    parser.add_argument(
        "--max-duration-wait",
        type=float,
        default=defaults.max_duration_wait,
        help="real seconds to wait, at most, for the backend's clock to pass the max-duration "
        "deadlines when it does not follow the world clock",
    )
    parser.add_argument("--api-url", help="drive a running local stack instead of starting one")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    arguments = parser.parse_args(argv)
    options = Options(
        meetings=arguments.meetings,
        drop_rate=arguments.drop_rate,
        duplicate_rate=arguments.duplicate_rate,
        reorder_window=arguments.reorder_window,
        seed=arguments.seed,
        settle_seconds=arguments.settle_seconds,
        max_duration_wait=arguments.max_duration_wait,
    )
    # The functions run this checkout's code, as under `python -m bench` (bench/__main__.py).
    sys.path.insert(0, str(PROJECT_ROOT / "lambdas"))
    if arguments.api_url:
        report = run(arguments.api_url, options)
    else:
        with local_stack() as (base_url, pending):
            report = run(base_url, options, pending=pending)
    print(json.dumps(report.as_dict(), indent=1) if arguments.json else report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
