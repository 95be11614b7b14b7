"""Is it healthy? Alarms (to an SNS topic, optionally e-mailed) and one dashboard.

The topic is encrypted with a key of its own. CloudWatch publishes an alarm's notification
as its service principal, so both the topic's policy and the key's policy must let
`cloudwatch.amazonaws.com` in (a topic under the AWS managed `alias/aws/sns` key, whose policy
cannot be changed, would silently drop every notification); both grants hold only for alarms
of this account and region.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import MeetingsConfig
from infra.function import MeetingsFunction, pascal_case

PERIOD: Final = Duration.minutes(5)
API_5XX_PERCENT_THRESHOLD: Final = 1.0
# Chime events waiting longer than this mean the events function is not keeping up.
EVENT_AGE_THRESHOLD: Final = Duration.minutes(5)
# The stream's iterator age: how far domain events lag behind committed state.
STREAM_AGE_THRESHOLD: Final = Duration.minutes(5)
CLOUDWATCH_PRINCIPAL: Final = "cloudwatch.amazonaws.com"


@dataclass(frozen=True)
class AlarmSpec:
    """An alarm a feature's construct asks for: fires at `threshold` or more of `metric`."""

    construct_id: str
    metric: cloudwatch.IMetric
    threshold: float
    what: str


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: MeetingsConfig,
        http_api: apigwv2.HttpApi,
        functions: Mapping[str, MeetingsFunction],
        event_queue: sqs.IQueue,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        feature_alarms: Sequence[AlarmSpec] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic_key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"{config.stack_name}: encrypts alarm notifications",
            enable_key_rotation=True,
            # It guards notifications in transit through the topic, nothing kept: deleting the
            # stack schedules its deletion after KMS's shortest waiting period.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{config.stack_name} alarms",
            enforce_ssl=True,
            master_key=self.topic_key,
        )
        self._let_alarms_publish()
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []
        api_5xx = self._api_5xx_rate(http_api)
        self._alarm("Api5xxRate", api_5xx, API_5XX_PERCENT_THRESHOLD, "API 5xx responses (%)")
        for name, function in functions.items():
            self._alarm(
                f"{pascal_case(name)}Errors",
                function.function.metric_errors(period=PERIOD, statistic="Sum"),
                1,
                f"{name} function errors",
            )
            self._alarm(
                f"{pascal_case(name)}Throttles",
                function.function.metric_throttles(period=PERIOD, statistic="Sum"),
                1,
                f"{name} function throttles",
            )
        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                1,
                f"messages in the {name} dead-letter queue",
            )
        event_age = event_queue.metric_approximate_age_of_oldest_message(
            period=Duration.minutes(1), statistic="Maximum"
        )
        self._alarm("ChimeEventAge", event_age, EVENT_AGE_THRESHOLD.to_seconds(), "event age (s)")
        stream_age = functions["publisher"].function.metric(
            "IteratorAge", period=Duration.minutes(1), statistic="Maximum"
        )
        self._alarm(
            "StreamIteratorAge",
            stream_age,
            STREAM_AGE_THRESHOLD.to_milliseconds(),
            "domain event lag (ms)",
        )
        for spec in feature_alarms:
            self._alarm(spec.construct_id, spec.metric, spec.threshold, spec.what)
        self.dashboard = self._dashboard(
            config=config,
            http_api=http_api,
            functions=functions,
            api_5xx=api_5xx,
            event_age=event_age,
            stream_age=stream_age,
            dead_letter_queues=dead_letter_queues,
            feature_alarms=feature_alarms,
        )

    def _let_alarms_publish(self) -> None:
        """CloudWatch may publish to the topic, and use its key to, for this account's alarms
        in this region only (aws:SourceAccount, aws:SourceArn: no other account's alarm can
        make CloudWatch act for it here)."""
        stack = Stack.of(self)
        principal = iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)
        alarms_here = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": (
                    f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                )
            },
        }
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[principal],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=alarms_here,
            )
        )
        # SNS asks KMS for a data key with the publisher's credentials; in a key policy `*`
        # is this key.
        self.topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsEncrypt",
                principals=[principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=alarms_here,
            )
        )

    def _api_5xx_rate(self, http_api: apigwv2.HttpApi) -> cloudwatch.MathExpression:
        return cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={
                "errors": http_api.metric_server_error(period=PERIOD, statistic="Sum"),
                "requests": http_api.metric_count(period=PERIOD, statistic="Sum"),
            },
            label="5xx %",
            period=PERIOD,
        )

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, threshold: float, what: str
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{what} >= {threshold:g}",
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)

    def _dashboard(
        self,
        *,
        config: MeetingsConfig,
        http_api: apigwv2.HttpApi,
        functions: Mapping[str, MeetingsFunction],
        api_5xx: cloudwatch.IMetric,
        event_age: cloudwatch.IMetric,
        stream_age: cloudwatch.IMetric,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        feature_alarms: Sequence[AlarmSpec],
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=config.stack_name)
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(alarms=list(self.alarms), title="Alarms", width=24)
        )
        dashboard.add_widgets(
            _graph(
                "API requests",
                [
                    http_api.metric_count(period=PERIOD),
                    http_api.metric_client_error(period=PERIOD),
                    http_api.metric_server_error(period=PERIOD),
                ],
            ),
            _graph("API 5xx rate (%)", [api_5xx]),
            _graph(
                "API latency (ms)",
                [
                    http_api.metric_latency(period=PERIOD, statistic="p50"),
                    http_api.metric_latency(period=PERIOD, statistic="p99"),
                ],
            ),
        )
        dashboard.add_widgets(
            _graph("Invocations", [f.function.metric_invocations() for f in functions.values()]),
            _graph("Errors", [f.function.metric_errors() for f in functions.values()]),
            _graph("Throttles", [f.function.metric_throttles() for f in functions.values()]),
            _graph(
                "Duration p99 (ms)",
                [f.function.metric_duration(statistic="p99") for f in functions.values()],
            ),
        )
        dashboard.add_widgets(
            _graph("Chime event age (s)", [event_age]),
            _graph("Domain event lag (ms)", [stream_age]),
            _graph(
                "Dead letters",
                [
                    q.metric_approximate_number_of_messages_visible(label=name)
                    for name, q in dead_letter_queues.items()
                ],
            ),
        )
        if feature_alarms:
            dashboard.add_widgets(*(_graph(spec.what, [spec.metric]) for spec in feature_alarms))
        return dashboard


def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=8)
