"""One Lambda function of the backend: its own role, its own log group, the shared code asset.

Sizes are chosen per function (see docs/deploy.md for the reasoning):
- api: 1024 MB, 25 s. Lambda gives CPU in proportion to memory and the request path is
  import- and JSON-heavy (pydantic, Powertools); 25 s stays under API Gateway's 30 s
  integration limit, so a slow request ends as a logged Lambda timeout, not a silent 503.
- events, publisher: 512 MB, 60 s. Batches of small records, a few DynamoDB or EventBridge
  calls each; 60 s covers a full batch with the adapters' bounded retries.
- cleanup: 512 MB, 60 s. It pages through due meetings and stops early when its time runs
  short; with the default one-minute schedule a longer timeout would only overlap runs.
- webhook_fanout: 512 MB, 60 s. A batch of domain events, one table query each, then one
  SendMessage batch per event onto the delivery queue.
- webhook_delivery: 512 MB, 60 s. A batch of up to 10 deliveries, POSTed concurrently with a
  10 s timeout each: the batch takes about one slow endpoint's time, not the sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from meetings import deployment

from infra.acknowledgments import acknowledge
from infra.config import MeetingsConfig
from infra.permissions import (
    CHIME_ACTIONS,
    MEDIA_PIPELINE,
    MEETING,
    chime_statements,
    resource_types_of,
)


@dataclass(frozen=True)
class FunctionSize:
    memory_mb: int
    timeout: Duration
    description: str


_DESCRIPTIONS: Final = {
    "api": "Meetings HTTP API (API Gateway HTTP API)",
    "events": "Applies Chime meeting events (SQS)",
    "publisher": "Publishes domain events from the table stream",
    "cleanup": "Ends over-long meetings and reconciles with Chime",
    "webhook_fanout": "Turns domain events into webhook deliveries (SQS)",
    "webhook_delivery": "Signs and POSTs webhook deliveries, with backoff (SQS)",
}
_TIMEOUT_SECONDS: Final = {"api": 25}  # every other function: 60 s
FUNCTION_SIZES: Final[dict[str, FunctionSize]] = {
    name: FunctionSize(
        deployment.FUNCTION_MEMORY_MB[name],
        Duration.seconds(_TIMEOUT_SECONDS.get(name, 60)),
        description,
    )
    for name, description in _DESCRIPTIONS.items()
}
API_ALIAS_NAME: Final = "live"
# Lambda's application log levels spell WARNING as WARN.
_LAMBDA_LOG_LEVELS: Final = {
    "DEBUG": lambda_.ApplicationLogLevel.DEBUG,
    "INFO": lambda_.ApplicationLogLevel.INFO,
    "WARNING": lambda_.ApplicationLogLevel.WARN,
    "ERROR": lambda_.ApplicationLogLevel.ERROR,
}
_UNSCOPED = "AwsSolutions-IAM5[Resource::*]"
_MEETING_CREATES: Final = frozenset({"CreateMeeting", "CreateMeetingWithAttendees"})
XRAY_REASON: Final = (
    "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no "
    "resource-level permissions, so Lambda's tracing statement must use '*'."
)
CREATE_MEETING_REASON: Final = (
    "chime:CreateMeeting and chime:CreateMeetingWithAttendees define no resource type in the "
    "Service Authorization Reference (the meeting does not exist before the call), so they "
    "can only be granted on '*'; the other meeting actions are scoped to meeting ARNs."
)
MEDIA_WITHOUT_RESOURCE_REASON: Final = (
    "chime:CreateMediaCapturePipeline, chime:CreateMediaConcatenationPipeline, "
    "chime:StartMeetingTranscription and chime:StopMeetingTranscription define no resource "
    "type in the Service Authorization Reference (the pipeline does not exist before the "
    "call, transcription is authorized without the meeting's ARN), so a role that calls them "
    "can only be granted them on '*'; reading and deleting pipelines is scoped to "
    "media-pipeline ARNs."
)
MEETING_ARNS_REASON: Final = (
    "Chime meeting ids are assigned by Chime at creation, so the policy can name meetings "
    "only by pattern: meeting/* of this account in this control region, nothing else."
)
MEDIA_PIPELINE_ARNS_REASON: Final = (
    "Chime media pipeline ids are assigned by Chime at creation, so the policy can name "
    "pipelines only by pattern: media-pipeline/* of this account in this region, nothing else."
)
LATEST_RUNTIME_REASON: Final = (
    "Python 3.13 is deliberate: the asset's wheels and bytecode are built and verified for "
    "3.13 (infra/bundling.py LAMBDA_PYTHON), and the code is tested on it. Moving to a newer "
    "runtime is a tested upgrade, not a synth-time default."
)


def pascal_case(name: str) -> str:
    """`webhook_delivery` → `WebhookDelivery`: a function's name in construct ids and alarms."""
    return "".join(part.capitalize() for part in name.split("_"))


class MeetingsFunction(Construct):
    """A function with a role that holds only what `grant`s add, and a log group it owns."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        code: lambda_.Code,
        environment: dict[str, str],
        config: MeetingsConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        size = FUNCTION_SIZES[name]
        self.name = name
        self.timeout = size.timeout
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=config.log_retention,
            removal_policy=config.stateful_removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"The {name} function of {config.stack_name}",
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="OwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            code=code,
            handler=deployment.HANDLERS[name],
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=size.memory_mb,
            timeout=size.timeout,
            description=size.description,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=_LAMBDA_LOG_LEVELS[config.log_level],
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment,
            snap_start=(
                lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS
                if name == "api" and config.snap_start
                else None
            ),
        )

        acknowledge(self.function, "AwsSolutions-L1", LATEST_RUNTIME_REASON)
        self._unscoped_reasons: list[str] = []
        self.accept_unscoped(XRAY_REASON)

    def grant(self, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            self.role.add_to_principal_policy(statement)

    def grant_chime(self) -> None:
        """The Chime actions this function calls, scoped to meetings and media pipelines
        wherever IAM allows."""
        stack = Stack.of(self)
        self.grant(*chime_statements(self.name, stack))
        actions = CHIME_ACTIONS[self.name]
        unscoped = {a for a in actions if not resource_types_of(a)}
        if unscoped & _MEETING_CREATES:
            self.accept_unscoped(CREATE_MEETING_REASON)
        if unscoped - _MEETING_CREATES:
            self.accept_unscoped(MEDIA_WITHOUT_RESOURCE_REASON)
        # cdk-nag prints the ARN as the template has it: pseudo parameters in <>.
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        types = {t for a in actions for t in resource_types_of(a)}
        for resource_type, reason in (
            (MEETING, MEETING_ARNS_REASON),
            (MEDIA_PIPELINE, MEDIA_PIPELINE_ARNS_REASON),
        ):
            if resource_type in types:
                arn = f"arn:<AWS::Partition>:chime:{stack.region}:{account}:{resource_type}/*"
                acknowledge(self.role, f"AwsSolutions-IAM5[Resource::{arn}]", reason)

    def accept_unscoped(self, reason: str) -> None:
        """A statement of this role that must name `*`, and why: the role's one
        acknowledgment of the finding carries every such reason, in the order they came."""
        self._unscoped_reasons.append(reason)
        acknowledge(self.role, _UNSCOPED, " ".join(self._unscoped_reasons))

    def published_alias(self) -> lambda_.Alias:
        """A published version behind a stable alias: what SnapStart snapshots, and what
        API Gateway invokes (a new deploy moves the alias, never the integration)."""
        return lambda_.Alias(
            self, "Alias", alias_name=API_ALIAS_NAME, version=self.function.current_version
        )
