"""Definitions shared by the Lambda code, the CDK stack (`infra/`) and the local stack (`local/`).

Each constant here is the single source of truth: the stack deploys it, the local stack
recreates it in moto, and the code relies on it. Change it here and all three follow.
"""

from __future__ import annotations

from typing import Any, Final

# --- The table -----------------------------------------------------------------------------
# One table holds meetings, attendees, per-user attendee pointers, room names and the
# idempotency records of Powertools. Every key is a string; the layout is in
# adapters/table/codec.py.
PARTITION_KEY: Final = "pk"
SORT_KEY: Final = "sk"
TTL_ATTRIBUTE: Final = "expiresAt"

# Sparse GSI: the meetings a user hosts, newest first.
HOST_INDEX: Final = "byHost"
HOST_INDEX_PK: Final = "hostPk"
HOST_INDEX_SK: Final = "hostSk"

# Sparse GSI: open meetings (removed from the index when a meeting ends), newest first.
# Both open indexes spread open meetings over OPEN_SHARDS partition keys, `OPEN#0` ...
# `OPEN#<OPEN_SHARDS - 1>`, by a hash of the meeting id: one key would take every create and
# every change of every open meeting (docs/performance.md, "No hot key"). Readers query every
# shard and merge. Changing it moves every open meeting's key: see docs/deploy.md.
OPEN_SHARDS: Final = 16
OPEN_INDEX: Final = "openByCreated"
OPEN_INDEX_PK: Final = "openPk"
OPEN_INDEX_SK: Final = "openSk"

# Sparse GSI: open meetings by the instant they next need the cleanup's attention
# (max-duration deadline or next reconciliation, whichever is first).
DUE_INDEX: Final = "openByDeadline"
DUE_INDEX_PK: Final = "duePk"
DUE_INDEX_SK: Final = "dueSk"

# LSI: a meeting's attendees in the order they were added (the roster's order).
ROSTER_INDEX: Final = "rosterByAdded"
ROSTER_INDEX_SK: Final = "rosterSk"

GLOBAL_INDEXES: Final[dict[str, tuple[str, str]]] = {
    HOST_INDEX: (HOST_INDEX_PK, HOST_INDEX_SK),
    OPEN_INDEX: (OPEN_INDEX_PK, OPEN_INDEX_SK),
    DUE_INDEX: (DUE_INDEX_PK, DUE_INDEX_SK),
}
LOCAL_INDEXES: Final[dict[str, str]] = {ROSTER_INDEX: ROSTER_INDEX_SK}

STREAM_VIEW_TYPE: Final = "NEW_AND_OLD_IMAGES"


def table_definition(table_name: str) -> dict[str, Any]:
    """The table as `dynamodb.create_table` arguments (the local stack and tests use it)."""
    key_names = {PARTITION_KEY, SORT_KEY, ROSTER_INDEX_SK}
    for pk, sk in GLOBAL_INDEXES.values():
        key_names.update((pk, sk))
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in sorted(key_names)
        ],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": pk, "KeyType": "HASH"},
                    {"AttributeName": sk, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, (pk, sk) in GLOBAL_INDEXES.items()
        ],
        "LocalSecondaryIndexes": [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": sk, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, sk in LOCAL_INDEXES.items()
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE},
    }


# --- Chime's events --------------------------------------------------------------------------
CHIME_EVENT_SOURCE: Final = "aws.chime"
CHIME_EVENT_DETAIL_TYPE: Final = "Chime Meeting State Change"
# The media pipelines' lifecycle events (capture and concatenation), on the same rule and queue.
MEDIA_PIPELINE_EVENT_DETAIL_TYPE: Final = "Chime Media Pipeline State Change"
# The EventBridge rule pattern on the default bus. Every Chime meeting event type is routed:
# the events handler decides which ones change state.
CHIME_EVENT_PATTERN: Final[dict[str, list[str]]] = {
    "source": [CHIME_EVENT_SOURCE],
    "detail-type": [CHIME_EVENT_DETAIL_TYPE, MEDIA_PIPELINE_EVENT_DETAIL_TYPE],
}

# --- Recordings ------------------------------------------------------------------------------
# Every object of a recording lives under `<RECORDINGS_PREFIX>/<meetingId>/<recordingId>/`.
RECORDINGS_PREFIX: Final = "recordings"

# --- The scheduled cleanup -------------------------------------------------------------------
# EventBridge Scheduler expression (cdk.json may override it; the local stack reads the same).
DEFAULT_CLEANUP_SCHEDULE: Final = "rate(1 minute)"
# The input an operator sends the cleanup function to reconcile every open meeting now.
RECONCILE_ALL_INPUT: Final[dict[str, str]] = {"reconcile": "all"}

# --- Domain events on the project's own bus ---------------------------------------------------
DEFAULT_DOMAIN_EVENT_SOURCE: Final = "meetings.backend"
DOMAIN_EVENT_TYPES: Final = (
    "meeting.created",
    "meeting.started",
    "meeting.ended",
    "meeting.end_settled",
    "attendee.joined",
    "attendee.left",
    "recording.started",
    "recording.available",
    "recording.failed",
    "transcription.started",
    "transcription.stopped",
    "transcription.failed",
    "webhook.disabled",
)
# Sent to one subscription directly (POST /webhooks/{id}/ping), never on the bus.
WEBHOOK_PING_EVENT_TYPE: Final = "webhook.ping"

# --- Webhooks ---------------------------------------------------------------------------------
# The project's bus → this rule → the "webhook events" queue → the fanout function → the
# "webhook deliveries" queue → the delivery function (docs/webhooks.md).


def webhook_event_pattern(source: str) -> dict[str, list[str]]:
    """The rule on the project's bus that feeds webhook delivery: every domain event type of
    `source` (the deployment's `domainEventSource`)."""
    return {"source": [source], "detail-type": list(DOMAIN_EVENT_TYPES)}


WEBHOOK_EVENT_PATTERN: Final = webhook_event_pattern(DEFAULT_DOMAIN_EVENT_SOURCE)
# The KMS encryption context key every webhook secret is encrypted under, valued with the
# subscription's id: the deployed roles may Encrypt and Decrypt only with it present.
WEBHOOK_ENCRYPTION_CONTEXT_KEY: Final = "webhookId"
# A delivery's retries come back through the deliveries queue by visibility timeout, one
# receive per attempt (domain/webhook_retries.py: 12 attempts by default). The queue's
# maxReceiveCount must be at least that; the surplus is headroom for receives lost to a
# crashed or timed-out invocation. Receives past the schedule go on to the dead-letter queue
# at once (visibility 0, no request sent).
WEBHOOK_DELIVERY_MAX_RECEIVE_COUNT: Final = 20
# Every HTTP attempt is bounded by this (connect and the whole answer).
WEBHOOK_DELIVERY_TIMEOUT_SECONDS: Final = 10


# --- The Lambda functions: one package, one entry point per function ----------------------
HANDLERS: Final[dict[str, str]] = {
    "api": "meetings.handlers.api.handler",
    "events": "meetings.handlers.events.handler",
    "publisher": "meetings.handlers.publisher.handler",
    "cleanup": "meetings.handlers.cleanup.handler",
    "webhook_fanout": "meetings.handlers.webhook_fanout.handler",
    "webhook_delivery": "meetings.handlers.webhook_delivery.handler",
}
# Each function's Lambda memory (MB; CPU comes in proportion). infra/function.py sizes the
# functions with it and the soak benchmark (bench/soak.py) sets each one's measured peak
# against it; docs/deploy.md, "Sizing", has the figures behind these numbers.
FUNCTION_MEMORY_MB: Final[dict[str, int]] = {
    "api": 1024,
    "events": 512,
    "publisher": 512,
    "cleanup": 512,
    "webhook_fanout": 512,
    "webhook_delivery": 512,
}

# Chime control regions: Chime delivers a meeting's events only to the control region that
# created it, so the stack (and its CreateMeeting calls) must live in one of them.
CHIME_CONTROL_REGIONS: Final = ("us-east-1", "us-west-2", "eu-central-1", "ap-southeast-1")
CHIME_MEDIA_REGIONS: Final = (
    "af-south-1", "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1",
    "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-north-1", "eu-south-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "us-gov-east-1", "us-gov-west-1",
)  # fmt: skip

# --- The HTTP API's routes -----------------------------------------------------------------------
# (method, path template, needs a JWT). The CDK stack creates exactly these routes on the HTTP
# API, and the local stack's gateway matches requests against them, so both answer unknown
# routes and missing tokens the same way before any handler code runs.
API_ROUTES: Final[tuple[tuple[str, str, bool], ...]] = (
    ("GET", "/health", False),
    ("GET", "/openapi.json", False),
    ("POST", "/meetings", True),
    ("GET", "/meetings", True),
    ("GET", "/meetings/{meetingId}", True),
    ("DELETE", "/meetings/{meetingId}", True),
    ("GET", "/meetings/{meetingId}/timeline", True),
    ("POST", "/meetings/{meetingId}/attendees", True),
    ("POST", "/meetings/{meetingId}/attendees/batch", True),
    ("GET", "/meetings/{meetingId}/attendees", True),
    ("GET", "/meetings/{meetingId}/attendees/{attendeeId}", True),
    ("DELETE", "/meetings/{meetingId}/attendees/{attendeeId}", True),
    ("PUT", "/meetings/{meetingId}/attendees/{attendeeId}/capabilities", True),
    ("POST", "/meetings/{meetingId}/recording", True),
    ("DELETE", "/meetings/{meetingId}/recording", True),
    ("GET", "/meetings/{meetingId}/recordings", True),
    ("GET", "/meetings/{meetingId}/recordings/{recordingId}", True),
    ("POST", "/meetings/{meetingId}/transcription", True),
    ("DELETE", "/meetings/{meetingId}/transcription", True),
    ("GET", "/meetings/{meetingId}/transcript", True),
    ("POST", "/meetings/{meetingId}/mute-all", True),
    ("POST", "/webhooks", True),
    ("GET", "/webhooks", True),
    ("GET", "/webhooks/{webhookId}", True),
    ("PATCH", "/webhooks/{webhookId}", True),
    ("DELETE", "/webhooks/{webhookId}", True),
    ("POST", "/webhooks/{webhookId}/rotate-secret", True),
    ("POST", "/webhooks/{webhookId}/ping", True),
    ("GET", "/webhooks/{webhookId}/deliveries", True),
    ("POST", "/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver", True),
)
# CORS: the request headers clients may send and the response headers they may read.
CORS_ALLOWED_HEADERS: Final = ("Authorization", "Content-Type", "Idempotency-Key")
CORS_EXPOSED_HEADERS: Final = ("Retry-After",)
