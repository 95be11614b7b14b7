"""Webhooks: the key, the rule on the project's bus, the queues' retry arithmetic, the alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfn_render import render
from meetings import deployment
from moto.events.models import EventPattern
from synth_support import Deployment

from infra import webhooks
from infra.function import FUNCTION_SIZES

SQS_MAX_VISIBILITY_SECONDS = 12 * 3600
DAY_SECONDS = 24 * 3600


def queue(stack: Deployment, construct: Any) -> dict[str, Any]:
    props: dict[str, Any] = stack.resources[stack.logical_id(construct)]["Properties"]
    return props


def test_the_secrets_key_rotates_and_follows_the_removal_policy(
    default: Deployment, custom: Deployment
) -> None:
    key_id = default.logical_id(default.stack.webhooks.key)
    key = default.resources[key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    custom_key = custom.resources[custom.logical_id(custom.stack.webhooks.key)]
    assert custom_key["DeletionPolicy"] == "Delete"


def domain_event(source: str, detail_type: str) -> dict[str, Any]:
    return {
        "version": "0",
        "source": source,
        "detail-type": detail_type,
        "account": "123456789012",
        "region": "us-east-1",
        "detail": {"meetingId": "m-1", "sequence": 1},
    }


@pytest.mark.parametrize(
    ("stack_name", "source"),
    [("default", deployment.DEFAULT_DOMAIN_EVENT_SOURCE), ("custom", "acme.meetings")],
)
def test_the_rule_on_the_project_bus_takes_every_domain_event(
    stack_name: str, source: str, request: pytest.FixtureRequest
) -> None:
    stack: Deployment = request.getfixturevalue(stack_name)
    hooks = stack.stack.webhooks
    rule = stack.resources[stack.logical_id(hooks.rule)]["Properties"]
    assert rule["EventPattern"] == deployment.webhook_event_pattern(source)
    assert render(rule["EventBusName"]) == stack.logical_id(stack.stack.domain_events.bus)
    pattern = EventPattern.load(json.dumps(rule["EventPattern"]))
    for detail_type in deployment.DOMAIN_EVENT_TYPES:
        assert pattern.matches_event(domain_event(source, detail_type)), detail_type
    assert not pattern.matches_event(domain_event("someone.else", "meeting.ended"))
    assert not pattern.matches_event(domain_event(source, "webhook.ping"))
    (target,) = rule["Targets"]
    assert render(target["Arn"]) == f"{stack.logical_id(hooks.events_queue)}.Arn"
    rule_dlq = stack.logical_id(hooks.rule_dead_letter_queue)
    assert render(target["DeadLetterConfig"]["Arn"]) == f"{rule_dlq}.Arn"


def test_the_default_pattern_is_the_shared_constant() -> None:
    source = deployment.DEFAULT_DOMAIN_EVENT_SOURCE
    assert deployment.webhook_event_pattern(source) == deployment.WEBHOOK_EVENT_PATTERN


@pytest.mark.parametrize("lane", ["deliveries_queue", "retries_queue"])
def test_each_delivery_lane_lets_retries_span_a_day_and_more(
    lane: str, default: Deployment
) -> None:
    """Each attempt is one receive whose visibility the deliverer sets (at most 12 hours): the
    queue must keep a delivery through every receive it allows, and allow enough of them."""
    hooks = default.stack.webhooks
    props = queue(default, getattr(hooks, lane))
    receives = props["RedrivePolicy"]["maxReceiveCount"]
    retention = props["MessageRetentionPeriod"]
    assert receives >= webhooks.MIN_ATTEMPTS >= 12
    assert receives * SQS_MAX_VISIBILITY_SECONDS <= retention  # never expires mid-schedule
    assert retention >= DAY_SECONDS + SQS_MAX_VISIBILITY_SECONDS
    assert webhooks.MIN_RETRY_SPAN.to_seconds() >= DAY_SECONDS
    dlq = default.logical_id(hooks.deliveries_dead_letter_queue)
    assert render(props["RedrivePolicy"]["deadLetterTargetArn"]) == f"{dlq}.Arn"
    timeout = FUNCTION_SIZES["webhook_delivery"].timeout.to_seconds()
    assert props["VisibilityTimeout"] >= timeout


def test_the_events_queue_feeds_the_fanout_with_a_dead_letter_queue(default: Deployment) -> None:
    hooks = default.stack.webhooks
    props = queue(default, hooks.events_queue)
    assert props["VisibilityTimeout"] == 6 * FUNCTION_SIZES["webhook_fanout"].timeout.to_seconds()
    dlq = default.logical_id(hooks.events_dead_letter_queue)
    assert render(props["RedrivePolicy"]["deadLetterTargetArn"]) == f"{dlq}.Arn"


@pytest.mark.parametrize(
    ("function", "queue_attribute"),
    [
        ("webhook_fanout", "events_queue"),
        ("webhook_delivery", "deliveries_queue"),
        ("webhook_delivery", "retries_queue"),
    ],
)
def test_each_queue_feeds_its_function_with_partial_batch_failures(
    function: str, queue_attribute: str, default: Deployment
) -> None:
    source = default.logical_id(getattr(default.stack.webhooks, queue_attribute))
    target = default.logical_id(default.stack.functions[function].function)
    default.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [source, "Arn"]},
            "FunctionName": {"Ref": target},
            "BatchSize": webhooks.BATCH_SIZE,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_the_retry_lane_can_never_hold_all_of_the_deliverers_concurrency(
    default: Deployment,
) -> None:
    hooks = default.stack.webhooks
    deliverer = default.logical_id(default.stack.functions["webhook_delivery"].function)
    limits = {
        render(m["Properties"]["EventSourceArn"]): m["Properties"].get("ScalingConfig")
        for m in default.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": deliverer}
    }
    assert limits == {
        f"{default.logical_id(hooks.deliveries_queue)}.Arn": None,
        f"{default.logical_id(hooks.retries_queue)}.Arn": {
            "MaximumConcurrency": webhooks.RETRY_LANE_MAX_CONCURRENCY
        },
    }


def test_dead_letters_and_the_failure_rate_raise_alarms(default: Deployment) -> None:
    hooks = default.stack.webhooks
    watched = {
        render(a["Properties"]["Dimensions"][0]["Value"])
        for a in default.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    for dlq in hooks.dead_letter_queues.values():
        assert f"{default.logical_id(dlq)}.QueueName" in watched
    (rate,) = [
        a["Properties"]
        for a in default.of_type("AWS::CloudWatch::Alarm").values()
        if any(
            "FILL(failed, 0)" in m.get("Expression", "") for m in a["Properties"].get("Metrics", [])
        )
    ]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in rate["Metrics"] if "MetricStat" in m}
    assert names == {webhooks.DELIVERIES_FAILED_METRIC, webhooks.DELIVERIES_SUCCEEDED_METRIC}
    assert rate["Threshold"] == webhooks.FAILURE_RATE_PERCENT
