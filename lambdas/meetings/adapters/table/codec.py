"""The single table's item layout and the conversion of items to records and back.

Every key the code writes is built here:
- meeting: `MEETING#<meetingId>` / `MEETING`. The record; in `byHost` always, in
  `openByCreated` and `openByDeadline` while open, under its shard `OPEN#<n>` (n from the
  meeting id, deployment.OPEN_SHARDS); items written before the shards are under `OPEN`.
- attendee: `MEETING#<meetingId>` / `ATTENDEE#<attendeeId>`. Presence and capabilities; in
  `rosterByAdded`.
- activity: `MEETING#<meetingId>` / `ACTIVITY`. The head of the meeting's activity log
  (domain/presence.py): its version and the chunk it starts from; written by the events
  function only. Its log, in chunks of its own partition: `ACTIVITY#<meetingId>` /
  `<version, 10 digits>`, the entries one write added (and, on the chunk a compaction wrote,
  the checkpoint and every entry it kept), each written once (adapters/table/activity.py).
  No index attribute on either, so no index copies them; every item a write touches is small.
- recording: `MEETING#<meetingId>` / `RECORDING#<recordingId>`. A recording's state
  (adapters/table/recordings.py); in `openByDeadline` under the partition `RECORDING` while
  it is not final, so the cleanup finds the ones due a check.
- user pointer: `MEETING#<meetingId>` / `USER#<userId>`. The user's current attendee, and
  whether the host barred the user.
- room: `ROOM#<casefolded name>` / `ROOM`. The open meeting holding a room name, and the
  name's generation.
- open-meeting count: `HOST#<userId>` / `OPEN_MEETINGS`. How many open meetings the user hosts
  (`openMeetings`); the create transaction raises it only below the per-user cap.
- idempotency: `IDEMPOTENCY#...` / Powertools' key, written by Powertools' persistence layer.
- webhook subscription: `WEBHOOKS` / `WEBHOOK#<webhookId>` (one partition: admins register a
  handful, and the fanout reads them all); its delivery attempts: `WEBHOOK#<webhookId>` /
  `DELIVERY#<deliveryId>`, with a TTL (adapters/table/webhooks.py).
- event sequence: `SEQUENCE#<meetingId>` / `COUNTER` and `EVENT#<eventId>`
  (adapters/table/sequences.py).

A meeting's activity, attendee and user items share its partition, so one Query reads a roster.

Items are in DynamoDB's low-level attribute-value format (what the client and the table's
stream both speak), so `meeting_from_item` reads a stream image as well as a GetItem answer.
Index attributes (meetings.deployment) are derived from the record on every full write.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any, Final, TypeVar

from meetings import deployment
from meetings.adapters import attribute_values
from meetings.adapters.attribute_values import plain_value
from meetings.domain.instants import rfc3339
from meetings.domain.records import (
    AttendeeRecord,
    Capabilities,
    Capability,
    EndNoticer,
    EndReason,
    EndSource,
    MeetingRecord,
    MeetingStatus,
    Presence,
    UserPointerRecord,
)
from meetings.service.ports import RoomClaim

Item = dict[str, Any]
RecordT = TypeVar("RecordT")

MEETING_SK: Final = "MEETING"
ACTIVITY_SK: Final = "ACTIVITY"
ROOM_SK: Final = "ROOM"
ATTENDEE_SK_PREFIX: Final = "ATTENDEE#"
USER_SK_PREFIX: Final = "USER#"
RECORDING_SK_PREFIX: Final = "RECORDING#"
# The due index's partition of recordings that are not final (meetings use their shard).
RECORDING_DUE_PARTITION: Final = "RECORDING"
# The open indexes' one partition before they were sharded: still read, so that meetings
# opened before are seen until they end (docs/deploy.md, "Open-index shards").
LEGACY_OPEN_PARTITION: Final = "OPEN"
OPEN_MEETINGS_SK: Final = "OPEN_MEETINGS"
WEBHOOKS_PK: Final = "WEBHOOKS"
WEBHOOK_SK_PREFIX: Final = "WEBHOOK#"
DELIVERY_SK_PREFIX: Final = "DELIVERY#"
# The per-host count of open meetings. Kept in the same transactions that create and end a
# meeting, so it never drifts and the per-user cap costs no read.
OPEN_MEETINGS_ATTRIBUTE: Final = "openMeetings"
# Chime's content-share attendees: `<attendeeId>#content`, not counted in attendeeTotal.
CONTENT_SHARE_SUFFIX: Final = "#content"
DEFAULT_RECONCILE_INTERVAL_SECONDS: Final = 180


def meeting_pk(meeting_id: str) -> str:
    return f"MEETING#{meeting_id}"


def attendee_sk(attendee_id: str) -> str:
    return f"{ATTENDEE_SK_PREFIX}{attendee_id}"


def user_sk(user_id: str) -> str:
    return f"{USER_SK_PREFIX}{user_id}"


def recording_key(meeting_id: str, recording_id: str) -> Item:
    return _key(meeting_pk(meeting_id), f"{RECORDING_SK_PREFIX}{recording_id}")


def room_pk(room_name: str) -> str:
    """Room names are case-insensitive (Chime documents ExternalMeetingId so)."""
    return f"ROOM#{room_name.casefold()}"


def host_pk(user_id: str) -> str:
    return f"HOST#{user_id}"


def open_partition(meeting_id: str) -> str:
    """The open indexes' shard of a meeting: a stable hash of its id, so every writer agrees."""
    digest = hashlib.blake2b(meeting_id.encode(), digest_size=4).digest()
    return f"OPEN#{int.from_bytes(digest, 'big') % deployment.OPEN_SHARDS}"


def open_partitions() -> tuple[str, ...]:
    """Every partition the open indexes may hold a meeting under, the legacy one last."""
    return (
        *(f"OPEN#{shard}" for shard in range(deployment.OPEN_SHARDS)),
        LEGACY_OPEN_PARTITION,
    )


def _key(pk: str, sk: str) -> Item:
    return {deployment.PARTITION_KEY: {"S": pk}, deployment.SORT_KEY: {"S": sk}}


def meeting_key(meeting_id: str) -> Item:
    return _key(meeting_pk(meeting_id), MEETING_SK)


def attendee_key(meeting_id: str, attendee_id: str) -> Item:
    return _key(meeting_pk(meeting_id), attendee_sk(attendee_id))


def pointer_key(meeting_id: str, user_id: str) -> Item:
    return _key(meeting_pk(meeting_id), user_sk(user_id))


def room_key(room_name: str) -> Item:
    return _key(room_pk(room_name), ROOM_SK)


def open_meetings_key(host_user_id: str) -> Item:
    return _key(host_pk(host_user_id), OPEN_MEETINGS_SK)


def activity_key(meeting_id: str) -> Item:
    return _key(meeting_pk(meeting_id), ACTIVITY_SK)


def activity_log_pk(meeting_id: str) -> str:
    return f"ACTIVITY#{meeting_id}"


CHUNK_DIGITS: Final = 10  # a chunk's sort key: the log version that wrote it, zero-padded


def log_chunk_key(meeting_id: str, version: int) -> Item:
    return _key(activity_log_pk(meeting_id), f"{version:0{CHUNK_DIGITS}d}")


def key_of(item: Mapping[str, Any]) -> tuple[str, str]:
    """An item's (or a key's) partition and sort key."""
    return (item[deployment.PARTITION_KEY]["S"], item[deployment.SORT_KEY]["S"])


def sort_key_of(item: Mapping[str, Any]) -> str:
    return str(item[deployment.SORT_KEY]["S"])


# --- (de)serialisation -----------------------------------------------------------------------


def to_attribute_values(values: Mapping[str, Any]) -> Item:
    """Plain values → attribute values; None means "no attribute" (sparse indexes rely on it)."""
    return {
        name: attribute_values.serialize(value)
        for name, value in values.items()
        if value is not None
    }


def from_attribute_values(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: plain_value(value) for name, value in item.items()}


def serialize(value: Any) -> Any:
    """One plain value as an attribute value."""
    return attribute_values.serialize(value)


def _field_values(record: Any) -> dict[str, Any]:
    """A record's fields by name, nested records as dicts. Unlike `dataclasses.asdict` it
    does not deep-copy the plain dicts (features, tags, the Chime meeting): the serializer
    only reads them, and the copy was a good part of a create's own time."""
    values = {name: getattr(record, name) for name in _FIELD_NAMES[type(record)]}
    capabilities = values.get("capabilities")
    if isinstance(capabilities, Capabilities):
        values["capabilities"] = {
            "audio": capabilities.audio,
            "video": capabilities.video,
            "content": capabilities.content,
        }
    return values


_FIELD_NAMES: Final[dict[type, tuple[str, ...]]] = {
    record_type: tuple(field.name for field in dataclasses.fields(record_type))
    for record_type in (MeetingRecord, AttendeeRecord, UserPointerRecord)
}


def _capabilities(raw: Mapping[str, str] | None) -> Capabilities:
    raw = raw or {}
    return Capabilities(
        audio=Capability(raw.get("audio", Capability.SEND_RECEIVE)),
        video=Capability(raw.get("video", Capability.SEND_RECEIVE)),
        content=Capability(raw.get("content", Capability.SEND_RECEIVE)),
    )


_MEETING_CONVERTERS: Final[dict[str, Any]] = {
    "status": MeetingStatus,
    "endReason": EndReason,
    "requestedEndReason": EndReason,
    "endedAtSource": EndSource,
    "endNoticedBy": EndNoticer,
}
_ATTENDEE_CONVERTERS: Final[dict[str, Any]] = {
    "presence": Presence,
    "capabilities": _capabilities,
}


def _record_from(
    record_type: type[RecordT], item: Mapping[str, Any], converters: Mapping[str, Any]
) -> RecordT:
    # Only the record's own fields are converted: keys and index attributes are not read.
    arguments = {
        name: plain_value(item[name]) for name in _FIELD_NAMES[record_type] if name in item
    }
    for name, convert in converters.items():
        if arguments.get(name) is not None:
            arguments[name] = convert(arguments[name])
    return record_type(**arguments)


def meeting_from_item(item: Mapping[str, Any]) -> MeetingRecord:
    return _record_from(MeetingRecord, item, _MEETING_CONVERTERS)


def attendee_from_item(item: Mapping[str, Any]) -> AttendeeRecord:
    return _record_from(AttendeeRecord, item, _ATTENDEE_CONVERTERS)


def pointer_from_item(item: Mapping[str, Any]) -> UserPointerRecord:
    return _record_from(UserPointerRecord, item, {})


def room_from_item(item: Mapping[str, Any] | None, room_name: str) -> RoomClaim:
    if item is None:
        return RoomClaim(roomName=room_name)
    values = from_attribute_values(item)
    return RoomClaim(
        roomName=str(values.get("roomName", room_name)),
        generation=int(values.get("generation", 0)),
        meetingId=values.get("meetingId"),
    )


def next_due_at_ms(record: MeetingRecord, reconcile_interval_seconds: int) -> int:
    """The first instant the cleanup must look at a new meeting: its deadline or a reconcile."""
    due = record.createdAt + reconcile_interval_seconds * 1000
    if record.maxDurationSeconds is not None:
        due = min(due, record.createdAt + record.maxDurationSeconds * 1000)
    return due


def _created_sort_key(record: MeetingRecord) -> str:
    # The meeting id breaks ties between meetings created in the same millisecond.
    return f"{rfc3339(record.createdAt)}#{record.meetingId}"


def meeting_to_item(
    record: MeetingRecord, reconcile_interval_seconds: int = DEFAULT_RECONCILE_INTERVAL_SECONDS
) -> Item:
    values = _field_values(record)
    values[deployment.PARTITION_KEY] = meeting_pk(record.meetingId)
    values[deployment.SORT_KEY] = MEETING_SK
    values[deployment.HOST_INDEX_PK] = host_pk(record.hostUserId)
    created_sort_key = _created_sort_key(record)
    values[deployment.HOST_INDEX_SK] = created_sort_key
    if record.status.is_open:
        shard = open_partition(record.meetingId)
        values[deployment.OPEN_INDEX_PK] = shard
        values[deployment.OPEN_INDEX_SK] = created_sort_key
        values[deployment.DUE_INDEX_PK] = shard
        values[deployment.DUE_INDEX_SK] = rfc3339(
            next_due_at_ms(record, reconcile_interval_seconds)
        )
    return to_attribute_values(values)


def roster_sort_key(record: AttendeeRecord) -> str:
    return f"{rfc3339(record.addedAt)}#{record.attendeeId}"


def attendee_to_item(record: AttendeeRecord) -> Item:
    values = _field_values(record)
    values[deployment.PARTITION_KEY] = meeting_pk(record.meetingId)
    values[deployment.SORT_KEY] = attendee_sk(record.attendeeId)
    values[deployment.ROSTER_INDEX_SK] = roster_sort_key(record)
    return to_attribute_values(values)


def pointer_to_item(record: UserPointerRecord) -> Item:
    values = _field_values(record)
    values[deployment.PARTITION_KEY] = meeting_pk(record.meetingId)
    values[deployment.SORT_KEY] = user_sk(record.userId)
    return to_attribute_values(values)
