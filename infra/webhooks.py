"""Webhook delivery: the project's bus → rule → events queue → fan-out → deliveries queue →
deliverer, plus the KMS key that encrypts the subscriptions' secrets.

Deliveries wait on two lanes: first attempts to healthy endpoints on the deliveries queue,
retries and every delivery to a failing endpoint on the retries queue, whose event source may
use at most RETRY_LANE_MAX_CONCURRENCY of the deliverer's concurrency, so slow endpoints never
take the capacity first attempts need. A first attempt that fails is sent to the retries queue
(delayed by its backoff). There the deliverer backs a failed delivery off by changing the
message's visibility (SQS allows at most 12 hours per receive) and reporting it as a batch
item failure, so each attempt is one receive. The queue must not cut that schedule
short: it keeps a message for RETENTION (14 days) and parks it in the dead-letter queue only
after DELIVERY_MAX_RECEIVES receives. Even at the 12 hour ceiling on every attempt those
receives span 20 x 12 h = 10 days, inside the retention; 24 hours of retries need only 3 of
them, an exponential schedule of MIN_ATTEMPTS or more fits, and the rest absorbs receives lost
to a throttled or timed-out invocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from meetings import deployment
from meetings.observability import METRICS_NAMESPACE, SERVICE_NAME

from infra.config import MeetingsConfig
from infra.events import VISIBILITY_FACTOR, event_pattern, queue_target
from infra.function import FUNCTION_SIZES, MeetingsFunction
from infra.observability import AlarmSpec
from infra.permissions import decrypt_webhook_secrets, encrypt_webhook_secrets, send_deliveries
from infra.queues import QUEUE_RETENTION, dead_letter_queue_of, encrypted_queue

# SQS's ceiling for one receive's visibility (ChangeMessageVisibility).
MAX_VISIBILITY: Final = Duration.hours(12)
RETENTION: Final = QUEUE_RETENTION
# Receives of one delivery before the dead-letter queue: the deliverer's schedule makes at
# least MIN_ATTEMPTS attempts over at least MIN_RETRY_SPAN; the rest is headroom.
DELIVERY_MAX_RECEIVES: Final = deployment.WEBHOOK_DELIVERY_MAX_RECEIVE_COUNT
MIN_ATTEMPTS: Final = 12
MIN_RETRY_SPAN: Final = Duration.hours(24)
# Both batch sizes: the fan-out reads one subscription query per event, the deliverer POSTs a
# batch concurrently (FUNCTION_SIZES explains the timeout).
BATCH_SIZE: Final = 10
# Concurrent deliverer invocations the retry lane may hold (each up to BATCH_SIZE attempts
# of up to 10 s): the first lane scales on with the rest of the function's concurrency.
RETRY_LANE_MAX_CONCURRENCY: Final = 20
# The deliverer counts one of these (Count, dimension `service`) per attempt.
DELIVERIES_FAILED_METRIC: Final = "WebhookDeliveriesFailed"
DELIVERIES_SUCCEEDED_METRIC: Final = "WebhookDeliveriesSucceeded"
FAILURE_RATE_PERIOD: Final = Duration.minutes(15)
FAILURE_RATE_PERCENT: Final = 50
# Fewer attempts than this in a period say nothing about a rate (one failure of one attempt).
FAILURE_RATE_MIN_ATTEMPTS: Final = 10


class WebhookDelivery(Construct):
    """The key, the queues and the rule; `connect` wires the functions to them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: MeetingsConfig,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "SecretsKey",
            description=f"{config.stack_name}: encrypts webhook signing secrets",
            enable_key_rotation=True,
            removal_policy=config.stateful_removal_policy,
        )
        self.events_dead_letter_queue = encrypted_queue(self, "EventsDeadLetterQueue")
        self.events_queue = encrypted_queue(
            self,
            "EventsQueue",
            visibility_timeout=_visibility_for("webhook_fanout"),
            dead_letter_queue=self.events_dead_letter_queue,
        )
        self.deliveries_dead_letter_queue = encrypted_queue(self, "DeliveriesDeadLetterQueue")
        self.deliveries_queue = encrypted_queue(
            self,
            "DeliveriesQueue",
            # The first attempt's; each retry sets its own backoff (up to MAX_VISIBILITY).
            visibility_timeout=_visibility_for("webhook_delivery"),
            dead_letter_queue=self.deliveries_dead_letter_queue,
            max_receive_count=DELIVERY_MAX_RECEIVES,
        )
        self.retries_queue = encrypted_queue(
            self,
            "RetriesQueue",
            visibility_timeout=_visibility_for("webhook_delivery"),
            dead_letter_queue=self.deliveries_dead_letter_queue,
            max_receive_count=DELIVERY_MAX_RECEIVES,
        )
        self.rule_dead_letter_queue = dead_letter_queue_of(
            "the webhook rule's target", self, "RuleDeadLetterQueue"
        )
        self.rule = events.Rule(
            self,
            "DomainEvents",
            description="Every domain event of the backend to the webhook events queue",
            event_bus=bus,
            event_pattern=event_pattern(
                deployment.webhook_event_pattern(config.domain_event_source)
            ),
        )
        self.rule.add_target(queue_target(self.events_queue, self.rule_dead_letter_queue))

    def connect(self, functions: Mapping[str, MeetingsFunction]) -> None:
        fanout = functions["webhook_fanout"]
        fanout.function.add_event_source(
            sources.SqsEventSource(
                self.events_queue, batch_size=BATCH_SIZE, report_batch_item_failures=True
            )
        )
        fanout.grant(send_deliveries(self.deliveries_queue, self.retries_queue))

        delivery = functions["webhook_delivery"]
        # The event sources' own grants cover ChangeMessageVisibility on their queues.
        delivery.function.add_event_source(
            sources.SqsEventSource(
                self.deliveries_queue, batch_size=BATCH_SIZE, report_batch_item_failures=True
            )
        )
        delivery.function.add_event_source(
            sources.SqsEventSource(
                self.retries_queue,
                batch_size=BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=RETRY_LANE_MAX_CONCURRENCY,
            )
        )
        delivery.grant(decrypt_webhook_secrets(self.key), send_deliveries(self.retries_queue))

        # The admin API encrypts a new secret and queues pings and redeliveries.
        functions["api"].grant(
            encrypt_webhook_secrets(self.key), send_deliveries(self.deliveries_queue)
        )

    @property
    def dead_letter_queues(self) -> dict[str, sqs.IQueue]:
        return {
            "WebhookEvents": self.events_dead_letter_queue,
            "WebhookRule": self.rule_dead_letter_queue,
            "WebhookDeliveries": self.deliveries_dead_letter_queue,
        }

    @property
    def alarms(self) -> list[AlarmSpec]:
        def count(metric_name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=metric_name,
                dimensions_map={"service": SERVICE_NAME},
                period=FAILURE_RATE_PERIOD,
                statistic="Sum",
            )

        # A period without failures (or successes) has no data point: count it as zero.
        failed, attempts = "FILL(failed, 0)", "(FILL(failed, 0) + FILL(succeeded, 0))"
        rate = cloudwatch.MathExpression(
            expression=(
                f"IF({attempts} >= {FAILURE_RATE_MIN_ATTEMPTS}, 100 * {failed} / {attempts}, 0)"
            ),
            using_metrics={
                "failed": count(DELIVERIES_FAILED_METRIC),
                "succeeded": count(DELIVERIES_SUCCEEDED_METRIC),
            },
            label="webhook delivery failures %",
            period=FAILURE_RATE_PERIOD,
        )
        return [
            AlarmSpec(
                "WebhookFailureRate", rate, FAILURE_RATE_PERCENT, "webhook delivery failures (%)"
            )
        ]


def _visibility_for(function: str) -> Duration:
    """AWS's advice for an SQS event source: at least 6x the consuming function's timeout."""
    return Duration.seconds(FUNCTION_SIZES[function].timeout.to_seconds() * VISIBILITY_FACTOR)
