"""ChimeEmulator: the emulated Chime SDK Meetings service behind one lock, with its Python
API (media plane, virtual clock, faults, events) for tests and the local stack."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.chime import media, operations
from local.chime.clock import Clock, VirtualClock
from local.chime.config import EmulatorConfig
from local.chime.events import CallbackSink, Envelope, EventBridgeSink, EventOutbox, EventSink
from local.chime.faults import FaultInjector, RateLimiter, apply_fault
from local.chime.service import ChimeState
from local.chime.state import Media


@dataclass(frozen=True)
class MeetingTruth:
    """What the emulated Chime knows about one meeting: when it was created and ended, and why
    (`end_reason`: an auto-end rule of autoend.py, `deleted` or `primary_ended`; None if open)."""

    meeting_id: str
    external_meeting_id: str
    created_ms: int
    ended_ms: int | None
    end_reason: str | None


class ChimeEmulator:
    def __init__(
        self,
        config: EmulatorConfig | None = None,
        start_ms: int | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        """`clock`: a clock shared with others (the local stack's world clock); by default the
        emulator keeps its own virtual clock (from `start_ms`, following real time if the
        config says so)."""
        self.config = config or EmulatorConfig()
        self._start_ms = start_ms
        self._shared_clock = clock
        self._lock = threading.RLock()
        self._outbox = EventOutbox()
        self._faults = FaultInjector()
        self._rate = RateLimiter(self.config.rate_limit_per_second)
        if self.config.eventbridge_endpoint_url:
            self._outbox.add_sink(
                EventBridgeSink(
                    self.config.eventbridge_endpoint_url,
                    self.config.region,
                    self.config.event_bus_name,
                )
            )
        self._state = self._fresh_state()

    def _fresh_state(self) -> ChimeState:
        clock = self._shared_clock or VirtualClock(
            self._start_ms, follow_wall_clock=self.config.follow_wall_clock
        )
        return ChimeState(self.config, clock, self._outbox)

    # --- the API, as the HTTP server calls it ---------------------------------------------
    def admit(self, operation: str) -> None:
        """Rate quota, then any injected fault (its latency is slept here, unlocked)."""
        self._rate.admit()
        apply_fault(self._faults.take(operation), operation)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one validated operation; raises ChimeError and changes nothing on bad input."""
        handler = operations.OPERATIONS[operation]
        try:
            with self._lock:
                self._catch_up()
                return handler(self._state, params)
        finally:
            self._outbox.flush()

    # --- the simulated media plane ----------------------------------------------------------
    def connect(
        self,
        meeting_id: str,
        attendee_id: str,
        *,
        audio: bool = True,
        video: bool = False,
        content: bool = False,
        viewing_content: bool = False,
    ) -> None:
        """An attendee's client connects (again: a hand-off) with this media.

        Raises ChimeError: NotFound (meeting ended / attendee deleted), BadRequest (media its
        capabilities forbid), LimitExceeded (25 video senders, 2 content shares).
        """
        wanted = Media(audio, video, content, viewing_content)
        self._locked(lambda: media.connect(self._state, meeting_id, attendee_id, wanted))

    def leave(self, meeting_id: str, attendee_id: str) -> None:
        self._locked(lambda: media.disconnect(self._state, meeting_id, attendee_id, dropped=False))

    def drop(self, meeting_id: str, attendee_id: str) -> None:
        self._locked(lambda: media.disconnect(self._state, meeting_id, attendee_id, dropped=True))

    # --- the clock ----------------------------------------------------------------------------
    def now_ms(self) -> int:
        with self._lock:
            return self._state.clock.now_ms()

    def advance(self, seconds: float) -> None:
        """Move Chime's clock; meetings whose auto-end rule comes due end at that instant."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._locked(lambda: self._state.clock.advance_ms(round(seconds * 1000)))

    def tick(self) -> None:
        """Apply the auto-end rules up to now (the server calls it when following real time)."""
        self._locked(lambda: None)

    def _catch_up(self) -> None:
        self._state.fire_due(self._state.clock.now_ms())

    def _locked(self, action: Callable[[], None]) -> None:
        try:
            with self._lock:
                self._catch_up()
                action()
                self._catch_up()
        finally:
            self._outbox.flush()

    # --- faults -------------------------------------------------------------------------------
    def inject_fault(
        self,
        operation: str = "*",
        error: str | None = "ServiceUnavailableException",
        count: int | None = 1,
        latency_ms: int = 0,
        retry_after_seconds: int = 1,
    ) -> None:
        """The next `count` calls of `operation` (`"*"`: any) wait `latency_ms`, then fail
        with `error` (an error shape of the model; None: latency only). `count=None` lasts
        until cleared. Replaces the fault pending for that operation."""
        self._faults.inject(operation, error, count, latency_ms, retry_after_seconds)

    def clear_faults(self) -> None:
        self._faults.clear()

    # --- events -------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Envelope], object]) -> Callable[[], None]:
        """Call `callback(envelope)` for each event, in order; returns an unsubscribe function."""
        sink = CallbackSink(callback)
        self._outbox.add_sink(sink)
        return lambda: self._outbox.remove_sink(sink)

    def add_sink(self, sink: EventSink) -> None:
        """A lasting event sink (survives reset(), unlike subscribers)."""
        self._outbox.add_sink(sink)

    @property
    def events(self) -> list[Envelope]:
        with self._lock:
            return copy.deepcopy(self._state.events)

    # --- inspection for tests -----------------------------------------------------------------
    def open_meeting_ids(self) -> set[str]:
        with self._lock:
            self._catch_up()
            return set(self._state.open_order)

    def end_reason(self, meeting_id: str) -> str | None:
        """Why a meeting ended (an auto-end rule, `deleted`, `primary_ended`); None if open."""
        with self._lock:
            self._catch_up()
            meeting = self._state.meetings.get(meeting_id.lower())
            if meeting is None:
                raise KeyError(meeting_id)
            return meeting.end_reason

    def truth(self, meeting_id: str) -> MeetingTruth:
        """The emulator's own record of a meeting (any rule due by now fires first); KeyError
        for a meeting it never created."""
        try:
            with self._lock:
                self._catch_up()
                meeting = self._state.meetings.get(meeting_id.lower())
                if meeting is None:
                    raise KeyError(meeting_id)
                return MeetingTruth(
                    meeting_id=meeting.meeting_id,
                    external_meeting_id=meeting.external_meeting_id,
                    created_ms=meeting.created_ms,
                    ended_ms=meeting.ended_ms,
                    end_reason=meeting.end_reason,
                )
        finally:
            self._outbox.flush()  # the events of a rule that came due on the way

    def transcription_active(self, meeting_id: str) -> bool:
        with self._lock:
            meeting = self._state.meetings.get(meeting_id.lower())
            return meeting is not None and meeting.transcription is not None

    def reset(self) -> None:
        """Forget every meeting, event, fault and subscriber; the clock restarts (a shared
        clock is not the emulator's to restart: it keeps its time)."""
        with self._lock:
            self._outbox.clear()
            self._outbox.remove_sinks(CallbackSink)
            self._faults.clear()
            self._rate.reset()
            self._state = self._fresh_state()
