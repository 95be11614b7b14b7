"""One Lambda function of the backend: its own role, its own log group, the shared code asset.

Sizes are chosen per function (see docs/deploy.md for the reasoning):
- api: 1024 MB, 25 s. Lambda gives CPU in proportion to memory and the request path is
  import- and JSON-heavy (pydantic, Powertools); 25 s stays under API Gateway's 30 s
  integration limit, so a slow request ends as a logged Lambda timeout, not a silent 503.
- events, publisher: 512 MB, 60 s. Batches of small records, a few DynamoDB or EventBridge
  calls each; 60 s covers a full batch with the adapters' bounded retries.
- cleanup: 512 MB, 60 s. It pages through due meetings and stops early when its time runs
  short; with the default one-minute schedule a longer timeout would only overlap runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from meetings import deployment

from infra.config import MeetingsConfig


@dataclass(frozen=True)
class FunctionSize:
    memory_mb: int
    timeout: Duration
    description: str


FUNCTION_SIZES: Final[dict[str, FunctionSize]] = {
    "api": FunctionSize(1024, Duration.seconds(25), "Meetings HTTP API (API Gateway HTTP API)"),
    "events": FunctionSize(512, Duration.seconds(60), "Applies Chime meeting events (SQS)"),
    "publisher": FunctionSize(
        512, Duration.seconds(60), "Publishes domain events from the table stream"
    ),
    "cleanup": FunctionSize(
        512, Duration.seconds(60), "Ends over-long meetings and reconciles with Chime"
    ),
}
API_ALIAS_NAME: Final = "live"
# Lambda's application log levels spell WARNING as WARN.
_LAMBDA_LOG_LEVELS: Final = {
    "DEBUG": lambda_.ApplicationLogLevel.DEBUG,
    "INFO": lambda_.ApplicationLogLevel.INFO,
    "WARNING": lambda_.ApplicationLogLevel.WARN,
    "ERROR": lambda_.ApplicationLogLevel.ERROR,
}


_RETENTION: Final = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(config: MeetingsConfig) -> logs.RetentionDays:
    return _RETENTION[config.log_retention_days]


def removal_policy(config: MeetingsConfig) -> RemovalPolicy:
    return RemovalPolicy.RETAIN if config.removal_policy == "retain" else RemovalPolicy.DESTROY


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
            retention=log_retention(config),
            removal_policy=removal_policy(config),
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

    def grant(self, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            self.role.add_to_principal_policy(statement)

    def published_alias(self) -> lambda_.Alias:
        """A published version behind a stable alias: what SnapStart snapshots, and what
        API Gateway invokes (a new deploy moves the alias, never the integration)."""
        return lambda_.Alias(
            self, "Alias", alias_name=API_ALIAS_NAME, version=self.function.current_version
        )
