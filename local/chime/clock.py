"""Chime's clock in the emulator: epoch milliseconds that move when told to (and, if asked,
with real time too)."""

from __future__ import annotations

import time


class VirtualClock:
    def __init__(self, start_ms: int | None = None, *, follow_wall_clock: bool = False) -> None:
        self._start_ms = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self._follow_wall_clock = follow_wall_clock
        self._offset_ms = 0
        self._started = time.monotonic()

    def now_ms(self) -> int:
        if not self._follow_wall_clock:
            return self._start_ms + self._offset_ms
        elapsed_ms = int((time.monotonic() - self._started) * 1000)
        return self._start_ms + self._offset_ms + elapsed_ms

    def advance_ms(self, milliseconds: int) -> None:
        if milliseconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset_ms += milliseconds
