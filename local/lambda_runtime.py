"""Running the deployed handlers as Lambda would: a context object, and a pool of worker
processes that each serve one invocation at a time.

Powertools' resolvers keep the current request on the router object, so one handler instance
must never serve two requests at once: as on Lambda, concurrency comes from more workers
(execution environments), never from threads sharing one.

Given the local stack's world clock (its shared offset), a worker reads world time wherever
the handler code reads time the ordinary way: `time.time`, `time.time_ns`,
`datetime.datetime.now` / `utcnow` / `today` are replaced before the handler is imported.
`time.clock_gettime` is left alone: it stays the machine's real clock, which the functions read
for what a peer checks against its own clock (a webhook's `webhook-timestamp`, meetings.wiring).
"""

from __future__ import annotations

import datetime
import importlib
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.iam.guard import IamGuard

LambdaHandler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    timeout_seconds: float = 29.0
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"
        )
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(dotted_path: str) -> LambdaHandler:
    """`package.module.function` → the function, as Lambda resolves its handler setting."""
    module_name, _, function_name = dotted_path.rpartition(".")
    handler: LambdaHandler = getattr(importlib.import_module(module_name), function_name)
    return handler


def forget_cached_state() -> None:
    """Forget what an execution environment builds from its environment (settings, clients,
    services: meetings.wiring), as a new one would. Tests and benchmarks call it between
    cases that change endpoints or settings."""
    from meetings import wiring  # noqa: PLC0415 - the handler's package, once it is on the path

    wiring.reset()


# --- world time -------------------------------------------------------------------------------
_RealDatetime = datetime.datetime


class _DatetimeType(type):
    # `isinstance(x, datetime.datetime)` keeps holding for datetimes made anywhere (C code
    # included) after `datetime.datetime` is replaced by the subclass below.
    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, _RealDatetime)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, _RealDatetime)


def install_world_time(offset: Any) -> None:
    """From now on this process reads world time: real time + `offset.value` seconds (a shared
    value the local stack's world clock raises). Call it before importing the handler, so
    that modules binding `time.time` or `datetime.datetime` at import get the world's."""
    real_time, real_time_ns = time.time, time.time_ns

    def world_time() -> float:
        return real_time() + float(offset.value)

    def world_time_ns() -> int:
        return real_time_ns() + int(float(offset.value) * 1_000_000_000)

    class WorldDatetime(_RealDatetime, metaclass=_DatetimeType):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:  # type: ignore[override]
            return _RealDatetime.fromtimestamp(world_time(), tz)

        @classmethod
        def utcnow(cls) -> datetime.datetime:  # type: ignore[override]
            return _RealDatetime.fromtimestamp(world_time(), datetime.UTC).replace(tzinfo=None)

        @classmethod
        def today(cls) -> datetime.datetime:  # type: ignore[override]
            return _RealDatetime.fromtimestamp(world_time())

    time.time = world_time
    time.time_ns = world_time_ns
    datetime.datetime = WorldDatetime  # type: ignore[misc]


# --- worker processes ------------------------------------------------------------------------
_worker_handler: LambdaHandler | None = None
_worker_function_name = ""
_worker_memory_mb = 1024


def _start_worker(  # noqa: PLR0917 - a pool initializer receives its arguments by position
    environment: Mapping[str, str],
    handler_path: str,
    function_name: str,
    log_path: str | None,
    world_offset: Any = None,
    memory_mb: int = 1024,
    iam_guard: IamGuard | None = None,
) -> None:
    global _worker_handler, _worker_function_name, _worker_memory_mb  # noqa: PLW0603 - one handler per process
    if log_path:
        _redirect_output(log_path)
    if world_offset is not None:
        install_world_time(world_offset)
    if iam_guard is not None:
        # Before the handler's import: every client it (or Powertools) creates is guarded.
        iam_guard.install()
    os.environ.update(environment)
    _worker_handler = load_handler(handler_path)
    _worker_function_name = function_name
    _worker_memory_mb = memory_mb


def _redirect_output(log_path: str) -> None:
    """Send this worker's stdout and stderr (where Lambda's log lines go) to a file, at the file
    descriptor level so that every writer is caught, appending so that workers share it."""
    sys.stdout.flush()
    sys.stderr.flush()
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(descriptor, sys.stdout.fileno())
    os.dup2(descriptor, sys.stderr.fileno())
    os.close(descriptor)


class FunctionError(Exception):
    """The handler raised: Lambda reports the invocation failed (the event source retries)."""


def _invoke_in_worker(event: dict[str, Any], timeout_seconds: float) -> Any:
    assert _worker_handler is not None, "worker started without a handler"
    context = LocalLambdaContext(
        _worker_function_name, timeout_seconds=timeout_seconds, memory_limit_in_mb=_worker_memory_mb
    )
    try:
        return _worker_handler(event, context)
    except Exception as error:
        # Exceptions may hold unpicklable state (tracebacks, clients): send back their words.
        raise FunctionError(f"{type(error).__name__}: {error}") from None


def _warm_up() -> int:
    return os.getpid()


class HandlerPool:
    """`workers` processes, each with the handler imported once (a warm Lambda environment)."""

    def __init__(
        self,
        handler_path: str,
        *,
        function_name: str,
        environment: Mapping[str, str],
        workers: int,
        timeout_seconds: float = 29.0,
        log_path: str | None = None,
        world_offset: Any = None,
        memory_mb: int = 1024,
        iam_guard: IamGuard | None = None,
    ) -> None:
        """`world_offset`: the local stack's world clock offset (a shared value); given, the
        workers read world time (see install_world_time). `iam_guard`: the role the workers'
        AWS calls are authorized by (local/iam/guard.py)."""
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        # spawn, not fork: the parent runs server threads whose locks a fork would copy.
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(
                dict(environment),
                handler_path,
                function_name,
                log_path,
                world_offset,
                memory_mb,
                iam_guard,
            ),
        )

    def warm_up(self) -> None:
        """Start every worker now, so the first requests do not pay the imports."""
        futures = [self._executor.submit(_warm_up) for _ in range(self.workers * 2)]
        for future in futures:
            future.result(timeout=120)

    def submit(self, event: dict[str, Any]) -> Future[Any]:
        return self._executor.submit(_invoke_in_worker, event, self.timeout_seconds)

    def worker_pids(self) -> list[int]:
        """The worker processes' ids, for a benchmark that samples their memory (the executor
        keeps its processes in a private mapping; it has no public accessor)."""
        return sorted(self._executor._processes or {})

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
