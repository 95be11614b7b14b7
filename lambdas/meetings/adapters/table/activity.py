"""The events handler's reads and conditional writes of a meeting's activity.

A meeting's activity log (domain/presence.py: a checkpoint and the entries after it) is stored
so that every write is small, however old the meeting (codec.py):
- the head, `MEETING#<id>` / `ACTIVITY`: the number `version`, raised by one on every write of
  the log, and `base`, the version of the chunk the log starts from (absent: the first);
- chunks, `ACTIVITY#<id>` / `<version>`: each write of the log puts one, keyed by the version
  it makes. A write that adds entries puts them (`entries`, a string set); a write that
  replaces the log (a compaction, or a late entry marking the checkpoint incomplete) puts the
  whole new log — its `checkpoint` and every entry it keeps — and moves `base` to itself.
The log is the chunk at `base` and every later one: one Query, from `base` on, paged. Chunks
before `base` are never read again; like every chunk they carry a TTL from the meeting's
creation (long enough for any meeting and its retention), so nothing has to delete them.
A compaction's chunk holds at most what the log keeps (MAX_ENTRIES entries and a checkpoint),
one write among the hundreds of entries it folds; every other write adds a head of a few
dozen bytes and a chunk of its own entries.

A head written by the layout before this one holds the log itself (`entries`, `checkpoint`):
it is read as the log's start, and the first compaction moves it into a chunk.

One write stores what the service derived, in one TransactWriteItems:
- the head: the version raised, conditioned on the version the change was derived from (only
  the version can say "the log is as read"), and the new chunk, conditioned on being new; or,
  when the log does not change, a ConditionCheck on that version;
- the meeting: the derived fields that changed, conditioned on the status read; or, when none
  changed, a ConditionCheck on the status (every derivation depends on it: an ended meeting
  clamps the log at its end);
- each attendee: conditioned on it not being REMOVED (new attendees: on not existing).
Two batches of one meeting applied at once therefore never overwrite each other's work: the
second one's condition fails, it reads again and derives again. So does a transaction that
DynamoDB cancels for a conflict with another one in flight on one of its items
(`TransactionConflict`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from meetings import deployment
from meetings.adapters.table.base import DEFAULT_RETENTION_DAYS, TableBase
from meetings.adapters.table.checkpoint import decode_checkpoint, encode_checkpoint
from meetings.adapters.table.codec import (
    ACTIVITY_SK,
    ATTENDEE_SK_PREFIX,
    CHUNK_DIGITS,
    MEETING_SK,
    Item,
    activity_key,
    activity_log_pk,
    attendee_from_item,
    attendee_key,
    attendee_to_item,
    key_of,
    log_chunk_key,
    meeting_from_item,
    meeting_key,
    sort_key_of,
    to_attribute_values,
)
from meetings.adapters.table.errors import dynamodb_errors
from meetings.domain.activity_plan import (
    MAX_ATTENDEES_PER_WRITE,
    ActivitySnapshot,
    ActivityWrite,
    AttendeeChange,
)
from meetings.domain.presence import ActivityLog, Checkpoint, LogEntry, decode_log
from meetings.domain.records import AttendeeRecord, Presence
from meetings.service.ports import (
    ActivityConflictError,
    TransactionConflictError,
    TransactionRejectedError,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The head's and the chunks' attributes.
ENTRIES_ATTRIBUTE: Final = "entries"  # string set of encoded entries
CHECKPOINT_ATTRIBUTE: Final = "checkpoint"  # the encoded checkpoint (a compaction's chunk)
VERSION_ATTRIBUTE: Final = "version"
BASE_ATTRIBUTE: Final = "base"  # the version of the chunk the log starts from
# How long after its meeting's creation a chunk is kept: Chime ends every meeting within 24
# hours, the backend notices within a day more at worst, and the meeting's items are kept for
# the retention after its end (docs/architecture.md, the table).
_LONGEST_MEETING_SECONDS: Final = 2 * 86_400
_SECONDS_PER_DAY: Final = 86_400


def _chunk_entries(item: Mapping[str, Any]) -> list[str]:
    return list(item.get(ENTRIES_ATTRIBUTE, {}).get("SS", []))


def _checkpoint_of(item: Mapping[str, Any] | None) -> Checkpoint | None:
    text = None if item is None else item.get(CHECKPOINT_ATTRIBUTE, {}).get("S")
    return decode_checkpoint(text) if text else None


def _number(item: Mapping[str, Any] | None, name: str) -> int:
    return 0 if item is None else int(item.get(name, {}).get("N", "0"))


def activity_from_items(
    head: Mapping[str, Any] | None, chunks: Iterable[Mapping[str, Any]]
) -> tuple[ActivityLog, int]:
    """The log and the version a head and its chunks (from `base` on) hold (no head: empty,
    version 0). Without a `base` the head itself may hold the log's start (the earlier layout)."""
    if head is None:
        return ActivityLog(), 0
    base = _number(head, BASE_ATTRIBUTE)
    chunks = list(chunks)
    if base:
        first = next((c for c in chunks if _chunk_version(c) == base), None)
        checkpoint = _checkpoint_of(first)
        encoded: list[str] = []
    else:
        checkpoint = _checkpoint_of(head)
        encoded = _chunk_entries(head)
    for chunk in chunks:
        encoded += _chunk_entries(chunk)
    return ActivityLog(decode_log(encoded), checkpoint), _number(head, VERSION_ATTRIBUTE)


def _chunk_version(item: Mapping[str, Any]) -> int:
    return int(sort_key_of(item))


def _names_and_values(fields: Mapping[str, Any], prefix: str) -> tuple[str, dict[str, str], Item]:
    """`SET` assignments for the fields with a value (None values are for `REMOVE`)."""
    assignments, names, values = [], {}, {}
    present = sorted((name, value) for name, value in fields.items() if value is not None)
    for index, (name, value) in enumerate(present):
        names[f"#{prefix}{index}"] = name
        values[f":{prefix}{index}"] = to_attribute_values({name: value})[name]
        assignments.append(f"#{prefix}{index} = :{prefix}{index}")
    return ", ".join(assignments), names, values


def _encoded(entries: Iterable[LogEntry]) -> list[str]:
    return sorted(entry.encode() for entry in entries)


class ActivityTable(TableBase):
    """A meeting's activity with what it derives (port: ActivityStore)."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        super().__init__(table_name, client)
        self.retention_seconds = retention_days * _SECONDS_PER_DAY

    # --- read --------------------------------------------------------------------------------

    def read(
        self, meeting_id: str, attendee_ids: Sequence[str], *, every_attendee: bool = False
    ) -> ActivitySnapshot | None:
        """The meeting, its activity and the given attendees in one consistent BatchGetItem
        (or, with every_attendee, the meeting's whole partition), then the log's chunks;
        None: no such meeting."""
        if every_attendee:
            return self._read_partition(meeting_id)
        wanted = [meeting_key(meeting_id), activity_key(meeting_id)]
        wanted += [attendee_key(meeting_id, a) for a in attendee_ids]
        found = self._batch_get(wanted)
        meeting_item = found.get(key_of(wanted[0]))
        if meeting_item is None:
            return None
        attendees: dict[str, AttendeeRecord | None] = {}
        for attendee_id, key in zip(attendee_ids, wanted[2:], strict=False):
            item = found.get(key_of(key))
            attendees[attendee_id] = None if item is None else attendee_from_item(item)
        log, version = self._log(meeting_id, found.get(key_of(wanted[1])))
        return ActivitySnapshot(meeting_from_item(meeting_item), log, attendees, version=version)

    def _read_partition(self, meeting_id: str) -> ActivitySnapshot | None:
        meeting_item: Item | None = None
        head: Item | None = None
        attendees: dict[str, AttendeeRecord | None] = {}
        for item in self._partition(meeting_id):
            sort_key = sort_key_of(item)
            if sort_key == MEETING_SK:
                meeting_item = item
            elif sort_key == ACTIVITY_SK:
                head = item
            elif sort_key.startswith(ATTENDEE_SK_PREFIX):
                attendee = attendee_from_item(item)
                attendees[attendee.attendeeId] = attendee
        if meeting_item is None:
            return None
        log, version = self._log(meeting_id, head)
        return ActivitySnapshot(meeting_from_item(meeting_item), log, attendees, version=version)

    def _log(self, meeting_id: str, head: Item | None) -> tuple[ActivityLog, int]:
        """The log the head points at: its chunks from `base` on, read consistently."""
        if _number(head, VERSION_ATTRIBUTE) == 0:
            return activity_from_items(head, [])
        first = max(1, _number(head, BASE_ATTRIBUTE))
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk AND #sk >= :first",
            "ExpressionAttributeNames": {
                "#pk": deployment.PARTITION_KEY,
                "#sk": deployment.SORT_KEY,
            },
            "ExpressionAttributeValues": {
                ":pk": {"S": activity_log_pk(meeting_id)},
                ":first": {"S": f"{first:0{CHUNK_DIGITS}d}"},
            },
            "ConsistentRead": True,
        }
        chunks: list[Item] = []
        start: Item | None = None
        while True:
            items, start = self._query_from(arguments, start)
            chunks.extend(items)
            if not start:
                return activity_from_items(head, chunks)

    # --- write -------------------------------------------------------------------------------

    def write(self, change: ActivityWrite) -> None:
        """Apply one derived change atomically; ActivityConflictError if the snapshot is stale
        or DynamoDB cancelled the transaction for a conflict with another one."""
        if change.is_empty:
            return
        if len(change.attendees) > MAX_ATTENDEES_PER_WRITE:
            raise ValueError(f"at most {MAX_ATTENDEES_PER_WRITE} attendees per write")
        actions = [*self._activity_actions(change), self._meeting_action(change)]
        actions += [self._attendee_action(change, attendee) for attendee in change.attendees]
        try:
            with dynamodb_errors():
                self.client.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
        except (TransactionRejectedError, TransactionConflictError) as stale:
            raise ActivityConflictError(str(stale)) from stale

    def _activity_actions(self, change: ActivityWrite) -> list[dict[str, Any]]:
        """The head's update (or check) and, when the log changes, its new chunk."""
        names: dict[str, str] = {}
        values: Item = {}
        if change.expected_version:
            condition = "#version = :version"
            names["#version"] = VERSION_ATTRIBUTE
            values[":version"] = {"N": str(change.expected_version)}
        else:
            condition = "attribute_not_exists(#pk)"
            names["#pk"] = deployment.PARTITION_KEY
        key = activity_key(change.meeting_id)
        if not change.changes_log:
            # The log stays as read: only check it still is (the derivation depends on it).
            check: dict[str, Any] = {
                "TableName": self.table_name,
                "Key": key,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
            }
            if values:
                check["ExpressionAttributeValues"] = values
            return [{"ConditionCheck": check}]
        version = change.expected_version + 1
        names["#version"] = VERSION_ATTRIBUTE
        values[":one"] = {"N": "1"}
        sets: list[str] = []
        removes: list[str] = []
        if change.rewrite is not None:
            # The log starts again at this write's chunk; a head of the earlier layout gives
            # up the log it held (the chunk now holds what is kept of it).
            names |= {"#base": BASE_ATTRIBUTE, "#entries": ENTRIES_ATTRIBUTE}
            names["#checkpoint"] = CHECKPOINT_ATTRIBUTE
            sets.append("#base = :base")
            values[":base"] = {"N": str(version)}
            removes += ["#entries", "#checkpoint"]
        if change.attendee_expires_at is not None:
            names["#expiresAt"] = deployment.TTL_ATTRIBUTE
            sets.append("#expiresAt = :expiresAt")
            values[":expiresAt"] = {"N": str(change.attendee_expires_at)}
        clauses = []
        if sets:
            clauses.append("SET " + ", ".join(sets))
        if removes:
            clauses.append("REMOVE " + ", ".join(removes))
        clauses.append("ADD #version :one")
        head = {
            "Update": {
                "TableName": self.table_name,
                "Key": key,
                "UpdateExpression": " ".join(clauses),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }
        return [head, self._chunk_put(change, version)]

    def _chunk_put(self, change: ActivityWrite, version: int) -> dict[str, Any]:
        item = log_chunk_key(change.meeting_id, version)
        if change.rewrite is None:
            entries = _encoded(change.new_entries)
        else:
            entries = _encoded(change.rewrite.entries)
            if change.rewrite.checkpoint is not None:
                item[CHECKPOINT_ATTRIBUTE] = {"S": encode_checkpoint(change.rewrite.checkpoint)}
        if entries:
            item[ENTRIES_ATTRIBUTE] = {"SS": entries}  # DynamoDB stores no empty set
        expires_at = change.created_at // 1000 + _LONGEST_MEETING_SECONDS + self.retention_seconds
        if change.attendee_expires_at is not None:
            expires_at = min(expires_at, change.attendee_expires_at)
        item[deployment.TTL_ATTRIBUTE] = {"N": str(expires_at)}
        # Versions only grow, so a chunk is written once; never over another.
        return self._put_new(item)

    def _meeting_action(self, change: ActivityWrite) -> dict[str, Any]:
        assignments, names, values = _names_and_values(change.meeting_fields, "m")
        names |= {"#pk": deployment.PARTITION_KEY, "#status": "status"}
        values[":status"] = {"S": str(change.expected_status)}
        clauses = [f"SET {assignments}"] if assignments else []
        if change.attendees_added:
            clauses.append("ADD #total :added")
            names["#total"] = "attendeeTotal"
            values[":added"] = {"N": str(change.attendees_added)}
        condition = "attribute_exists(#pk) AND #status = :status"
        if not clauses:
            # Nothing to change on the meeting: only check it is still what we derived from.
            return {
                "ConditionCheck": {
                    "TableName": self.table_name,
                    "Key": meeting_key(change.meeting_id),
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": meeting_key(change.meeting_id),
                "UpdateExpression": " ".join(clauses),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _attendee_action(self, change: ActivityWrite, attendee: AttendeeChange) -> dict[str, Any]:
        names = {"#pk": deployment.PARTITION_KEY}
        if attendee.create is not None:
            item = attendee_to_item(attendee.create)
            if change.attendee_expires_at is not None:
                item |= to_attribute_values({deployment.TTL_ATTRIBUTE: change.attendee_expires_at})
            return {
                "Put": {
                    "TableName": self.table_name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": names,
                }
            }
        fields = dict(attendee.fields)
        if change.attendee_expires_at is not None:
            fields[deployment.TTL_ATTRIBUTE] = change.attendee_expires_at
        assignments, field_names, values = _names_and_values(fields, "a")
        clauses = [f"SET {assignments}"] if assignments else []
        removals = sorted(name for name, value in fields.items() if value is None)
        if removals:
            clauses.append("REMOVE " + ", ".join(f"#r{i}" for i in range(len(removals))))
            field_names |= {f"#r{i}": name for i, name in enumerate(removals)}
        values[":removed"] = {"S": str(Presence.REMOVED)}
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": attendee_key(change.meeting_id, attendee.attendee_id),
                "UpdateExpression": " ".join(clauses),
                "ConditionExpression": "attribute_exists(#pk) AND #presence <> :removed",
                "ExpressionAttributeNames": names | field_names | {"#presence": "presence"},
                "ExpressionAttributeValues": values,
            }
        }
