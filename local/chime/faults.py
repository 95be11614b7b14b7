"""Trouble on demand: injected errors and latency per operation, and a request-rate quota."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from local.chime.errors import ChimeError
from local.chime.model import MEDIA_PIPELINES, MEETINGS, error_names, operation_names

ALL_OPERATIONS = "*"


@dataclass
class Fault:
    error: str | None
    remaining: int | None  # None: until cleared
    latency_ms: int
    retry_after_seconds: int


class FaultInjector:
    """At most one pending fault per operation (or for all, `*`); a new one replaces it.

    A call of an operation takes its own fault first, else the `*` fault.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}

    def inject(
        self,
        operation: str,
        error: str | None,
        count: int | None,
        latency_ms: int,
        retry_after_seconds: int,
    ) -> None:
        if operation != ALL_OPERATIONS and operation not in operation_names():
            raise ValueError(f"unknown operation {operation!r}")
        known = _errors_of(operation)
        if error is not None and error not in known:
            raise ValueError(f"unknown error {error!r}; one of {sorted(known)}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or None for every call)")
        if latency_ms < 0 or (error is None and latency_ms == 0):
            raise ValueError("a fault needs an error or a positive latency")
        with self._lock:
            self._faults[operation] = Fault(error, count, latency_ms, retry_after_seconds)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, operation: str) -> Fault | None:
        """The fault this call suffers, counted as used."""
        with self._lock:
            key = operation if operation in self._faults else ALL_OPERATIONS
            fault = self._faults.get(key)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self._faults[key]
            return fault


def _errors_of(operation: str) -> frozenset[str]:
    """The error shapes a fault of `operation` may raise: those of its service (both services'
    for `*` and for the tag operations, which both models have)."""
    services = [s for s in (MEETINGS, MEDIA_PIPELINES) if operation in operation_names(s)]
    if operation == ALL_OPERATIONS or len(services) != 1:
        return error_names()
    return error_names(services[0])


def apply_fault(fault: Fault | None, operation: str) -> None:
    """Sleep the fault's latency (outside any state lock), then raise its error."""
    if fault is None:
        return
    if fault.latency_ms:
        time.sleep(fault.latency_ms / 1000)
    if fault.error is not None:
        retry_after = (
            fault.retry_after_seconds if fault.error == "ServiceUnavailableException" else None
        )
        raise ChimeError(
            fault.error, f"Injected fault for {operation}", retry_after_seconds=retry_after
        )


class RateLimiter:
    """At most N requests in any one-second window of real time; the rest are throttled."""

    def __init__(self, per_second: int | None) -> None:
        self._per_second = per_second
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()

    def admit(self) -> None:
        if self._per_second is None:
            return
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self._per_second:
                raise ChimeError("ThrottlingException", "Rate exceeded")
            self._recent.append(now)

    def reset(self) -> None:
        with self._lock:
            self._recent.clear()
