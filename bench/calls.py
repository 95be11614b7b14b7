"""Counting AWS calls with botocore's event hooks, and their sequential depth.

A call lasts from `provide-client-params` (botocore's first event of a call, before parameter
validation and serialization) to `after-call`, on the client's event system. Calls whose
intervals overlap ran concurrently; the depth of a request is the longest chain of calls in
which each starts after the previous one ended — the round trips a caller waits for in turn.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_ids = itertools.count()


@dataclass(frozen=True)
class AwsCall:
    service: str
    operation: str
    start: float
    end: float
    items_read: int = 0

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


def sequential_depth(calls: Iterable[AwsCall]) -> int:
    """The longest chain of calls where each starts only after the one before it ended."""
    ordered = sorted(calls, key=lambda call: call.end)
    longest: list[int] = []
    for index, call in enumerate(ordered):
        before = [longest[j] for j in range(index) if ordered[j].end <= call.start]
        longest.append(1 + max(before, default=0))
    return max(longest, default=0)


def busy_seconds(calls: Iterable[AwsCall]) -> float:
    """Wall time during which at least one call was in flight (overlaps count once)."""
    total, current_start, current_end = 0.0, None, None
    for call in sorted(calls, key=lambda c: c.start):
        if current_end is None or call.start > current_end:
            if current_end is not None and current_start is not None:
                total += current_end - current_start
            current_start, current_end = call.start, call.end
        else:
            current_end = max(current_end, call.end)
    if current_end is not None and current_start is not None:
        total += current_end - current_start
    return total


def items_read(operation: str, parsed: dict[str, Any]) -> int:
    """Items DynamoDB read to answer: evaluated items for a Query/Scan, found items else."""
    if operation in {"Query", "Scan"}:
        return int(parsed.get("ScannedCount", parsed.get("Count", 0)))
    if operation == "GetItem":
        return 1 if parsed.get("Item") else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in parsed.get("Responses", {}).values())
    if operation in {"UpdateItem", "PutItem", "DeleteItem"}:
        return 1 if parsed.get("Attributes") else 0
    return 0


class CallRecorder:
    """Records every call of the clients it is attached to, from any thread.

    `latency_seconds` adds that much wait at the start of each call, as a network would: with
    in-process stand-ins answering in microseconds, two calls started side by side could
    otherwise finish before the other began, and concurrency would not show in the intervals.
    """

    def __init__(self, latency_seconds: float = 0.0) -> None:
        self.latency_seconds = latency_seconds
        self._calls: list[AwsCall] = []
        self._lock = threading.Lock()
        self._attached: list[tuple[Any, str]] = []

    @property
    def calls(self) -> list[AwsCall]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    @contextmanager
    def recording(self) -> Iterator[CallRecorder]:
        self.clear()
        yield self

    def attach(self, client: Any) -> None:
        suffix = f"bench-recorder-{next(_ids)}"
        events = client.meta.events
        service = client.meta.service_model.service_name
        events.register_first("provide-client-params", self._before, unique_id=f"{suffix}-before")
        events.register_last(
            "after-call", lambda **kw: self._after(service, **kw), unique_id=f"{suffix}-after"
        )
        events.register_last(
            "after-call-error",
            lambda **kw: self._after(service, parsed={}, **kw),
            unique_id=f"{suffix}-error",
        )
        self._attached.append((client, suffix))

    def detach_all(self) -> None:
        for client, suffix in self._attached:
            events = client.meta.events
            events.unregister("provide-client-params", unique_id=f"{suffix}-before")
            events.unregister("after-call", unique_id=f"{suffix}-after")
            events.unregister("after-call-error", unique_id=f"{suffix}-error")
        self._attached.clear()

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        context["bench_operation"] = model.name
        context["bench_started"] = time.perf_counter()
        if self.latency_seconds:
            time.sleep(self.latency_seconds)

    def _after(
        self, service: str, *, context: dict[str, Any], parsed: Any = None, **_: Any
    ) -> None:
        # after-call-error (a connection failure) carries no model: the name came from before.
        end = time.perf_counter()
        start = context.get("bench_started", end)
        operation = str(context.get("bench_operation", "?"))
        read = items_read(operation, parsed) if isinstance(parsed, dict) else 0
        with self._lock:
            self._calls.append(AwsCall(service, operation, start, end, read))


def summary(calls: list[AwsCall]) -> str:
    """`dynamodb:Query, chime-sdk-meetings:CreateMeeting x2, ...` in first-call order."""
    counts = Counter(call.name for call in sorted(calls, key=lambda c: c.start))
    return ", ".join(name if n == 1 else f"{name} x{n}" for name, n in counts.items())
