"""What each function may do: the IAM statements, in one place so they can be read and tested.

Chime resource scoping follows the Service Authorization Reference for Amazon Chime (service
prefix `chime`, which covers the meetings and the media pipelines APIs): the meeting resource
type is `arn:${Partition}:chime:${Region}:${Account}:meeting/${MeetingId}` and the media
pipeline type `arn:${Partition}:chime:${Region}:${Account}:media-pipeline/${MediaPipelineId}`.
Actions that define no resource type (creating a meeting or a pipeline, listing pipelines,
starting or stopping transcription) can only be granted on `*`.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from meetings import deployment

# The Chime SDK operations each function calls (IAM prefix `chime:`).
CHIME_ACTIONS: Final[dict[str, tuple[str, ...]]] = {
    "api": (
        "CreateMeeting",
        "CreateMeetingWithAttendees",
        "CreateAttendee",
        "BatchCreateAttendee",
        "DeleteMeeting",
        "DeleteAttendee",
        "GetMeeting",
        "UpdateAttendeeCapabilities",
        "BatchUpdateAttendeeCapabilitiesExcept",
        "StartMeetingTranscription",
        "StopMeetingTranscription",
        # Start a recording; stop it (and on the host's end) and concatenate its capture.
        "CreateMediaCapturePipeline",
        "DeleteMediaPipeline",
        "CreateMediaConcatenationPipeline",
        # Tags a new meeting (CreateMeeting with Tags authorizes tagging it too).
        "TagResource",
    ),
    # What the meeting's creator asked to start with the first attendee (recording,
    # transcription); on a meeting's end and on pipeline events: stop the capture, concatenate.
    "events": (
        "CreateMediaCapturePipeline",
        "StartMeetingTranscription",
        "DeleteMediaPipeline",
        "CreateMediaConcatenationPipeline",
    ),
    # Reconciles meetings, and the recordings whose pipeline events were lost (GetMediaPipeline),
    # stopping the captures of the meetings it ends.
    "cleanup": (
        "GetMeeting",
        "DeleteMeeting",
        "GetMediaPipeline",
        "DeleteMediaPipeline",
        "CreateMediaConcatenationPipeline",
    ),
    "publisher": (),
    "webhook_fanout": (),
    "webhook_delivery": (),
}
MEETING: Final = "meeting"
MEDIA_PIPELINE: Final = "media-pipeline"
# The resource types an action may name, when not `meeting` alone. An empty tuple: the action
# defines none (the resource does not exist before the call, or it lists), so only `*` works.
_RESOURCE_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "CreateMeeting": (),
    "CreateMeetingWithAttendees": (),
    "StartMeetingTranscription": (),
    "StopMeetingTranscription": (),
    "CreateMediaCapturePipeline": (),
    "CreateMediaConcatenationPipeline": (),
    "GetMediaPipeline": (MEDIA_PIPELINE,),
    "DeleteMediaPipeline": (MEDIA_PIPELINE,),
    "TagResource": (MEETING,),
}
CHIME_ACTIONS_WITHOUT_RESOURCE: Final = frozenset(
    action for action, types in _RESOURCE_TYPES.items() if not types
)
_STATEMENT_IDS: Final = {
    (): "ChimeWithoutResourceType",
    (MEETING,): "ChimeOnMeetings",
    (MEDIA_PIPELINE,): "ChimeOnMediaPipelines",
}


def resource_types_of(action: str) -> tuple[str, ...]:
    """The Chime resource types `action` is granted on (empty: `*`)."""
    return _RESOURCE_TYPES.get(action, (MEETING,))


# Item-level access to the table, per function, as the code uses it. No Scan (every read is
# a key or index Query), no BatchWriteItem (unused), no table management. Transactions are
# authorized per item: Put → PutItem, Update → UpdateItem, ConditionCheck → ConditionCheckItem.
_READ_WRITE: Final = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
)
TABLE_ACTIONS: Final[dict[str, tuple[str, ...]]] = {
    # DeleteItem: Powertools' idempotency layer deletes the record of a failed request.
    "api": (*_READ_WRITE, "dynamodb:DeleteItem"),
    "events": _READ_WRITE,
    "cleanup": _READ_WRITE,
    # Attendee events carry the meeting's room name and host: one GetItem per meeting. Each
    # event's per-meeting sequence number is read, then written in one transaction of Puts
    # (the counter and the event's number, each conditioned).
    "publisher": ("dynamodb:GetItem", "dynamodb:PutItem"),
    # Reads the subscriptions an event matches.
    "webhook_fanout": ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"),
    # Reads the subscription and its secret; records each attempt, disables a subscription.
    "webhook_delivery": _READ_WRITE,
}
INDEX_ACTIONS: Final = ("dynamodb:Query",)
FUNCTIONS_USING_INDEXES: Final = frozenset({"api", "events", "cleanup"})


def chime_arn_pattern(stack: Stack, resource_type: str) -> str:
    """Every Chime resource of `resource_type` of this account made through this region."""
    return stack.format_arn(
        service="chime", resource=resource_type, resource_name="*", region=stack.region
    )


def meeting_arn_pattern(stack: Stack) -> str:
    """Every Chime meeting of this account created through this region's control plane."""
    return chime_arn_pattern(stack, MEETING)


def chime_statements(function: str, stack: Stack) -> list[iam.PolicyStatement]:
    """One statement per set of resource types, each naming those types' ARN patterns."""
    by_types: dict[tuple[str, ...], list[str]] = {}
    for action in CHIME_ACTIONS[function]:
        by_types.setdefault(resource_types_of(action), []).append(f"chime:{action}")
    return [
        iam.PolicyStatement(
            sid=_STATEMENT_IDS[types],
            actions=sorted(actions),
            resources=[chime_arn_pattern(stack, t) for t in types] or ["*"],
        )
        for types, actions in by_types.items()
    ]


def table_statements(function: str, table: dynamodb.ITable) -> list[iam.PolicyStatement]:
    """Items of the table, and Query on each of its indexes by name (no index wildcard)."""
    statements = [
        iam.PolicyStatement(
            sid="TableItems", actions=list(TABLE_ACTIONS[function]), resources=[table.table_arn]
        )
    ]
    if function in FUNCTIONS_USING_INDEXES:
        index_names = [*deployment.GLOBAL_INDEXES, *deployment.LOCAL_INDEXES]
        statements.append(
            iam.PolicyStatement(
                sid="TableIndexes",
                actions=list(INDEX_ACTIONS),
                resources=[f"{table.table_arn}/index/{name}" for name in index_names],
            )
        )
    return statements


# --- Recordings ------------------------------------------------------------------------------
# Who does what under the recordings prefix: every function that follows a recording lists
# its output (a concatenation is done when its files are there); only the api reads objects
# (download links, the transcript). Creating a media pipeline makes Chime read the sink
# bucket's policy with the caller's credentials (s3:GetBucketPolicy, Chime SDK developer
# guide, "media pipeline creation"), so every function that creates one may read it.
RECORDING_LISTERS: Final = frozenset({"api", "events", "cleanup"})
RECORDING_READERS: Final = frozenset({"api"})
PIPELINE_CREATORS: Final = frozenset(
    name
    for name, actions in CHIME_ACTIONS.items()
    if {"CreateMediaCapturePipeline", "CreateMediaConcatenationPipeline"} & set(actions)
)


def recordings_objects(bucket: s3.IBucket) -> str:
    return bucket.arn_for_objects(f"{deployment.RECORDINGS_PREFIX}/*")


def recording_statements(function: str, bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    """S3 on the recordings bucket and prefix only (a presigned download link carries the api
    role's s3:GetObject)."""
    statements = []
    if function in RECORDING_READERS:
        statements.append(
            iam.PolicyStatement(
                sid="ReadRecordings",
                actions=["s3:GetObject"],
                resources=[recordings_objects(bucket)],
            )
        )
    if function in RECORDING_LISTERS:
        statements.append(
            iam.PolicyStatement(
                sid="ListRecordings",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{deployment.RECORDINGS_PREFIX}/*"]}},
            )
        )
    if function in PIPELINE_CREATORS:
        statements.append(
            iam.PolicyStatement(
                sid="ReadSinkPolicy", actions=["s3:GetBucketPolicy"], resources=[bucket.bucket_arn]
            )
        )
    return statements


# --- Webhooks --------------------------------------------------------------------------------
def encrypt_webhook_secrets(key: kms.IKey) -> iam.PolicyStatement:
    return _webhook_secrets("EncryptWebhookSecrets", "kms:Encrypt", key)


def decrypt_webhook_secrets(key: kms.IKey) -> iam.PolicyStatement:
    return _webhook_secrets("DecryptWebhookSecrets", "kms:Decrypt", key)


def _webhook_secrets(sid: str, action: str, key: kms.IKey) -> iam.PolicyStatement:
    """`action` on the key, only with the subscription id as encryption context: a ciphertext
    is bound to its subscription, and decrypts only with it."""
    context_key = f"kms:EncryptionContext:{deployment.WEBHOOK_ENCRYPTION_CONTEXT_KEY}"
    return iam.PolicyStatement(
        sid=sid,
        actions=[action],
        resources=[key.key_arn],
        conditions={"Null": {context_key: "false"}},
    )


def send_deliveries(*queues: sqs.IQueue) -> iam.PolicyStatement:
    """Queue a delivery (fan-out, ping, redeliver, a first attempt's retry)."""
    return iam.PolicyStatement(
        sid="SendDeliveries",
        actions=["sqs:SendMessage"],
        resources=[queue.queue_arn for queue in queues],
    )
