"""Least privilege: every IAM statement of every role, stated in full."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Token
from cfn_render import render, render_all
from meetings import deployment
from synth_support import Deployment

from infra.permissions import CHIME_ACTIONS

Statement = tuple[tuple[str, ...], tuple[str, ...]]  # (actions, resources), both sorted


def statements_of(stack: Deployment, role: Any) -> set[Statement]:
    role_id = stack.logical_id(role)
    found: set[Statement] = set()
    for policy in stack.of_type("AWS::IAM::Policy").values():
        if render_all(policy["Properties"]["Roles"]) != [role_id]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement
            assert "NotResource" not in statement
            actions = actions_of(statement)
            found.add((tuple(sorted(actions)), tuple(render_all(statement["Resource"]))))
    return found


def expected_statements(stack: Deployment, name: str) -> set[Statement]:
    """What each function needs, and nothing else."""
    s = stack.stack
    ids = {
        "table": stack.logical_id(s.data.table),
        "log_group": stack.logical_id(s.functions[name].log_group),
        "queue": stack.logical_id(s.chime_events.queue),
        "outbox_dlq": stack.logical_id(s.outbox.dead_letter_queue),
        "bus": stack.logical_id(s.domain_events.bus),
        "bucket": stack.logical_id(s.media.bucket),
        "key": stack.logical_id(s.webhooks.key),
        "events_queue": stack.logical_id(s.webhooks.events_queue),
        "deliveries": stack.logical_id(s.webhooks.deliveries_queue),
        "retries": stack.logical_id(s.webhooks.retries_queue),
    }
    account = "<AWS::AccountId>" if Token.is_unresolved(s.account) else s.account
    meetings = f"arn:<AWS::Partition>:chime:{stack.stack.region}:{account}:meeting/*"
    pipelines = f"arn:<AWS::Partition>:chime:{stack.stack.region}:{account}:media-pipeline/*"
    bucket = f"{ids['bucket']}.Arn"
    list_recordings = (("s3:ListBucket",), (bucket,))
    read_recordings = (("s3:GetObject",), (f"{bucket}/recordings/*",))
    read_sink_policy = (("s3:GetBucketPolicy",), (bucket,))
    send_deliveries = (("sqs:SendMessage",), (f"{ids['deliveries']}.Arn",))
    send_retries = (("sqs:SendMessage",), (f"{ids['retries']}.Arn",))
    both_lanes = (f"{ids['deliveries']}.Arn", f"{ids['retries']}.Arn")
    send_to_both_lanes = (("sqs:SendMessage",), both_lanes)
    consume = (
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
    )
    table = f"{ids['table']}.Arn"
    indexes = tuple(
        sorted(
            f"{table}/index/{n}" for n in [*deployment.GLOBAL_INDEXES, *deployment.LOCAL_INDEXES]
        )
    )
    common = {
        (("logs:CreateLogStream", "logs:PutLogEvents"), (f"{ids['log_group']}.Arn",)),
        (("xray:PutTelemetryRecords", "xray:PutTraceSegments"), ("*",)),
    }
    read_write = (
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    )
    table_access = {(read_write, (table,)), (("dynamodb:Query",), indexes)}
    by_function = {
        "api": {
            list_recordings,
            read_recordings,
            (tuple(sorted((*read_write, "dynamodb:DeleteItem"))), (table,)),
            (("dynamodb:Query",), indexes),
            (
                (
                    "chime:CreateMediaCapturePipeline",
                    "chime:CreateMediaConcatenationPipeline",
                    "chime:CreateMeeting",
                    "chime:CreateMeetingWithAttendees",
                    "chime:StartMeetingTranscription",
                    "chime:StopMeetingTranscription",
                ),
                ("*",),
            ),
            (
                (
                    "chime:BatchCreateAttendee",
                    "chime:BatchUpdateAttendeeCapabilitiesExcept",
                    "chime:CreateAttendee",
                    "chime:DeleteAttendee",
                    "chime:DeleteMeeting",
                    "chime:GetMeeting",
                    "chime:TagResource",
                    "chime:UpdateAttendeeCapabilities",
                ),
                (meetings,),
            ),
            (("chime:DeleteMediaPipeline",), (pipelines,)),
            read_sink_policy,
            (("kms:Encrypt",), (f"{ids['key']}.Arn",)),
            send_deliveries,
        },
        "events": table_access
        | {
            (consume, (f"{ids['queue']}.Arn",)),
            (
                (
                    "chime:CreateMediaCapturePipeline",
                    "chime:CreateMediaConcatenationPipeline",
                    "chime:StartMeetingTranscription",
                ),
                ("*",),
            ),
            (("chime:DeleteMediaPipeline",), (pipelines,)),
            list_recordings,
            read_sink_policy,
        },
        "cleanup": table_access
        | {
            list_recordings,
            (("chime:DeleteMeeting", "chime:GetMeeting"), (meetings,)),
            (("chime:CreateMediaConcatenationPipeline",), ("*",)),
            (("chime:DeleteMediaPipeline", "chime:GetMediaPipeline"), (pipelines,)),
            read_sink_policy,
        },
        "publisher": {
            (("dynamodb:GetItem", "dynamodb:PutItem"), (table,)),
            (("dynamodb:ListStreams",), ("*",)),
            (
                ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"),
                (f"{ids['table']}.StreamArn",),
            ),
            (
                ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"),
                (f"{ids['outbox_dlq']}.Arn",),
            ),
            (("events:PutEvents",), (f"{ids['bus']}.Arn",)),
        },
        "webhook_fanout": {
            (("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"), (table,)),
            (consume, (f"{ids['events_queue']}.Arn",)),
            send_to_both_lanes,
        },
        "webhook_delivery": {
            (read_write, (table,)),
            (consume, (f"{ids['deliveries']}.Arn",)),
            (consume, (f"{ids['retries']}.Arn",)),
            (("kms:Decrypt",), (f"{ids['key']}.Arn",)),
            send_retries,
        },
    }
    return common | by_function[name]


@pytest.mark.parametrize("name", list(deployment.HANDLERS))
@pytest.mark.parametrize("stack_name", ["default", "custom"])
def test_each_function_role_holds_exactly_what_it_needs(
    name: str, stack_name: str, request: pytest.FixtureRequest
) -> None:
    stack: Deployment = request.getfixturevalue(stack_name)
    role = stack.stack.functions[name].role
    assert statements_of(stack, role) == expected_statements(stack, name)


def test_the_chime_actions_per_function_are_the_declared_ones(default: Deployment) -> None:
    for name in deployment.HANDLERS:
        granted = {
            action.removeprefix("chime:")
            for actions, _ in statements_of(default, default.stack.functions[name].role)
            for action in actions
            if action.startswith("chime:")
        }
        assert granted == set(CHIME_ACTIONS[name])
    assert CHIME_ACTIONS["publisher"] == CHIME_ACTIONS["webhook_fanout"] == ()
    assert CHIME_ACTIONS["webhook_delivery"] == ()


def test_only_actions_without_a_resource_type_are_granted_on_any_chime_resource(
    default: Deployment,
) -> None:
    """The Service Authorization Reference defines no resource type for exactly these."""
    without_resource = {
        "chime:CreateMeeting",
        "chime:CreateMeetingWithAttendees",
        "chime:CreateMediaCapturePipeline",
        "chime:CreateMediaConcatenationPipeline",
        "chime:StartMeetingTranscription",
        "chime:StopMeetingTranscription",
    }
    for function in default.stack.functions.values():
        for actions, resources in statements_of(default, function.role):
            chime = {a for a in actions if a.startswith("chime:")}
            if chime and "*" in resources:
                assert chime <= without_resource, chime


def conditions_of(stack: Deployment, role: Any, action: str) -> list[Any]:
    """The Condition of each statement of `role` that grants `action`."""
    role_id = stack.logical_id(role)
    return [
        statement.get("Condition")
        for policy in stack.of_type("AWS::IAM::Policy").values()
        if render_all(policy["Properties"]["Roles"]) == [role_id]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if action in actions_of(statement)
    ]


def actions_of(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_listing_recordings_is_limited_to_the_prefix(default: Deployment) -> None:
    for name in ("api", "events", "cleanup"):
        role = default.stack.functions[name].role
        assert conditions_of(default, role, "s3:ListBucket") == [
            {"StringLike": {"s3:prefix": ["recordings/*"]}}
        ]


def test_webhook_secrets_are_bound_to_their_subscription(default: Deployment) -> None:
    """Encrypt and Decrypt only with the subscription id as encryption context."""
    key = f"kms:EncryptionContext:{deployment.WEBHOOK_ENCRYPTION_CONTEXT_KEY}"
    expected = [{"Null": {key: "false"}}]
    functions = default.stack.functions
    assert conditions_of(default, functions["api"].role, "kms:Encrypt") == expected
    assert conditions_of(default, functions["webhook_delivery"].role, "kms:Decrypt") == expected


def test_no_statement_grants_a_wildcard_action(default: Deployment, custom: Deployment) -> None:
    for stack in (default, custom):
        for policy in stack.of_type("AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                for action in actions_of(statement):
                    assert "*" not in action, action


def test_roles_carry_no_managed_policies_and_trust_one_service(default: Deployment) -> None:
    trusted = {}
    for logical_id, role in default.of_type("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"]
        assert "Policies" not in role["Properties"]
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        trusted[logical_id] = statement["Principal"]["Service"]
    function_roles = {default.logical_id(f.role) for f in default.stack.functions.values()}
    scheduler_role = default.logical_id(default.stack.cleanup.role)
    assert set(trusted) == function_roles | {scheduler_role}
    assert {trusted[r] for r in function_roles} == {"lambda.amazonaws.com"}
    assert trusted[scheduler_role] == "scheduler.amazonaws.com"


def test_the_scheduler_may_invoke_the_cleanup_and_nothing_else(default: Deployment) -> None:
    role = default.stack.cleanup.role
    cleanup = default.logical_id(default.stack.functions["cleanup"].function)
    dead_letters = default.logical_id(default.stack.cleanup.dead_letter_queue)
    assert statements_of(default, role) == {
        (("lambda:InvokeFunction",), (f"{cleanup}.Arn", f"{cleanup}.Arn:*")),
        (("sqs:SendMessage",), (f"{dead_letters}.Arn",)),
    }
    trust = default.resources[default.logical_id(role)]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    condition = statement["Condition"]["StringEquals"]["aws:SourceAccount"]
    assert render(condition) == "<AWS::AccountId>"


def test_api_gateway_may_invoke_only_the_api_alias(default: Deployment) -> None:
    alias = default.logical_id(default.stack.api_alias)
    permissions = default.of_type("AWS::Lambda::Permission").values()
    assert permissions
    for permission in permissions:
        props = permission["Properties"]
        assert props["Principal"] == "apigateway.amazonaws.com"
        assert render(props["FunctionName"]) == alias
