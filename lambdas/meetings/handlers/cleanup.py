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
    container = wiring.container()
    summary = container.cleanup.run(
        reconcile_all=_wants_everything(event),
        time_left_ms=context.get_remaining_time_in_millis,
    )
    # Captures of the meetings this run ended stop now; every recording not final and due a
    # look is checked against Chime and the bucket (lost pipeline events repaired).
    for ended in summary.ended_meetings:
        container.media_events.after_end(ended.meetingId)
    media = container.media_events.check_due(context.get_remaining_time_in_millis)
    # Each end is counted once, with its final reason: at the end, or at settlement.
    for ended in summary.ended_meetings:
        if ended.end_reason_final:
            count_meeting_end(str(ended.endReason))
    for settled in summary.settled_meetings:
        count_meeting_end(str(settled.endReason))
    answer = summary.as_dict() | {
        "recordingsChecked": media.checked,
        "recordingsSkipped": media.skipped,
    }
    answer["complete"] = summary.complete and media.complete
    logger.info("cleanup done", extra=answer)
    return answer
