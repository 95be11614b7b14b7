"""Recordings: the bucket, the policy Chime's media pipelines need, pipeline events, the alarm."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfn_render import render, render_all
from meetings import deployment
from meetings.observability import METRICS_NAMESPACE
from moto.events.models import EventPattern
from synth_support import Deployment

from infra.media import MEDIA_PIPELINES_PRINCIPAL, RECORDINGS_FAILED_METRIC


def bucket(stack: Deployment) -> dict[str, Any]:
    resource: dict[str, Any] = stack.resources[stack.logical_id(stack.stack.media.bucket)]
    return resource


def bucket_statements(stack: Deployment) -> list[dict[str, Any]]:
    bucket_id = stack.logical_id(stack.stack.media.bucket)
    (policy,) = [
        p
        for p in stack.of_type("AWS::S3::BucketPolicy").values()
        if render(p["Properties"]["Bucket"]) == bucket_id
    ]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_bucket_is_encrypted_private_and_unversioned(default: Deployment) -> None:
    props = bucket(default)["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "VersioningConfiguration" not in props


def test_the_bucket_logs_its_accesses_into_a_bucket_of_its_own(default: Deployment) -> None:
    logging = bucket(default)["Properties"]["LoggingConfiguration"]
    logs_id = default.logical_id(default.stack.media.access_logs)
    assert render(logging["DestinationBucketName"]) == logs_id
    logs = default.resources[logs_id]["Properties"]
    assert set(logs["PublicAccessBlockConfiguration"].values()) == {True}
    assert "BucketEncryption" in logs
    (expiry,) = logs["LifecycleConfiguration"]["Rules"]
    assert expiry["ExpirationInDays"] == 30  # logRetentionDays


@pytest.mark.parametrize(("stack_name", "days"), [("default", 31), ("custom", 400)])
def test_recordings_expire_after_the_configured_days(
    stack_name: str, days: int, request: pytest.FixtureRequest
) -> None:
    stack: Deployment = request.getfixturevalue(stack_name)
    rules = {r["Id"]: r for r in bucket(stack)["Properties"]["LifecycleConfiguration"]["Rules"]}
    expire = rules["ExpireRecordings"]
    assert expire["Prefix"] == f"{deployment.RECORDINGS_PREFIX}/"
    assert expire["ExpirationInDays"] == days
    assert expire["Status"] == "Enabled"
    assert rules["AbortAbandonedUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }


def test_the_removal_policy_follows_the_config(default: Deployment, custom: Deployment) -> None:
    assert bucket(default)["DeletionPolicy"] == "Retain"
    assert bucket(custom)["DeletionPolicy"] == "Delete"


def test_the_bucket_refuses_plain_http(default: Deployment) -> None:
    (deny,) = [s for s in bucket_statements(default) if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Action"] == "s3:*"


@pytest.mark.parametrize(
    ("stack_name", "account"), [("default", "<AWS::AccountId>"), ("custom", "123456789012")]
)
def test_only_this_accounts_media_pipelines_may_write_recordings(
    stack_name: str, account: str, request: pytest.FixtureRequest
) -> None:
    stack: Deployment = request.getfixturevalue(stack_name)
    allowed = [s for s in bucket_statements(stack) if s["Effect"] == "Allow"]
    by_sid = {s["Sid"]: s for s in allowed}
    assert set(by_sid) == {"ChimeMediaPipelinesObjects", "ChimeMediaPipelinesList"}
    bucket_arn = f"{stack.logical_id(stack.stack.media.bucket)}.Arn"
    objects, listing = by_sid["ChimeMediaPipelinesObjects"], by_sid["ChimeMediaPipelinesList"]
    assert sorted(objects["Action"]) == ["s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"]
    assert render(objects["Resource"]) == f"{bucket_arn}/{deployment.RECORDINGS_PREFIX}/*"
    assert listing["Action"] == "s3:ListBucket"
    assert render(listing["Resource"]) == bucket_arn
    for statement in (objects, listing):
        assert statement["Principal"] == {"Service": MEDIA_PIPELINES_PRINCIPAL}
        condition = statement["Condition"]
        assert set(condition) == {"StringEquals", "ArnLike"}
        assert render(condition["StringEquals"]["aws:SourceAccount"]) == account
        source_arn = render(condition["ArnLike"]["aws:SourceArn"])
        assert source_arn == f"arn:<AWS::Partition>:chime:*:{account}:*"


def test_service_linked_roles_are_declared_only_on_request(
    default: Deployment, custom: Deployment
) -> None:
    assert default.of_type("AWS::IAM::ServiceLinkedRole") == {}
    roles = custom.of_type("AWS::IAM::ServiceLinkedRole").values()
    assert sorted(r["Properties"]["AWSServiceName"] for r in roles) == [
        "mediapipelines.chime.amazonaws.com",
        "transcription.chime.amazonaws.com",
    ]
    # Account-wide roles: deleting one stage's stack must leave them in place.
    assert {r["DeletionPolicy"] for r in roles} == {"Retain"}


def chime_event(detail_type: str, event_type: str) -> dict[str, Any]:
    return {
        "version": "0",
        "source": deployment.CHIME_EVENT_SOURCE,
        "detail-type": detail_type,
        "account": "123456789012",
        "region": "us-east-1",
        "detail": {"version": "0", "eventType": event_type, "meetingId": "m-1"},
    }


def test_the_chime_rule_routes_media_pipeline_events_to_the_events_queue(
    default: Deployment,
) -> None:
    rule = default.resources[default.logical_id(default.stack.chime_events.rule)]["Properties"]
    pattern = EventPattern.load(json.dumps(rule["EventPattern"]))
    pipeline = chime_event(
        deployment.MEDIA_PIPELINE_EVENT_DETAIL_TYPE, "chime:MediaPipelinePermanentFailure"
    )
    meeting = chime_event(deployment.CHIME_EVENT_DETAIL_TYPE, "chime:MeetingEnded")
    assert pattern.matches_event(pipeline)
    assert pattern.matches_event(meeting)
    assert not pattern.matches_event(chime_event("Chime VoiceConnector Streaming Status", "x"))
    (target,) = rule["Targets"]
    assert render(target["Arn"]) == f"{default.logical_id(default.stack.chime_events.queue)}.Arn"


def test_recording_failures_raise_an_alarm(default: Deployment) -> None:
    topic = default.logical_id(default.stack.monitoring.topic)
    (alarm,) = [
        a["Properties"]
        for a in default.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == RECORDINGS_FAILED_METRIC
    ]
    assert alarm["Namespace"] == METRICS_NAMESPACE
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "meetings"}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 1
    assert render_all(alarm["AlarmActions"]) == [topic]
