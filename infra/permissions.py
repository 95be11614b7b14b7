"""What each function may do: the IAM statements, in one place so they can be read and tested.

Chime resource scoping follows the Service Authorization Reference for Amazon Chime: the
meeting resource type is `arn:${Partition}:chime:${Region}:${Account}:meeting/${MeetingId}`;
CreateMeeting and CreateMeetingWithAttendees define no resource type (the meeting does not
exist yet), so they can only be granted on `*`.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from meetings import deployment

# The Chime SDK Meetings operations each function calls (IAM prefix `chime:`).
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
        # CreateMeeting(WithAttendees) with Tags is authorized as tagging the new meeting too.
        "TagResource",
    ),
    "events": (),
    "cleanup": ("GetMeeting", "DeleteMeeting"),
    "publisher": (),
}
# No resource-level permissions exist for these (no meeting ARN before the meeting exists).
CHIME_ACTIONS_WITHOUT_RESOURCE: Final = frozenset({"CreateMeeting", "CreateMeetingWithAttendees"})

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
    # Attendee events carry the meeting's room name and host: one GetItem per meeting.
    "publisher": ("dynamodb:GetItem",),
}
INDEX_ACTIONS: Final = ("dynamodb:Query",)
FUNCTIONS_USING_INDEXES: Final = frozenset({"api", "events", "cleanup"})


def meeting_arn_pattern(stack: Stack) -> str:
    """Every Chime meeting of this account created through this region's control plane."""
    return stack.format_arn(
        service="chime", resource="meeting", resource_name="*", region=stack.region
    )


def chime_statements(function: str, stack: Stack) -> list[iam.PolicyStatement]:
    actions = CHIME_ACTIONS[function]
    unscoped = sorted(a for a in actions if a in CHIME_ACTIONS_WITHOUT_RESOURCE)
    scoped = sorted(a for a in actions if a not in CHIME_ACTIONS_WITHOUT_RESOURCE)
    statements = []
    if unscoped:
        statements.append(
            iam.PolicyStatement(
                sid="ChimeCreateMeetings",
                actions=[f"chime:{action}" for action in unscoped],
                resources=["*"],
            )
        )
    if scoped:
        statements.append(
            iam.PolicyStatement(
                sid="ChimeOnMeetings",
                actions=[f"chime:{action}" for action in scoped],
                resources=[meeting_arn_pattern(stack)],
            )
        )
    return statements


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
