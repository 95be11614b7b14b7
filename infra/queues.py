"""SQS queues as every queue of the stack is made: SSE-SQS, TLS only, 14 days to look at."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct


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
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        visibility_timeout=visibility_timeout,
        dead_letter_queue=(
            sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=max_receive_count)
            if dead_letter_queue is not None
            else None
        ),
    )
