"""SQS queues as every queue of the stack is made: SSE-SQS, TLS only, 14 days to look at."""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.acknowledgments import acknowledge, acknowledge_scan

# The longest SQS keeps a message: time to look at a dead letter, and to retry a webhook.
QUEUE_RETENTION: Final = Duration.days(14)
DEAD_LETTER_QUEUE_REASON: Final = (
    "This queue is itself a dead-letter queue (of {owner}); it is watched by an alarm on its "
    "depth, and a dead-letter queue of a dead-letter queue would only hide failures."
)
SSE_SQS_REASON: Final = (
    "The queue is encrypted at rest with SSE-SQS (keys SQS owns); the check accepts only a "
    "KMS key. EventBridge cannot deliver to a queue under the AWS managed alias/aws/sqs key, "
    "and a customer managed key would add a key policy for EventBridge, the scheduler and "
    "Lambda and a KMS call per message, protecting nothing more."
)


def encrypted_queue(
    scope: Construct,
    construct_id: str,
    *,
    visibility_timeout: Duration | None = None,
    dead_letter_queue: sqs.IQueue | None = None,
    max_receive_count: int = 5,
) -> sqs.Queue:
    # SSE-SQS, not KMS: EventBridge cannot deliver to a queue under the `alias/aws/sqs` key,
    # and a customer managed key would add a key policy and cost for no reader we lack.
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=QUEUE_RETENTION,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=(
            sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=max_receive_count)
            if dead_letter_queue is not None
            else None
        ),
    )
    acknowledge_scan(queue, "CKV_AWS_27", SSE_SQS_REASON)
    return queue


def dead_letter_queue_of(owner: str, scope: Construct, construct_id: str) -> sqs.Queue:
    """The dead-letter queue of `owner`, a sender that is not a queue (a rule target, an event
    source mapping, a schedule), so cdk-nag cannot see that this queue is one."""
    queue = encrypted_queue(scope, construct_id)
    acknowledge(queue, "AwsSolutions-SQS3", DEAD_LETTER_QUEUE_REASON.format(owner=owner))
    return queue
