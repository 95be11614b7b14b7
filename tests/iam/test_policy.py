"""The IAM evaluator: wildcards, resources, explicit Deny, and the condition operators used."""

from __future__ import annotations

from typing import Any

import pytest

from local.iam.policy import Policy, Request, UnsupportedPolicyError, matches

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/meetings"
MEETINGS = "arn:aws:chime:us-east-1:123456789012:meeting/*"


def policy(*statements: dict[str, Any]) -> Policy:
    return Policy.from_documents([{"Version": "2012-10-17", "Statement": list(statements)}])


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(
    ("granted", "action", "decision"),
    [
        ("dynamodb:GetItem", "dynamodb:GetItem", "allow"),
        ("dynamodb:*", "dynamodb:PutItem", "allow"),
        ("dynamodb:Get*", "dynamodb:GetItem", "allow"),
        ("dynamodb:Get*", "dynamodb:BatchGetItem", "implicit-deny"),
        ("DynamoDB:getitem", "dynamodb:GetItem", "allow"),  # actions ignore case
        ("dynamodb:?etItem", "dynamodb:GetItem", "allow"),
        ("dynamodb:?etItem", "dynamodb:BatchGetItem", "implicit-deny"),
        ("*", "kms:Decrypt", "allow"),
        ("dynamodb:GetItem", "dynamodb:GetItems", "implicit-deny"),
    ],
)
def test_actions_match_with_wildcards_and_without_case(
    granted: str, action: str, decision: str
) -> None:
    assert policy(allow(granted, TABLE)).decide(Request(action, TABLE)) == decision


@pytest.mark.parametrize(
    ("resource", "decision"),
    [
        ("arn:aws:chime:us-east-1:123456789012:meeting/abc", "allow"),
        ("arn:aws:chime:us-east-1:123456789012:meeting/abc/attendee/x", "allow"),
        ("arn:aws:chime:us-east-1:123456789012:media-pipeline/abc", "implicit-deny"),
        ("arn:aws:chime:us-west-2:123456789012:meeting/abc", "implicit-deny"),
        ("arn:aws:chime:us-east-1:210987654321:meeting/abc", "implicit-deny"),
        ("arn:aws:chime:us-east-1:123456789012:Meeting/abc", "implicit-deny"),  # case matters
        ("*", "implicit-deny"),  # an action without resource type needs Resource "*"
    ],
)
def test_resources_match_by_pattern_case_sensitively(resource: str, decision: str) -> None:
    assert (
        policy(allow("chime:GetMeeting", MEETINGS)).decide(Request("chime:GetMeeting", resource))
        == decision
    )


def test_a_star_resource_spans_colons_and_slashes_and_grants_unscoped_actions() -> None:
    granted = policy(allow("chime:CreateMeeting", "*"), allow("sqs:*", "arn:aws:sqs:*:1:q*"))
    assert granted.decide(Request("chime:CreateMeeting", "*")) == "allow"
    assert granted.decide(Request("sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:queue")) == "allow"
    assert granted.decide(Request("sqs:SendMessage", "arn:aws:sqs:eu-west-1:2:queue")) == (
        "implicit-deny"
    )


def test_one_of_several_resources_and_actions_is_enough() -> None:
    granted = policy(allow(["dynamodb:Query", "dynamodb:GetItem"], [TABLE, f"{TABLE}/index/*"]))
    assert granted.decide(Request("dynamodb:Query", f"{TABLE}/index/byHost")) == "allow"
    assert granted.decide(Request("dynamodb:Query", f"{TABLE}-other")) == "implicit-deny"


def test_an_explicit_deny_wins_over_any_allow() -> None:
    granted = policy(
        allow("dynamodb:*", "*"),
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )
    assert granted.decide(Request("dynamodb:DeleteItem", TABLE)) == "explicit-deny"
    assert granted.decide(Request("dynamodb:DeleteItem", f"{TABLE}2")) == "allow"
    assert granted.decide(Request("dynamodb:PutItem", TABLE)) == "allow"


def test_not_action_and_not_resource_invert_the_match() -> None:
    granted = policy(
        {"Effect": "Allow", "NotAction": "dynamodb:Scan", "Resource": TABLE},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::mine/*"},
        allow("s3:GetObject", "*"),
    )
    assert granted.decide(Request("dynamodb:Query", TABLE)) == "allow"
    assert granted.decide(Request("dynamodb:Scan", TABLE)) == "implicit-deny"
    assert granted.decide(Request("s3:GetObject", "arn:aws:s3:::mine/a")) == "allow"
    assert granted.decide(Request("s3:GetObject", "arn:aws:s3:::theirs/a")) == "explicit-deny"


def test_nothing_granted_is_an_implicit_deny() -> None:
    assert policy().decide(Request("sqs:SendMessage", "*")) == "implicit-deny"


LIST_RECORDINGS = allow(
    "s3:ListBucket",
    "arn:aws:s3:::bucket",
    Condition={"StringLike": {"s3:prefix": ["recordings/*"]}},
)


@pytest.mark.parametrize(
    ("context", "decision"),
    [
        ({"s3:prefix": ("recordings/m1/r1/",)}, "allow"),
        ({"s3:prefix": ("recordings/",)}, "allow"),
        ({"s3:prefix": ("other/",)}, "implicit-deny"),
        ({"s3:prefix": ("recordings",)}, "implicit-deny"),
        ({}, "implicit-deny"),  # no prefix: the whole bucket, which the grant does not cover
    ],
)
def test_string_like_conditions_need_the_key_and_a_matching_value(
    context: dict[str, tuple[str, ...]], decision: str
) -> None:
    request = Request("s3:ListBucket", "arn:aws:s3:::bucket", context)
    assert policy(LIST_RECORDINGS).decide(request) == decision


def test_null_false_requires_the_encryption_context_key() -> None:
    key = "arn:aws:kms:us-east-1:1:key/k"
    granted = policy(
        allow("kms:Decrypt", key, Condition={"Null": {"kms:EncryptionContext:webhookId": "false"}})
    )
    present = {"kms:encryptioncontext:webhookid": ("wh-1",)}
    assert granted.decide(Request("kms:Decrypt", key, present)) == "allow"
    assert granted.decide(Request("kms:Decrypt", key)) == "implicit-deny"
    other = {"kms:encryptioncontext:tenant": ("t",)}
    assert granted.decide(Request("kms:Decrypt", key, other)) == "implicit-deny"


def test_null_true_requires_the_key_absent() -> None:
    granted = policy(
        allow("kms:Decrypt", "*", Condition={"Null": {"kms:GrantIsForAWSResource": "true"}})
    )
    assert granted.decide(Request("kms:Decrypt", "k")) == "allow"
    assert granted.decide(
        Request("kms:Decrypt", "k", {"kms:grantisforawsresource": ("true",)})
    ) == ("implicit-deny")


def test_if_exists_holds_without_the_key_and_negated_operators_invert() -> None:
    granted = policy(
        allow(
            "sqs:SendMessage",
            "*",
            Condition={
                "StringEqualsIfExists": {"aws:SourceAccount": "1"},
                "StringNotEquals": {"aws:RequestedRegion": "eu-west-1"},
            },
        )
    )
    region = {"aws:requestedregion": ("us-east-1",)}
    assert granted.decide(Request("sqs:SendMessage", "q", region)) == "allow"
    assert (
        granted.decide(Request("sqs:SendMessage", "q", {**region, "aws:sourceaccount": ("2",)}))
        == "implicit-deny"
    )
    assert (
        granted.decide(Request("sqs:SendMessage", "q", {"aws:requestedregion": ("eu-west-1",)}))
        == "implicit-deny"
    )


def test_a_condition_on_a_deny_limits_the_deny() -> None:
    granted = policy(
        allow("s3:GetObject", "*"),
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    assert (
        granted.decide(Request("s3:GetObject", "o", {"aws:securetransport": ("true",)})) == "allow"
    )
    assert granted.decide(Request("s3:GetObject", "o", {"aws:securetransport": ("false",)})) == (
        "explicit-deny"
    )


@pytest.mark.parametrize(
    "statement",
    [
        allow("s3:GetObject", "*", Condition={"ForAnyValue:StringEquals": {"k": "v"}}),
        allow("s3:GetObject", "*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2020"}}),
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"},
        {"Effect": "Maybe", "Action": "s3:*", "Resource": "*"},
    ],
)
def test_what_is_not_modelled_is_refused_when_loaded(statement: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicyError):
        policy(statement)


def test_removing_one_action_keeps_the_rest_of_its_statement() -> None:
    granted = policy(
        allow(["dynamodb:GetItem", "dynamodb:PutItem"], TABLE), allow("sqs:SendMessage", "*")
    )
    without = granted.without_action("dynamodb:PutItem")
    assert without.decide(Request("dynamodb:PutItem", TABLE)) == "implicit-deny"
    assert without.decide(Request("dynamodb:GetItem", TABLE)) == "allow"
    emptied = without.without_action("dynamodb:GetItem")
    assert len(emptied.statements) == 1
    assert Policy.from_documents(emptied.to_documents()) == emptied


def test_question_mark_is_one_character_and_other_characters_are_literal() -> None:
    assert matches("a?c", "abc")
    assert not matches("a?c", "ac")
    assert not matches("a.c", "abc")
    assert matches("arn:aws:s3:::b/[x]*", "arn:aws:s3:::b/[x]y")
