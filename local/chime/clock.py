"""Clocks: Chime's virtual clock in the emulator, and the local stack's one world clock.

`VirtualClock`: epoch milliseconds that move when told to (and, if asked, with real time too),
for an emulator on its own. `WorldClock`: real time plus an offset that only grows, kept in
shared memory so that every process of the local stack (the emulator's, the handlers' worker
processes) reads the same world time.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any, Protocol

# The machine's clock, as this module found it (worker processes replace time.time by the
# world clock; the world clock itself must keep reading the real one).
_real_time = time.time


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def advance_ms(self, milliseconds: int) -> None: ...


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


def shared_offset() -> Any:
    """A double in shared memory, to hand to processes started with the spawn method."""
    return multiprocessing.get_context("spawn").Value("d", 0.0)


class WorldClock:
    """Real time + an offset (seconds) that `advance` raises; the offset lives in shared memory
    (`offset`), so worker processes given it read the same world time."""

    def __init__(self, offset: Any = None) -> None:
        self.offset = offset if offset is not None else shared_offset()

    def offset_seconds(self) -> float:
        return float(self.offset.value)

    def now(self) -> float:
        """World time, epoch seconds."""
        return _real_time() + self.offset_seconds()

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self.offset.get_lock():
            self.offset.value += seconds

    def advance_ms(self, milliseconds: int) -> None:
        self.advance(milliseconds / 1000)
