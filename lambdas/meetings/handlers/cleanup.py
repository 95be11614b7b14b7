"""Lambda entry point: the scheduled cleanup (EventBridge Scheduler invokes it with its input).

Input `{}` (the schedule's default): the meetings due now. Input
`meetings.deployment.RECONCILE_ALL_INPUT` (`{"reconcile": "all"}`): every open meeting now.
Answers with a summary: counts ended, reconciled, skipped, and whether the run got through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings import deployment
from meetings.adapters.chime import ChimeGateway
from meetings.adapters.table.cleanup import CleanupTable
from meetings.adapters.table.store import MeetingTable
from meetings.handlers.events import count_meeting_end
from meetings.observability import logger, metrics, traced
from meetings.service.cleanup import CleanupService
from meetings.settings import get_settings


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


# The clock the cleanup decides by; tests and the local stack may replace it.
clock: Callable[[], int] = wall_clock_ms


def _now_ms() -> int:
    # Looked up at each call, so a clock replaced after the service was built still counts.
    return clock()


@cache
def cleanup_service() -> CleanupService:
    settings = get_settings()
    meetings = MeetingTable(
        settings.table_name,
        reconcile_interval_seconds=settings.reconcile_interval_seconds,
        retention_days=settings.retention_days,
        end_settle_seconds=settings.end_settle_seconds,
    )
    return CleanupService(
        CleanupTable(settings.table_name),
        meetings,
        ChimeGateway(),
        clock=_now_ms,
        reconcile_interval_seconds=settings.reconcile_interval_seconds,
    )


def _wants_everything(event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    return all(event.get(name) == value for name, value in deployment.RECONCILE_ALL_INPUT.items())


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    summary = cleanup_service().run(
        reconcile_all=_wants_everything(event),
        time_left_ms=context.get_remaining_time_in_millis,
    )
    # Each end is counted once, with its final reason: at the end, or at settlement.
    for ended in summary.ended_meetings:
        if ended.end_reason_final:
            count_meeting_end(ended)
    for settled in summary.settled_meetings:
        count_meeting_end(settled)
    logger.info("cleanup done", extra=summary.as_dict())
    return summary.as_dict()
