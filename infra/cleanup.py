"""EventBridge Scheduler → the cleanup function: ends over-long meetings, reconciles with
Chime, on the schedule expression from the config (the local stack runs the same one)."""

from __future__ import annotations

from typing import Final

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from constructs import Construct

from infra.acknowledgments import acknowledge, acknowledge_scan
from infra.config import MeetingsConfig
from infra.function import MeetingsFunction
from infra.queues import dead_letter_queue_of

SCHEDULER_INVOKE_REASON: Final = (
    "CDK's grantInvoke for the scheduler's role covers the cleanup function and its "
    "qualified ARNs (function:*, versions and aliases); it names this one function only."
)
SCHEDULED_RUN_DEAD_LETTERS_REASON: Final = (
    "Each run is a schedule tick with the input {}: a failed run leaves nothing to keep, "
    "since the next tick does its work again from the table. Failures raise the "
    "CleanupErrors alarm, and ticks the scheduler could not deliver go to the schedule's own "
    "dead-letter queue (alarmed)."
)


class CleanupSchedule(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: MeetingsConfig,
        cleanup: MeetingsFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue_of(
            "the cleanup schedule", self, "DeadLetterQueue"
        )
        # The schedule's own role (CDK would otherwise share one per stack): it may invoke
        # the cleanup function and write to this dead-letter queue, and only for this account.
        self.role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="EventBridge Scheduler: invokes the meetings cleanup",
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description="Runs the meetings cleanup and reconciliation",
            schedule=scheduler.ScheduleExpression.expression(config.cleanup_schedule),
            target=scheduler_targets.LambdaInvoke(
                cleanup.function,
                dead_letter_queue=self.dead_letter_queue,
                role=self.role,
                # `{}`: the scheduled behaviour (the meetings due now), as the handler documents.
                input=scheduler.ScheduleTargetInput.from_object({}),
                # A missed run is repaired by the next one: retry briefly, then record it.
                retry_attempts=2,
                max_event_age=Duration.minutes(5),
            ),
        )
        acknowledge_scan(cleanup.function, "CKV_AWS_116", SCHEDULED_RUN_DEAD_LETTERS_REASON)
        function = cleanup.function.node.default_child
        assert isinstance(function, CfnElement)
        function_arn = f"<{Stack.of(self).get_logical_id(function)}.Arn>"
        acknowledge(
            self.role, f"AwsSolutions-IAM5[Resource::{function_arn}:*]", SCHEDULER_INVOKE_REASON
        )
