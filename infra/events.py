"""Chime's meeting events: the rule on the default bus → an SQS queue → the events function.

The queue between the rule and the function absorbs bursts and retries a failed record on
its own (partial batch responses) before it parks it in the dead-letter queue; the rule's
own dead-letter queue catches what EventBridge could not deliver to the queue at all.
"""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from meetings import deployment

from infra.acknowledgments import acknowledge_scan
from infra.function import MeetingsFunction
from infra.queues import dead_letter_queue_of, encrypted_queue

# EventBridge pattern keys → aws_events.EventPattern arguments.
_PATTERN_FIELDS: Final = {
    "source": "source",
    "detail-type": "detail_type",
    "detail": "detail",
    "account": "account",
    "region": "region",
    "resources": "resources",
}
# AWS's advice for an SQS event source: visibility timeout at least 6x the function timeout.
VISIBILITY_FACTOR: Final = 6
QUEUE_DEAD_LETTERS_REASON: Final = (
    "An SQS event source invokes this function synchronously; a record it keeps failing goes "
    "to the source queue's own dead-letter queue (alarmed). A Lambda dead-letter queue "
    "catches only failed asynchronous invocations, which this function never has."
)


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    """The shared pattern constant as CDK's EventPattern (unknown keys are an error)."""
    unknown = set(pattern) - set(_PATTERN_FIELDS)
    if unknown:
        raise ValueError(f"unsupported event pattern keys: {sorted(unknown)}")
    return events.EventPattern(**{_PATTERN_FIELDS[key]: value for key, value in pattern.items()})


def queue_target(queue: sqs.IQueue, dead_letter_queue: sqs.IQueue) -> targets.SqsQueue:
    """A rule's queue target: EventBridge retries a failed put for a day (its maximum), then
    parks the event in the rule's own dead-letter queue."""
    return targets.SqsQueue(
        queue,
        dead_letter_queue=dead_letter_queue,
        retry_attempts=185,
        max_event_age=Duration.hours(24),
    )


class ChimeEventIngestion(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, consumer: MeetingsFunction) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = encrypted_queue(self, "DeadLetterQueue")
        self.queue = encrypted_queue(
            self,
            "Queue",
            visibility_timeout=Duration.seconds(consumer.timeout.to_seconds() * VISIBILITY_FACTOR),
            dead_letter_queue=self.dead_letter_queue,
        )
        self.rule_dead_letter_queue = dead_letter_queue_of(
            "the Chime rule's target", self, "RuleDeadLetterQueue"
        )
        self.rule = events.Rule(
            self,
            "ChimeMeetingEvents",
            description="Chime SDK meeting and media pipeline state changes to the events queue",
            event_pattern=event_pattern(deployment.CHIME_EVENT_PATTERN),
        )
        self.rule.add_target(queue_target(self.queue, self.rule_dead_letter_queue))
        consumer.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=10,
                report_batch_item_failures=True,
                # No more batches at once than the function may run: beyond its reserved
                # concurrency the source would only be throttled and retry.
                max_concurrency=consumer.reserved_concurrency,
            )
        )
        acknowledge_scan(consumer.function, "CKV_AWS_116", QUEUE_DEAD_LETTERS_REASON)
