"""Figure 2 — per-request overhead: the api function's own time per route (its total minus
the time inside AWS calls), against issuing the same boto3 calls bare.

The AWS side is a tape: one real request against moto and the emulator records each call's
parameters and answer; then botocore Stubbers replay those answers, so every repetition does
the same work and AWS time shrinks to botocore's own (parameter validation, serialization).
The floor replays the same calls, one after the other, on the same stubbed clients.
"""

from __future__ import annotations

import copy
import cProfile
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from botocore import xform_name
from botocore.stub import Stubber

from bench.backend import Backend, in_process_backend
from bench.calls import busy_seconds
from bench.stats import Figure, Sample

ADDED_MS_GOAL: Final = 0.5
WARM_UP: Final = 5


@dataclass(frozen=True)
class TapeEntry:
    client: Any
    operation: str
    params: dict[str, Any]
    response: dict[str, Any]


def record_tape(clients: list[Any], request: Callable[[], Any]) -> list[TapeEntry]:
    """Run the request once for real; every call's parameters and parsed answer, in order."""
    tape: list[TapeEntry] = []

    def remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = copy.deepcopy(params)

    def remember_answer(client: Any) -> Callable[..., None]:
        def remember(parsed: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
            tape.append(TapeEntry(client, model.name, context["bench_params"], parsed))

        return remember

    for client in clients:
        client.meta.events.register("provide-client-params", remember_params, "bench-tape-p")
        client.meta.events.register_last("after-call", remember_answer(client), "bench-tape-a")
    try:
        request()
    finally:
        for client in clients:
            client.meta.events.unregister("provide-client-params", unique_id="bench-tape-p")
            client.meta.events.unregister("after-call", unique_id="bench-tape-a")
    return tape


class Replay:
    """Stubbers on the clients, loaded with the tape's answers for one repetition."""

    def __init__(self, clients: list[Any], tape: list[TapeEntry]) -> None:
        self._stubbers = {id(client): Stubber(client) for client in clients}
        self._tape = tape

    def __enter__(self) -> Replay:
        for entry in self._tape:
            self._stubbers[id(entry.client)].add_response(
                xform_name(entry.operation), entry.response
            )
        for stubber in self._stubbers.values():
            stubber.activate()
        return self

    def __exit__(self, *_: object) -> None:
        for stubber in self._stubbers.values():
            stubber.assert_no_pending_responses()
            stubber.deactivate()


def bare_calls(tape: list[TapeEntry]) -> None:
    for entry in tape:
        getattr(entry.client, xform_name(entry.operation))(**entry.params)


def profile_top(
    clients: list[Any], tape: list[TapeEntry], request: Callable[[], Any], runs: int = 50
) -> dict[str, float]:
    """Where a request's time goes: own time per package (ms per request) over `runs`
    stubbed repetitions, largest first."""
    profiler = cProfile.Profile()
    for _ in range(runs):
        with Replay(clients, tape):
            profiler.runcall(request)
    totals: dict[str, float] = {}
    raw: Any = pstats.Stats(profiler)
    for (filename, _, _), (_, _, own, _, _) in raw.stats.items():
        package = _package_of(filename)
        totals[package] = totals.get(package, 0.0) + own / runs * 1000
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:8]
    return {package: round(ms, 3) for package, ms in ranked}


def _package_of(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", maxsplit=1)[0]
    if "/lambdas/" in filename:
        return "meetings (ours)"
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (locks, C functions)"
    return "stdlib"


def _route_requests(backend: Backend) -> dict[str, tuple[dict[str, Any], int]]:
    """route → (the API Gateway event, the status it must answer)."""
    _, created = backend.api("POST", "/meetings", body={})
    meeting_id = created["meeting"]["meetingId"]
    return {
        "create": (backend.api_event("POST", "/meetings", body={}), 201),
        "join": (backend.api_event("POST", f"/meetings/{meeting_id}/attendees", user="bob"), 201),
        "get meeting": (backend.api_event("GET", f"/meetings/{meeting_id}"), 200),
    }


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(runs: int = 200) -> list[Figure]:
    from meetings.adapters import aws_clients  # noqa: PLC0415

    figures = []
    with in_process_backend() as backend:
        backend.count_clients()
        clients = [aws_clients.dynamodb_client(), aws_clients.chime_client()]
        for route, (event, status) in _route_requests(backend).items():

            def request(event: dict[str, Any] = event, status: int = status) -> None:
                answer = backend.call_api(event)
                if answer["statusCode"] != status:
                    raise RuntimeError(f"unexpected {answer['statusCode']}: {answer.get('body')}")

            tape = record_tape(clients, request)
            own, total, bare = [], [], []
            for repetition in range(WARM_UP + runs):
                with Replay(clients, tape), backend.recorder.recording() as recorder:
                    elapsed = _timed(request)
                    aws = busy_seconds(recorder.calls)
                with Replay(clients, tape):
                    floor = _timed(lambda tape=tape: bare_calls(tape))  # type: ignore[misc]
                if repetition >= WARM_UP:
                    total.append(elapsed * 1000)
                    own.append((elapsed - aws) * 1000)
                    bare.append(floor * 1000)
            added = Sample.of([t - b for t, b in zip(total, bare, strict=True)])
            goal = route in {"create", "join"}
            profile = profile_top(clients, tape, request) if goal else []
            figures.append(
                Figure(
                    f"per-request overhead ratio, {route} (handler total vs bare boto3 calls)",
                    Sample.of(total),
                    Sample.of(bare),
                    " ms",
                    goal=f"<= {ADDED_MS_GOAL} ms added (median)" if goal else "",
                    met=added.median <= ADDED_MS_GOAL if goal else None,
                    notes={
                        "added ms (median)": round(added.median, 3),
                        "handler own ms (total minus time in AWS calls)": round(
                            Sample.of(own).median, 3
                        ),
                        "calls": [entry.operation for entry in tape],
                        "profile, own ms per request": profile,
                    },
                )
            )
    return figures
