"""What IAM authorizes for each AWS call the functions make: botocore's (service, operation,
parameters) → the requests (action, resource ARN, condition context) IAM evaluates.

From the Service Authorization Reference: batch and transaction operations are authorized per
item as their single-item actions (TransactWriteItems → PutItem / UpdateItem /
ConditionCheckItem / DeleteItem on each table; DeleteMessageBatch → sqs:DeleteMessage);
ListObjectsV2 is s3:ListBucket on the bucket with the `s3:prefix` condition key; a Query on an
index is authorized on the index's ARN; KMS's encryption context is the
`kms:EncryptionContext:<key>` condition keys; Chime actions that define no resource type are
authorized on `*`; both Chime SDK services use the `chime` prefix. Creating a meeting with
tags also authorizes chime:TagResource on it, and creating a media pipeline makes Chime read
the sink bucket's policy with the caller's credentials (s3:GetBucketPolicy).

An operation missing from this table is refused with a message naming it: a new AWS call in
the code must be described here before it can pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlparse

from local.iam.policy import Request


@dataclass(frozen=True)
class Where:
    """The account and region a client calls (resource ARNs are built in them)."""

    account: str
    region: str


class UnmodelledOperationError(LookupError):
    """An operation this table does not describe."""


Params = Mapping[str, Any]
Describe = Callable[[Params, Where], list[Request]]


# --- DynamoDB -------------------------------------------------------------------------------
def table_arn(name: str, where: Where) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:dynamodb:{where.region}:{where.account}:table/{name}"


def _on_table(action: str) -> Describe:
    def describe(params: Params, where: Where) -> list[Request]:
        arn = table_arn(params["TableName"], where)
        if params.get("IndexName"):
            arn = f"{arn}/index/{params['IndexName']}"
        return [Request(f"dynamodb:{action}", arn)]

    return describe


def _on_tables(action: str, container: str) -> Describe:
    def describe(params: Params, where: Where) -> list[Request]:
        return [Request(f"dynamodb:{action}", table_arn(t, where)) for t in params[container]]

    return describe


_TRANSACT_ITEM_ACTIONS: Final = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _transaction(params: Params, where: Where) -> list[Request]:
    needed = {
        (f"dynamodb:{_TRANSACT_ITEM_ACTIONS[kind]}", table_arn(body["TableName"], where)): None
        for item in params["TransactItems"]
        for kind, body in item.items()
    }
    return [Request(action, arn) for action, arn in needed]


def _stream(action: str) -> Describe:
    return lambda params, _: [Request(f"dynamodb:{action}", params["StreamArn"])]


def _stream_records(params: Params, _: Where) -> list[Request]:
    # GetRecords is authorized on the stream; moto's iterators begin with the stream's ARN.
    return [Request("dynamodb:GetRecords", params["ShardIterator"].split("|", 1)[0])]


# --- SQS, EventBridge -----------------------------------------------------------------------
def queue_arn(url: str, where: Where) -> str:
    """`http://host/<account>/<name>` → `arn:aws:sqs:<region>:<account>:<name>`."""
    account, _, name = urlparse(url).path.strip("/").partition("/")
    return f"arn:aws:sqs:{where.region}:{account}:{name}"


def _on_queue(action: str) -> Describe:
    return lambda params, where: [Request(f"sqs:{action}", queue_arn(params["QueueUrl"], where))]


def _queue_by_name(params: Params, where: Where) -> list[Request]:
    account = params.get("QueueOwnerAWSAccountId", where.account)
    arn = f"arn:aws:sqs:{where.region}:{account}:{params['QueueName']}"
    return [Request("sqs:GetQueueUrl", arn)]


def bus_arn(name: str | None, where: Where) -> str:
    if name and name.startswith("arn:"):
        return name
    return f"arn:aws:events:{where.region}:{where.account}:event-bus/{name or 'default'}"


def _put_events(params: Params, where: Where) -> list[Request]:
    buses = dict.fromkeys(bus_arn(e.get("EventBusName"), where) for e in params["Entries"])
    return [Request("events:PutEvents", arn) for arn in buses]


# --- S3, KMS --------------------------------------------------------------------------------
def _object(action: str) -> Describe:
    return lambda params, _: [
        Request(f"s3:{action}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")
    ]


def _bucket(action: str) -> Describe:
    return lambda params, _: [Request(f"s3:{action}", f"arn:aws:s3:::{params['Bucket']}")]


def _list_bucket(params: Params, _: Where) -> list[Request]:
    context = {"s3:prefix": (params["Prefix"],)} if "Prefix" in params else {}
    return [Request("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}", context)]


def key_arn(key_id: str, where: Where) -> str:
    if key_id.startswith("arn:"):
        return key_id
    if key_id.startswith("alias/"):
        return f"arn:aws:kms:{where.region}:{where.account}:{key_id}"
    return f"arn:aws:kms:{where.region}:{where.account}:key/{key_id}"


# moto's ciphertext begins with the 36-character id of the key that made it (KMS's own format
# carries the key too, which is how Decrypt without KeyId finds it).
_MOTO_KEY_ID_LENGTH: Final = 36


def _kms(action: str) -> Describe:
    def describe(params: Params, where: Where) -> list[Request]:
        key_id = params.get("KeyId")
        if key_id is None:
            blob = params["CiphertextBlob"]
            key_id = bytes(blob[:_MOTO_KEY_ID_LENGTH]).decode(errors="replace")
        context = {
            f"kms:encryptioncontext:{name}".lower(): (str(value),)
            for name, value in params.get("EncryptionContext", {}).items()
        }
        if params.get("EncryptionContext"):
            context["kms:encryptioncontextkeys"] = tuple(params["EncryptionContext"])
        return [Request(f"kms:{action}", key_arn(key_id, where), context)]

    return describe


# --- Chime SDK Meetings and Media Pipelines (IAM prefix `chime`) ------------------------------
def meeting_arn(meeting_id: str, where: Where) -> str:
    return f"arn:aws:chime:{where.region}:{where.account}:meeting/{meeting_id}"


def pipeline_arn(pipeline_id: str, where: Where) -> str:
    return f"arn:aws:chime:{where.region}:{where.account}:media-pipeline/{pipeline_id}"


def _unscoped(action: str) -> Describe:
    return lambda _params, _where: [Request(f"chime:{action}", "*")]


def _on_meeting(action: str) -> Describe:
    return lambda params, where: [
        Request(f"chime:{action}", meeting_arn(params["MeetingId"], where))
    ]


def _on_pipeline(action: str) -> Describe:
    return lambda params, where: [
        Request(f"chime:{action}", pipeline_arn(params["MediaPipelineId"], where))
    ]


def _create_meeting(action: str) -> Describe:
    def describe(params: Params, where: Where) -> list[Request]:
        requests = [Request(f"chime:{action}", "*")]
        if params.get("Tags"):
            # The meeting's id is Chime's to choose: any meeting of this account and region.
            requests.append(Request("chime:TagResource", meeting_arn("new", where)))
        return requests

    return describe


def _bucket_of(s3_arn: str) -> str:
    """`arn:aws:s3:::bucket/prefix` → `arn:aws:s3:::bucket`."""
    return s3_arn.split("/", 1)[0]


def _capture(params: Params, _: Where) -> list[Request]:
    return [
        Request("chime:CreateMediaCapturePipeline", "*"),
        Request("s3:GetBucketPolicy", _bucket_of(params["SinkArn"])),
    ]


def _concatenation(params: Params, _: Where) -> list[Request]:
    sinks = [s["S3BucketSinkConfiguration"]["Destination"] for s in params["Sinks"]]
    return [
        Request("chime:CreateMediaConcatenationPipeline", "*"),
        *(Request("s3:GetBucketPolicy", _bucket_of(s)) for s in dict.fromkeys(sinks)),
    ]


def _tag(params: Params, _: Where) -> list[Request]:
    return [Request("chime:TagResource", params["ResourceARN"])]


OPERATIONS: Final[dict[tuple[str, str], Describe]] = {
    ("dynamodb", "GetItem"): _on_table("GetItem"),
    ("dynamodb", "PutItem"): _on_table("PutItem"),
    ("dynamodb", "UpdateItem"): _on_table("UpdateItem"),
    ("dynamodb", "DeleteItem"): _on_table("DeleteItem"),
    ("dynamodb", "Query"): _on_table("Query"),
    ("dynamodb", "Scan"): _on_table("Scan"),
    ("dynamodb", "DescribeTable"): _on_table("DescribeTable"),
    ("dynamodb", "BatchGetItem"): _on_tables("BatchGetItem", "RequestItems"),
    ("dynamodb", "BatchWriteItem"): _on_tables("BatchWriteItem", "RequestItems"),
    ("dynamodb", "TransactWriteItems"): _transaction,
    ("dynamodb", "TransactGetItems"): _transaction,
    ("dynamodbstreams", "DescribeStream"): _stream("DescribeStream"),
    ("dynamodbstreams", "GetShardIterator"): _stream("GetShardIterator"),
    ("dynamodbstreams", "GetRecords"): _stream_records,
    ("dynamodbstreams", "ListStreams"): lambda _p, _w: [Request("dynamodb:ListStreams", "*")],
    ("sqs", "SendMessage"): _on_queue("SendMessage"),
    ("sqs", "SendMessageBatch"): _on_queue("SendMessage"),
    ("sqs", "ReceiveMessage"): _on_queue("ReceiveMessage"),
    ("sqs", "DeleteMessage"): _on_queue("DeleteMessage"),
    ("sqs", "DeleteMessageBatch"): _on_queue("DeleteMessage"),
    ("sqs", "ChangeMessageVisibility"): _on_queue("ChangeMessageVisibility"),
    ("sqs", "ChangeMessageVisibilityBatch"): _on_queue("ChangeMessageVisibility"),
    ("sqs", "GetQueueAttributes"): _on_queue("GetQueueAttributes"),
    ("sqs", "GetQueueUrl"): _queue_by_name,
    ("events", "PutEvents"): _put_events,
    ("s3", "GetObject"): _object("GetObject"),
    ("s3", "HeadObject"): _object("GetObject"),
    ("s3", "PutObject"): _object("PutObject"),
    ("s3", "DeleteObject"): _object("DeleteObject"),
    ("s3", "ListObjectsV2"): _list_bucket,
    ("s3", "ListObjects"): _list_bucket,
    ("s3", "GetBucketPolicy"): _bucket("GetBucketPolicy"),
    ("kms", "Encrypt"): _kms("Encrypt"),
    ("kms", "Decrypt"): _kms("Decrypt"),
    ("kms", "GenerateDataKey"): _kms("GenerateDataKey"),
    ("chime-sdk-meetings", "CreateMeeting"): _create_meeting("CreateMeeting"),
    ("chime-sdk-meetings", "CreateMeetingWithAttendees"): _create_meeting(
        "CreateMeetingWithAttendees"
    ),
    ("chime-sdk-meetings", "StartMeetingTranscription"): _unscoped("StartMeetingTranscription"),
    ("chime-sdk-meetings", "StopMeetingTranscription"): _unscoped("StopMeetingTranscription"),
    ("chime-sdk-meetings", "TagResource"): _tag,
    **{
        ("chime-sdk-meetings", operation): _on_meeting(operation)
        for operation in (
            "GetMeeting",
            "DeleteMeeting",
            "CreateAttendee",
            "BatchCreateAttendee",
            "GetAttendee",
            "ListAttendees",
            "DeleteAttendee",
            "UpdateAttendeeCapabilities",
            "BatchUpdateAttendeeCapabilitiesExcept",
        )
    },
    ("chime-sdk-media-pipelines", "CreateMediaCapturePipeline"): _capture,
    ("chime-sdk-media-pipelines", "CreateMediaConcatenationPipeline"): _concatenation,
    ("chime-sdk-media-pipelines", "GetMediaPipeline"): _on_pipeline("GetMediaPipeline"),
    ("chime-sdk-media-pipelines", "DeleteMediaPipeline"): _on_pipeline("DeleteMediaPipeline"),
    ("chime-sdk-media-pipelines", "ListMediaPipelines"): _unscoped("ListMediaPipelines"),
}


def requests_for(service: str, operation: str, params: Params, where: Where) -> list[Request]:
    """The authorizations one call needs, in the order IAM would meet them."""
    describe = OPERATIONS.get((service, operation))
    if describe is None:
        raise UnmodelledOperationError(
            f"{service}.{operation} is not in local/iam/actions.py: describe what IAM "
            "authorizes for it before calling it"
        )
    return describe(params, where)
