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
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
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
    }
    account = "<AWS::AccountId>" if Token.is_unresolved(s.account) else s.account
    meetings = f"arn:<AWS::Partition>:chime:{stack.stack.region}:{account}:meeting/*"
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
            (tuple(sorted((*read_write, "dynamodb:DeleteItem"))), (table,)),
            (("dynamodb:Query",), indexes),
            (("chime:CreateMeeting", "chime:CreateMeetingWithAttendees"), ("*",)),
            (
                (
                    "chime:BatchCreateAttendee",
                    "chime:CreateAttendee",
                    "chime:DeleteAttendee",
                    "chime:DeleteMeeting",
                    "chime:GetMeeting",
                    "chime:TagResource",
                    "chime:UpdateAttendeeCapabilities",
                ),
                (meetings,),
            ),
        },
        "events": table_access
        | {
            (
                (
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:ReceiveMessage",
                ),
                (f"{ids['queue']}.Arn",),
            ),
        },
        "cleanup": table_access | {(("chime:DeleteMeeting", "chime:GetMeeting"), (meetings,))},
        "publisher": {
            (("dynamodb:GetItem",), (table,)),
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
    assert CHIME_ACTIONS["events"] == CHIME_ACTIONS["publisher"] == ()


def test_only_create_meeting_is_granted_on_any_chime_resource(default: Deployment) -> None:
    for function in default.stack.functions.values():
        for actions, resources in statements_of(default, function.role):
            chime = [a for a in actions if a.startswith("chime:")]
            if chime and "*" in resources:
                assert set(chime) == {"chime:CreateMeeting", "chime:CreateMeetingWithAttendees"}


def test_no_statement_grants_a_wildcard_action(default: Deployment, custom: Deployment) -> None:
    for stack in (default, custom):
        for policy in stack.of_type("AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                for action in [actions] if isinstance(actions, str) else actions:
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
