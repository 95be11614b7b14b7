"""Lambda entry point: the scheduled cleanup (EventBridge Scheduler invokes it with its input).

Input `{}` (the schedule's default): the meetings due now. Input
`meetings.deployment.RECONCILE_ALL_INPUT` (`{"reconcile": "all"}`): every open meeting now.
Answers with a summary: counts ended, reconciled, skipped, and whether the run got through.
The instant it decides by is the container's clock (meetings.wiring).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from meetings import deployment, wiring
from meetings.observability import count_meeting_end, logger, metrics, traced


def _wants_everything(event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    return all(event.get(name) == value for name, value in deployment.RECONCILE_ALL_INPUT.items())


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    summary = wiring.container().cleanup.run(
        reconcile_all=_wants_everything(event),
        time_left_ms=context.get_remaining_time_in_millis,
    )
    # Each end is counted once, with its final reason: at the end, or at settlement.
    for ended in summary.ended_meetings:
        if ended.end_reason_final:
            count_meeting_end(str(ended.endReason))
    for settled in summary.settled_meetings:
        count_meeting_end(str(settled.endReason))
    logger.info("cleanup done", extra=summary.as_dict())
    return summary.as_dict()
