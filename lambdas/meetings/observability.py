"""Logger, Tracer and Metrics for every function: configured here, once.

Join tokens must never reach a log line or a trace: responses are not captured by the tracer
(`capture_response=False` below, and POWERTOOLS_TRACER_CAPTURE_RESPONSE=false in the stack),
and botocore's loggers are kept above DEBUG, where they would print response bodies.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE_NAME = "meetings"
METRICS_NAMESPACE = "ChimeMeetings"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
# Most invocations count nothing (a read, a batch of presence events): an invocation without
# application metrics is normal here, not the mistake Powertools warns about at every flush.
# The filter is the one Powertools' metrics documentation gives for such functions.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# botocore and urllib3 log full request and response bodies (join tokens included) at DEBUG.
for _noisy in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_noisy).setLevel(max(logging.INFO, logging.getLogger(_noisy).level))

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])
_TRUTHY: Final = frozenset({"1", "y", "yes", "t", "true", "on"})


def tracing_enabled() -> bool:
    """Powertools' own rule: off when POWERTOOLS_TRACE_DISABLED says so, and outside Lambda
    (no LAMBDA_TASK_ROOT) or under SAM local / Chalice, where no X-Ray daemon listens."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUTHY:
        return False
    in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT"))
    emulated = bool(os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE"))
    return in_lambda and not emulated


def traced(handler: HandlerT) -> HandlerT:
    """The handler inside an X-Ray subsegment when tracing is on (responses never captured).

    With tracing off the X-Ray SDK is not even imported: Powertools' Tracer imports it (and
    wrapt, asyncio) on construction, 10-30 ms of every cold start."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - only when tracing is on

    tracer = Tracer(service=SERVICE_NAME)
    return cast("HandlerT", tracer.capture_lambda_handler(handler, capture_response=False))


MEETINGS_ENDED_METRIC: Final = "MeetingsEnded"
# The one dimension `MeetingsEnded` is split by, named like the API's field.
END_REASON_DIMENSION: Final = "endReason"


def count_meeting_end(end_reason: str) -> None:
    """One `MeetingsEnded` data point, dimensioned by the end reason (a metric of its own:
    its dimensions are not the invocation's)."""
    with single_metric(
        name=MEETINGS_ENDED_METRIC, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name="service", value=SERVICE_NAME)
        metric.add_dimension(name=END_REASON_DIMENSION, value=end_reason)


def count(name: str) -> None:
    """One Count data point in the invocation's metrics."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
