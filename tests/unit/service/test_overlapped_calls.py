"""Work submitted to run beside the caller's own call (service/shared.py): made by the caller
when no worker started it, awaited when one did; made once either way."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from meetings.service.shared import result_here_unless_started


def test_work_no_worker_started_is_made_by_the_caller_once() -> None:
    calls: list[str] = []
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(release.wait)  # the only worker is busy
        future = executor.submit(calls.append, "worker")
        assert result_here_unless_started(future, lambda: calls.append("caller")) is None
        release.set()
    assert calls == ["caller"]
    assert future.cancelled()


def test_work_a_worker_started_is_awaited_not_repeated() -> None:
    started, finish = threading.Event(), threading.Event()
    calls: list[str] = []

    def on_the_worker() -> str:
        started.set()
        finish.wait()
        calls.append("worker")
        return "from the worker"

    with ThreadPoolExecutor(max_workers=1) as executor:
        future = executor.submit(on_the_worker)
        started.wait()
        threading.Timer(0.05, finish.set).start()
        answer = result_here_unless_started(future, lambda: calls.append("caller") or "here")
    assert answer == "from the worker"
    assert calls == ["worker"]


def test_the_callers_run_raises_what_the_work_raises() -> None:
    def refuse() -> None:
        raise LookupError("gone")

    release = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(release.wait)
        future = executor.submit(refuse)
        try:
            with pytest.raises(LookupError, match="gone"):
                result_here_unless_started(future, refuse)
        finally:
            release.set()
