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

The two functions that call Chime in the background, events and cleanup, have a reserved
concurrency (`reserved_concurrency`); the others are bounded by what invokes them, which the
module wiring each one acknowledges to the scanner.
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

from infra.acknowledgments import acknowledge, acknowledge_scan
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
# Every invocation of events or cleanup handles its records one at a time, so it has at most
# one Chime call outstanding: reserved concurrency caps their calls in flight, keeping Chime's
# account-wide request rate (about 10/s) for the api, whose callers wait (docs/deploy.md,
# "Reserved concurrency"). One cleanup at a time also keeps runs from overlapping.
CLEANUP_CONCURRENCY: Final = 1
NO_VPC_REASON: Final = (
    "The functions reach only public endpoints: AWS APIs (DynamoDB, SQS, EventBridge, S3, KMS, "
    "both Chime services) over TLS with IAM-signed requests, and customers' https:// webhook "
    "URLs. Nothing of the stack lives in a VPC, so one would only add NAT gateways or an "
    "interface endpoint per service in every zone (hourly cost) and reach nothing more."
)
ENVIRONMENT_KEY_REASON: Final = (
    "Lambda encrypts environment variables at rest with its AWS managed key. These hold only "
    "resource names, ARNs, a queue URL and settings, never a secret (webhook secrets are "
    "encrypted under the stack's own KMS key in the table), so a customer managed key would "
    "protect nothing more and add a key policy and a grant per role."
)
LOG_GROUP_KEY_REASON: Final = (
    "CloudWatch Logs encrypts every log group at rest with its own keys. The logs hold no "
    "secret: no join token, Authorization header or webhook secret is ever logged, and the "
    "API's access log records no header. A customer managed key would add a key policy for "
    "the regional Logs principal and cost per call, protecting nothing more."
)
LATEST_RUNTIME_REASON: Final = (
    "Python 3.13 is deliberate: the asset's wheels and bytecode are built and verified for "
    "3.13 (infra/bundling.py LAMBDA_PYTHON), and the code is tested on it. Moving to a newer "
    "runtime is a tested upgrade, not a synth-time default."
)


def reserved_concurrency(name: str, config: MeetingsConfig) -> int | None:
    """The concurrency reserved for function `name`: for those that call Chime in the
    background, None (the account's unreserved pool) for the others."""
    return {"events": config.events_concurrency, "cleanup": CLEANUP_CONCURRENCY}.get(name)


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
        self.reserved_concurrency = reserved_concurrency(name, config)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=config.log_retention,
            removal_policy=config.stateful_removal_policy,
        )
        acknowledge_scan(self.log_group, "CKV_AWS_158", LOG_GROUP_KEY_REASON)
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
            reserved_concurrent_executions=self.reserved_concurrency,
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
        acknowledge_scan(self.function, "CKV_AWS_117", NO_VPC_REASON)
        acknowledge_scan(self.function, "CKV_AWS_173", ENVIRONMENT_KEY_REASON)
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
