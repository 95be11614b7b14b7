"""MeetingsStack: the whole backend, composed of one construct per concern."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aws_cdk import CfnOutput, Environment, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from meetings import deployment
from meetings.observability import METRICS_NAMESPACE, SERVICE_NAME

from infra.api import MeetingsApi
from infra.auth import Identity
from infra.bundling import function_code
from infra.cleanup import CleanupSchedule
from infra.config import MeetingsConfig
from infra.data import MeetingsTable
from infra.events import ChimeEventIngestion
from infra.function import MeetingsFunction, pascal_case
from infra.media import MediaRecording
from infra.observability import Monitoring
from infra.permissions import table_statements
from infra.publisher import DomainEventBus, StreamPublisher
from infra.webhooks import WebhookDelivery

# Fixed output names: scripts and the README find the deployment's endpoints by these.
OUTPUT_API_URL = "ApiUrl"
OUTPUT_USER_POOL_ID = "UserPoolId"
OUTPUT_USER_POOL_CLIENT_ID = "UserPoolClientId"
OUTPUT_JWT_ISSUER = "JwtIssuer"
OUTPUT_TABLE_NAME = "TableName"
OUTPUT_EVENT_BUS_NAME = "EventBusName"
OUTPUT_ALARM_TOPIC_ARN = "AlarmTopicArn"
OUTPUT_DASHBOARD_NAME = "DashboardName"
OUTPUT_RECORDINGS_BUCKET = "RecordingsBucketName"
OUTPUT_WEBHOOK_KEY_ARN = "WebhookKeyArn"
OUTPUT_WEBHOOK_DELIVERY_QUEUE_URL = "WebhookDeliveryQueueUrl"
OUTPUT_WEBHOOK_DEAD_LETTER_QUEUE_URL = "WebhookDeadLetterQueueUrl"
# The variables of the settings the stack fills with deployed resources (Settings'
# recordings_bucket, account_id, webhook_key_id, webhook_{delivery,retry}_queue_url). Their values
# are CloudFormation's (tokens at synth time), set as they are: the settings' own rules
# (a bucket name's pattern, 12 digits) hold for what CloudFormation resolves, not for tokens.
RECORDINGS_BUCKET_VARIABLE: Final = "RECORDINGS_BUCKET"
ACCOUNT_ID_VARIABLE: Final = "ACCOUNT_ID"
WEBHOOK_KEY_ID_VARIABLE: Final = "WEBHOOK_KEY_ID"
WEBHOOK_DELIVERY_QUEUE_URL_VARIABLE: Final = "WEBHOOK_DELIVERY_QUEUE_URL"
WEBHOOK_RETRY_QUEUE_URL_VARIABLE: Final = "WEBHOOK_RETRY_QUEUE_URL"


def function_environment(
    config: MeetingsConfig,
    *,
    table_name: str,
    event_bus_name: str,
    deployed: Mapping[str, str],
) -> dict[str, str]:
    """Every variable of the functions' settings model, the deployed resources' variables
    (`deployed`, by variable name), plus Powertools' own."""
    settings = config.function_settings(table_name=table_name, event_bus_name=event_bus_name)
    environment = settings.to_environ()
    environment.update(deployed)
    environment.update(
        POWERTOOLS_SERVICE_NAME=SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE=METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL=config.log_level,
        # Responses carry join tokens: never into traces, and never log whole events
        # (they carry the Authorization header).
        POWERTOOLS_TRACER_CAPTURE_RESPONSE="false",
        POWERTOOLS_LOGGER_LOG_EVENT="false",
    )
    return environment


class MeetingsStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: MeetingsConfig,
        code: lambda_.Code | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=config.account, region=config.region),
            description=(
                "Amazon Chime SDK meetings backend (API, events, outbox, cleanup, recordings, "
                "webhooks)"
            ),
            **kwargs,
        )
        self.config = config
        Tags.of(self).add("project", "chime-meetings-backend")
        Tags.of(self).add("stage", config.stage)

        self.data = MeetingsTable(self, "Data", config=config)
        self.domain_events = DomainEventBus(self, "DomainEvents")
        self.identity = Identity(self, "Identity", config=config)
        self.media = MediaRecording(self, "Media", config=config)
        self.webhooks = WebhookDelivery(self, "Webhooks", config=config, bus=self.domain_events.bus)
        self.functions = self._functions(config, code or function_code())

        self.api_alias = self.functions["api"].published_alias()
        self.api = MeetingsApi(
            self,
            "Api",
            config=config,
            handler=self.api_alias,
            authorizer=self.identity.authorizer,
        )
        self.chime_events = ChimeEventIngestion(
            self, "ChimeEvents", consumer=self.functions["events"]
        )
        self.outbox = StreamPublisher(
            self,
            "Outbox",
            table=self.data.table,
            bus=self.domain_events.bus,
            publisher=self.functions["publisher"],
        )
        self.cleanup = CleanupSchedule(
            self, "Cleanup", config=config, cleanup=self.functions["cleanup"]
        )
        self.media.connect(self.functions)
        self.webhooks.connect(self.functions)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            http_api=self.api.http_api,
            functions=self.functions,
            event_queue=self.chime_events.queue,
            dead_letter_queues={
                "ChimeEvents": self.chime_events.dead_letter_queue,
                "ChimeRule": self.chime_events.rule_dead_letter_queue,
                "Outbox": self.outbox.dead_letter_queue,
                "Cleanup": self.cleanup.dead_letter_queue,
                **self.webhooks.dead_letter_queues,
            },
            feature_alarms=[*self.media.alarms, *self.webhooks.alarms],
        )
        self._outputs()

    def _functions(self, config: MeetingsConfig, code: lambda_.Code) -> dict[str, MeetingsFunction]:
        environment = function_environment(
            config,
            table_name=self.data.table.table_name,
            event_bus_name=self.domain_events.bus.event_bus_name,
            deployed={
                RECORDINGS_BUCKET_VARIABLE: self.media.bucket.bucket_name,
                ACCOUNT_ID_VARIABLE: self.account,
                WEBHOOK_KEY_ID_VARIABLE: self.webhooks.key.key_arn,
                WEBHOOK_DELIVERY_QUEUE_URL_VARIABLE: self.webhooks.deliveries_queue.queue_url,
                WEBHOOK_RETRY_QUEUE_URL_VARIABLE: self.webhooks.retries_queue.queue_url,
            },
        )
        functions = {}
        for name in deployment.HANDLERS:
            function = MeetingsFunction(
                self,
                f"{pascal_case(name)}Function",
                name=name,
                code=code,
                environment=environment,
                config=config,
            )
            function.grant(*table_statements(name, self.data.table))
            function.grant_chime()
            functions[name] = function
        return functions

    def _outputs(self) -> None:
        outputs = {
            OUTPUT_API_URL: (self.api.url, "Base URL of the meetings API"),
            OUTPUT_JWT_ISSUER: (self.identity.issuer, "Issuer the JWT authorizer trusts"),
            OUTPUT_TABLE_NAME: (self.data.table.table_name, "DynamoDB table"),
            OUTPUT_EVENT_BUS_NAME: (self.domain_events.bus.event_bus_name, "Domain event bus"),
            OUTPUT_ALARM_TOPIC_ARN: (self.monitoring.topic.topic_arn, "SNS topic of the alarms"),
            OUTPUT_DASHBOARD_NAME: (
                self.monitoring.dashboard.dashboard_name,
                "CloudWatch dashboard",
            ),
            OUTPUT_RECORDINGS_BUCKET: (self.media.bucket.bucket_name, "Recordings bucket"),
            OUTPUT_WEBHOOK_KEY_ARN: (self.webhooks.key.key_arn, "KMS key of webhook secrets"),
            OUTPUT_WEBHOOK_DELIVERY_QUEUE_URL: (
                self.webhooks.deliveries_queue.queue_url,
                "Webhook deliveries queue",
            ),
            OUTPUT_WEBHOOK_DEAD_LETTER_QUEUE_URL: (
                self.webhooks.deliveries_dead_letter_queue.queue_url,
                "Webhook deliveries that exhausted their retries",
            ),
        }
        if self.identity.user_pool is not None and self.identity.client is not None:
            outputs[OUTPUT_USER_POOL_ID] = (self.identity.user_pool.user_pool_id, "User pool")
            outputs[OUTPUT_USER_POOL_CLIENT_ID] = (
                self.identity.client.user_pool_client_id,
                "App client id (the JWT audience)",
            )
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
