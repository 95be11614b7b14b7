"""What the local stack's terminal shows: one short line per API request and one per batch of
events a function handled (Chime events, a cleanup run, webhook deliveries).

A request line names its caller by the `sub` claim the gateway verified ('-' without one);
no line ever holds a header, a token or a body. The functions' own structured logs and metric
lines go elsewhere unless the stack runs verbose (local/cli.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Final

log = logging.getLogger("local.activity")

Invoke = Callable[[dict[str, Any]], Any]
NOBODY: Final = "-"


def request_line(method: str, path: str, status: int, elapsed_ms: float, who: str | None) -> str:
    """`POST /meetings 201 12ms alice`."""
    return f"{method} {path} {status} {elapsed_ms:.0f}ms {who or NOBODY}"


def event_line(function: str, what: str, outcome: str, elapsed_ms: float) -> str:
    """`events: 2 Chime events (AttendeeJoined, MeetingStarted) → ok 35ms`."""
    return f"{function}: {what} → {outcome} {elapsed_ms:.0f}ms"


def report_request(method: str, path: str, status: int, elapsed_ms: float, who: str | None) -> None:
    log.info(request_line(method, path, status, elapsed_ms, who))


def _tally(names: Iterable[str]) -> str:
    """`AttendeeJoined x2, MeetingStarted` in first-seen order."""
    return ", ".join(
        name if times == 1 else f"{name} x{times}" for name, times in Counter(names).items()
    )


def _bodies(event: dict[str, Any]) -> list[dict[str, Any]]:
    bodies = []
    for record in event.get("Records", []):
        try:
            body = json.loads(record.get("body") or "{}")
        except ValueError:
            body = {}
        bodies.append(body if isinstance(body, dict) else {})
    return bodies


def _chime_events(event: dict[str, Any]) -> str:
    names = []
    for body in _bodies(event):
        detail = body.get("detail")
        if not isinstance(detail, dict):
            detail = {}
        name = str(detail.get("eventType") or body.get("detail-type") or "unknown")
        names.append(name.removeprefix("chime:"))
    return f"{len(names)} Chime event{'s' if len(names) != 1 else ''} ({_tally(names)})"


def _deliveries(event: dict[str, Any]) -> str:
    names = [str(body.get("eventType") or "unknown") for body in _bodies(event)]
    return f"{len(names)} webhook deliver{'ies' if len(names) != 1 else 'y'} ({_tally(names)})"


def _cleanup_run(event: dict[str, Any]) -> str:
    return "reconcile every open meeting" if event.get("reconcile") == "all" else "run"


def _batch_outcome(event: dict[str, Any], result: Any) -> str:
    failed = len((result or {}).get("batchItemFailures", []))
    if not failed:
        return "ok"
    return f"{failed} of {len(event.get('Records', []))} back to the queue"


def _cleanup_outcome(_event: dict[str, Any], result: Any) -> str:
    summary = result if isinstance(result, dict) else {}
    counts = [
        f"{name} {summary[name]}"
        for name in ("ended", "settled", "reconciled", "recordingsChecked")
        if summary.get(name)
    ]
    outcome = ", ".join(counts) or "nothing due"
    return outcome if summary.get("complete", True) else f"{outcome}; more due next run"


# function → (what its input is, how it went), for the functions whose work a developer
# watches; the publisher and the webhook fan-out are the plumbing between them.
_REPORTED: Final[
    dict[str, tuple[Callable[[dict[str, Any]], str], Callable[[dict[str, Any], Any], str]]]
] = {
    "events": (_chime_events, _batch_outcome),
    "cleanup": (_cleanup_run, _cleanup_outcome),
    "webhook_delivery": (_deliveries, _batch_outcome),
}


def reported(function: str, invoke: Invoke) -> Invoke:
    """`invoke`, with one activity line per invocation when `function` is a reported one."""
    if function not in _REPORTED:
        return invoke
    describe, outcome = _REPORTED[function]

    def invoke_and_report(event: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            result = invoke(event)
        except Exception as failure:
            elapsed = (time.perf_counter() - started) * 1000
            log.info(event_line(function, describe(event), f"failed: {failure}", elapsed))
            raise
        elapsed = (time.perf_counter() - started) * 1000
        log.info(event_line(function, describe(event), outcome(event, result), elapsed))
        return result

    return invoke_and_report
