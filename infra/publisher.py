"""The outbox: the table's change stream → the publisher → the project's own event bus.

Domain events come from committed state only. The stream keeps per-item order; records the
publisher cannot handle are retried in halves (bisect) and, after that, described in a
dead-letter queue so nothing is lost silently.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.acknowledgments import acknowledge_scan
from infra.function import MeetingsFunction
from infra.queues import dead_letter_queue_of

LIST_STREAMS_REASON: Final = (
    "The DynamoDB stream event source needs dynamodb:ListStreams, which supports no "
    "resource-level permissions; the stream's own reads are scoped to the stream ARN."
)
STREAM_DEAD_LETTERS_REASON: Final = (
    "The table stream's event source invokes the publisher synchronously; records it keeps "
    "failing are described in the outbox dead-letter queue (alarmed), its on-failure "
    "destination. A Lambda dead-letter queue catches only failed asynchronous invocations."
)
STREAM_CONCURRENCY_REASON: Final = (
    "The stream's event source runs one batch per shard at a time (parallelization factor "
    "1), so the table's stream shards bound the publisher's concurrency; it calls no Chime "
    "API, and a reservation would only be taken from the account's pool."
)


class DomainEventBus(Construct):
    """The project's own bus, where meeting.* and attendee.* events are published."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(
            self, "Bus", description="Domain events of the Chime meetings backend"
        )


class StreamPublisher(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        bus: events.IEventBus,
        publisher: MeetingsFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue_of(
            "the table stream's event source", self, "DeadLetterQueue"
        )
        publisher.function.add_event_source(
            sources.DynamoEventSource(
                table,
                # From the oldest record kept: a deploy must not skip committed changes.
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=100,
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                retry_attempts=10,
                max_record_age=Duration.hours(24),
                # One batch per shard at a time: events of one meeting stay in commit order.
                parallelization_factor=1,
                on_failure=sources.SqsDlq(self.dead_letter_queue),
            )
        )
        publisher.accept_unscoped(LIST_STREAMS_REASON)
        acknowledge_scan(publisher.function, "CKV_AWS_116", STREAM_DEAD_LETTERS_REASON)
        acknowledge_scan(publisher.function, "CKV_AWS_115", STREAM_CONCURRENCY_REASON)
        bus.grant_put_events_to(publisher.function)
