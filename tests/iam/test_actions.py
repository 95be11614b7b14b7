"""What IAM authorizes per call (local/iam/actions.py), and the guard answering a refused call
with the service's own error, without sending it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from local.iam.actions import UnmodelledOperationError, Where, requests_for
from local.iam.guard import IamGuard
from local.iam.policy import Request

WHERE = Where(account="123456789012", region="us-east-1")
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/t"


def described(service: str, operation: str, **params: Any) -> list[tuple[str, str]]:
    return [(r.action, r.resource) for r in requests_for(service, operation, params, WHERE)]


def test_a_transaction_is_authorized_per_item_action_and_table() -> None:
    items = [
        {"Put": {"TableName": "t", "Item": {}}},
        {"Update": {"TableName": "t", "Key": {}}},
        {"ConditionCheck": {"TableName": "t", "Key": {}}},
        {"Put": {"TableName": "t", "Item": {}}},
        {"Delete": {"TableName": "other", "Key": {}}},
    ]
    assert described("dynamodb", "TransactWriteItems", TransactItems=items) == [
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:UpdateItem", TABLE),
        ("dynamodb:ConditionCheckItem", TABLE),
        ("dynamodb:DeleteItem", "arn:aws:dynamodb:us-east-1:123456789012:table/other"),
    ]


def test_queries_on_an_index_name_the_index() -> None:
    assert described("dynamodb", "Query", TableName="t", IndexName="byHost") == [
        ("dynamodb:Query", f"{TABLE}/index/byHost")
    ]
    assert described("dynamodb", "BatchGetItem", RequestItems={"t": {}}) == [
        ("dynamodb:BatchGetItem", TABLE)
    ]


def test_sqs_batches_are_their_single_actions_on_the_queue_of_the_url() -> None:
    url = "http://127.0.0.1:5000/123456789012/deliveries"
    arn = "arn:aws:sqs:us-east-1:123456789012:deliveries"
    assert described("sqs", "DeleteMessageBatch", QueueUrl=url, Entries=[]) == [
        ("sqs:DeleteMessage", arn)
    ]
    assert described("sqs", "SendMessageBatch", QueueUrl=url, Entries=[]) == [
        ("sqs:SendMessage", arn)
    ]
    assert described("sqs", "GetQueueUrl", QueueName="deliveries") == [("sqs:GetQueueUrl", arn)]


def test_stream_reads_are_authorized_on_the_stream() -> None:
    stream = f"{TABLE}/stream/2026-12-02T00:00:00.000"
    assert described("dynamodbstreams", "GetRecords", ShardIterator=f"{stream}|1|abc") == [
        ("dynamodb:GetRecords", stream)
    ]
    assert described("dynamodbstreams", "DescribeStream", StreamArn=stream) == [
        ("dynamodb:DescribeStream", stream)
    ]


def test_put_events_is_authorized_on_each_bus_named() -> None:
    entries = [{"EventBusName": "mine"}, {}, {"EventBusName": "mine"}]
    assert described("events", "PutEvents", Entries=entries) == [
        ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/mine"),
        ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default"),
    ]


def test_listing_is_list_bucket_with_the_prefix_as_condition_key() -> None:
    [listing] = requests_for(
        "s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "recordings/m/"}, WHERE
    )
    assert listing == Request("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": ("recordings/m/",)})
    assert described("s3", "GetObject", Bucket="b", Key="recordings/m/x") == [
        ("s3:GetObject", "arn:aws:s3:::b/recordings/m/x")
    ]


def test_kms_requests_carry_the_encryption_context_and_find_the_key() -> None:
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    [decrypt] = requests_for(
        "kms",
        "Decrypt",
        {"CiphertextBlob": key_id.encode() + b"\x00" * 40, "EncryptionContext": {"webhookId": "w"}},
        WHERE,
    )
    assert decrypt.resource == f"arn:aws:kms:us-east-1:123456789012:key/{key_id}"
    assert decrypt.context["kms:encryptioncontext:webhookid"] == ("w",)
    arn = f"arn:aws:kms:us-east-1:123456789012:key/{key_id}"
    assert described("kms", "Encrypt", KeyId=arn, Plaintext=b"s") == [("kms:Encrypt", arn)]


def test_chime_actions_name_meetings_pipelines_or_nothing() -> None:
    meeting = "arn:aws:chime:us-east-1:123456789012:meeting/m1"
    assert described("chime-sdk-meetings", "DeleteMeeting", MeetingId="m1") == [
        ("chime:DeleteMeeting", meeting)
    ]
    assert described("chime-sdk-meetings", "StartMeetingTranscription", MeetingId="m1") == [
        ("chime:StartMeetingTranscription", "*")
    ]
    assert described("chime-sdk-meetings", "CreateMeeting", Tags=[{"Key": "k"}]) == [
        ("chime:CreateMeeting", "*"),
        ("chime:TagResource", "arn:aws:chime:us-east-1:123456789012:meeting/new"),
    ]
    assert described("chime-sdk-media-pipelines", "GetMediaPipeline", MediaPipelineId="p") == [
        ("chime:GetMediaPipeline", "arn:aws:chime:us-east-1:123456789012:media-pipeline/p")
    ]


def test_creating_a_pipeline_reads_the_sink_buckets_policy() -> None:
    assert described(
        "chime-sdk-media-pipelines", "CreateMediaCapturePipeline", SinkArn="arn:aws:s3:::b/rec/m"
    ) == [("chime:CreateMediaCapturePipeline", "*"), ("s3:GetBucketPolicy", "arn:aws:s3:::b")]
    sinks = [{"S3BucketSinkConfiguration": {"Destination": "arn:aws:s3:::b/rec/m/c"}}]
    assert described(
        "chime-sdk-media-pipelines", "CreateMediaConcatenationPipeline", Sinks=sinks
    ) == [("chime:CreateMediaConcatenationPipeline", "*"), ("s3:GetBucketPolicy", "arn:aws:s3:::b")]


def test_an_operation_not_described_is_refused_by_name() -> None:
    with pytest.raises(UnmodelledOperationError, match=r"dynamodb\.DeleteTable"):
        requests_for("dynamodb", "DeleteTable", {"TableName": "t"}, WHERE)


# --- the guard on a real botocore client ------------------------------------------------------
def _guarded(tmp_path: Path, service: str, statements: list[dict[str, Any]]) -> Any:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"documents": [{"Statement": statements}], "trace": None}))
    guard = IamGuard("api", "ApiRole", "123456789012", str(policy), str(tmp_path / "usage.jsonl"))
    client = boto3.client(
        service,
        region_name="us-east-1",
        # Nothing listens there: an allowed call fails to connect, a refused one never tries.
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    guard.attach(client)
    return client


@pytest.mark.parametrize(
    ("service", "call", "code", "status"),
    [
        ("dynamodb", lambda c: c.put_item(TableName="t", Item={}), "AccessDeniedException", 400),
        ("s3", lambda c: c.get_object(Bucket="b", Key="k"), "AccessDenied", 403),
        (
            "sqs",
            lambda c: c.send_message(QueueUrl="http://h/1/q", MessageBody="x"),
            "AccessDenied",
            403,
        ),
        ("kms", lambda c: c.encrypt(KeyId="k", Plaintext=b"x"), "AccessDeniedException", 400),
        (
            "chime-sdk-meetings",
            lambda c: c.get_meeting(MeetingId="m"),
            "AccessDeniedException",
            403,
        ),
    ],
)
def test_a_refused_call_raises_the_services_own_error_without_being_sent(
    tmp_path: Path, service: str, call: Any, code: str, status: int
) -> None:
    client = _guarded(tmp_path, service, [])
    with pytest.raises(ClientError) as refused:
        call(client)
    error = refused.value.response
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert "assumed-role/ApiRole/api is not authorized to perform" in error["Error"]["Message"]
    [line] = (tmp_path / "usage.jsonl").read_text().splitlines()
    assert json.loads(line)["decision"] == "implicit-deny"


def test_an_allowed_call_goes_on_to_the_service(tmp_path: Path) -> None:
    client = _guarded(
        tmp_path, "dynamodb", [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": TABLE}]
    )
    with pytest.raises(EndpointConnectionError):
        client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    with pytest.raises(
        ClientError,
        match="dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/u",
    ):
        client.get_item(TableName="u", Key={"pk": {"S": "a"}})


def test_a_presigned_url_the_role_could_not_use_is_not_signed(tmp_path: Path) -> None:
    client = _guarded(
        tmp_path,
        "s3",
        [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/recordings/*"}],
    )
    params = {"Bucket": "b", "Key": "recordings/x"}
    assert client.generate_presigned_url("get_object", Params=params, ExpiresIn=60)
    with pytest.raises(ClientError, match="AccessDenied"):
        client.generate_presigned_url(
            "get_object", Params={"Bucket": "b", "Key": "x"}, ExpiresIn=60
        )


def test_a_rewritten_policy_applies_from_the_next_call(tmp_path: Path) -> None:
    client = _guarded(tmp_path, "dynamodb", [])
    with pytest.raises(ClientError):
        client.get_item(TableName="t", Key={})
    trace = tmp_path / "trace.jsonl"
    statements = [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE}]
    rewritten = {"documents": [{"Statement": statements}], "trace": str(trace)}
    (tmp_path / "policy.json.tmp").write_text(json.dumps(rewritten))
    (tmp_path / "policy.json.tmp").replace(tmp_path / "policy.json")
    with pytest.raises(EndpointConnectionError):
        client.get_item(TableName="t", Key={})
    assert [json.loads(line)["decision"] for line in trace.read_text().splitlines()] == ["allow"]
