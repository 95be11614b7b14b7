"""The local stack's world clock, part by part: a worker process reads world time through the
ordinary calls, the emulator runs on it, the schedule catches up after a jump."""

from __future__ import annotations

import datetime
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from local.chime import ChimeEmulator, EmulatorConfig
from local.chime.clock import WorldClock
from local.event_delivery import RateSchedule
from local.lambda_runtime import install_world_time

HOUR = 3600.0


def _times_in_worker() -> dict[str, Any]:
    aware = datetime.datetime.now(datetime.UTC)
    return {
        "time": time.time(),
        "time_ns": time.time_ns() / 1e9,
        "now": datetime.datetime.now().timestamp(),
        "now_utc": aware.timestamp(),
        "utcnow": datetime.datetime.utcnow().replace(tzinfo=datetime.UTC).timestamp(),
        "is_datetime": isinstance(aware, datetime.datetime),
        "parsed_is_datetime": isinstance(
            datetime.datetime.fromisoformat("2026-01-01T00:00:00"), datetime.datetime
        ),
        "tz_kept": aware.tzinfo is datetime.UTC,
    }


def test_a_worker_reads_world_time_the_ordinary_way() -> None:
    world = WorldClock()
    world.advance(HOUR)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=install_world_time, initargs=(world.offset,)
    ) as pool:
        first = pool.submit(_times_in_worker).result(timeout=60)
        world.advance(HOUR)  # moves the worker's clock too: the offset is shared
        second = pool.submit(_times_in_worker).result(timeout=60)
    real = time.time()
    for name in ("time", "time_ns", "now", "now_utc", "utcnow"):
        assert abs(first[name] - (real + HOUR)) < 60, name
        assert abs(second[name] - (real + 2 * HOUR)) < 60, name
    assert first["is_datetime"] and first["parsed_is_datetime"] and first["tz_kept"]


def test_the_emulator_runs_on_the_world_clock() -> None:
    world = WorldClock()
    chime = ChimeEmulator(EmulatorConfig(follow_wall_clock=True), clock=world)
    chime.advance(HOUR)
    assert world.offset_seconds() == HOUR
    assert abs(chime.now_ms() - world.now_ms()) < 1000
    chime.reset()  # a shared clock is not the emulator's to restart
    assert world.offset_seconds() == HOUR


def test_the_schedule_runs_at_once_when_the_world_clock_jumps_past_its_next_run() -> None:
    world = WorldClock()
    ran = threading.Event()
    schedule = RateSchedule(
        period_seconds=HOUR, invoke=lambda _: ran.set(), payload={}, now=world.now
    )
    schedule.start()
    try:
        assert not ran.wait(0.2)
        world.advance(HOUR)
        schedule.nudge()
        assert ran.wait(30), "the schedule did not catch up"
        assert schedule.runs == 1
    finally:
        schedule.stop()
