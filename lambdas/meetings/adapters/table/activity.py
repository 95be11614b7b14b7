"""The events handler's reads and conditional writes of a meeting's activity.

A meeting's activity log (domain/presence.py: a checkpoint and the entries after it) lives on
its own item, `MEETING#<id>` / `ACTIVITY` (codec.py): the string set `entries`, the
string `checkpoint` and the number `version`, raised by one on every write of the item. It has
no index attribute, so no index copies it, and the meeting item stays small.
One write stores what the service derived, in one TransactWriteItems:
- the activity item: the new entries added (or, after a compaction or a late entry, the whole
  log set), conditioned on the version the change was derived from — the log is no longer
  grow-only, so only the version can say "the log is as read"; or, when the log does not
  change, a ConditionCheck on that version;
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

from collections.abc import Mapping, Sequence
from typing import Any, Final

from meetings import deployment
from meetings.adapters.table.base import TableBase
from meetings.adapters.table.checkpoint import decode_checkpoint, encode_checkpoint
from meetings.adapters.table.codec import (
    ACTIVITY_SK,
    ATTENDEE_SK_PREFIX,
    MEETING_SK,
    Item,
    activity_key,
    attendee_from_item,
    attendee_key,
    attendee_to_item,
    key_of,
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
from meetings.domain.presence import ActivityLog, decode_log
from meetings.domain.records import AttendeeRecord, Presence
from meetings.service.ports import (
    ActivityConflictError,
    TransactionConflictError,
    TransactionRejectedError,
)

# The activity item's attributes.
ENTRIES_ATTRIBUTE: Final = "entries"  # string set of encoded entries
CHECKPOINT_ATTRIBUTE: Final = "checkpoint"  # the encoded checkpoint, once the log was compacted
VERSION_ATTRIBUTE: Final = "version"


def activity_from_item(item: Mapping[str, Any] | None) -> tuple[ActivityLog, int]:
    """The log and the version an activity item holds (an absent item: empty, version 0)."""
    if item is None:
        return ActivityLog(), 0
    entries = decode_log(item.get(ENTRIES_ATTRIBUTE, {}).get("SS", []))
    text = item.get(CHECKPOINT_ATTRIBUTE, {}).get("S")
    checkpoint = decode_checkpoint(text) if text else None
    return ActivityLog(entries, checkpoint), int(item.get(VERSION_ATTRIBUTE, {}).get("N", "0"))


def _names_and_values(fields: Mapping[str, Any], prefix: str) -> tuple[str, dict[str, str], Item]:
    """`SET` assignments for the fields with a value (None values are for `REMOVE`)."""
    assignments, names, values = [], {}, {}
    present = sorted((name, value) for name, value in fields.items() if value is not None)
    for index, (name, value) in enumerate(present):
        names[f"#{prefix}{index}"] = name
        values[f":{prefix}{index}"] = to_attribute_values({name: value})[name]
        assignments.append(f"#{prefix}{index} = :{prefix}{index}")
    return ", ".join(assignments), names, values


def _log_clauses(
    change: ActivityWrite, names: dict[str, str], values: Item
) -> tuple[list[str], list[str], list[str]]:
    """(SET, REMOVE, ADD) parts that store the change's log: the new entries added, or the
    whole log (entries and checkpoint) written over the old one. The version goes up by one."""
    sets: list[str] = []
    removes: list[str] = []
    additions = ["#version :one"]
    if change.rewrite is None:
        additions.append("#entries :entries")
        values[":entries"] = {"SS": sorted(entry.encode() for entry in change.new_entries)}
        return sets, removes, additions
    names["#checkpoint"] = CHECKPOINT_ATTRIBUTE
    entries = sorted(entry.encode() for entry in change.rewrite.entries)
    if entries:
        sets.append("#entries = :entries")
        values[":entries"] = {"SS": entries}
    else:
        removes.append("#entries")  # DynamoDB stores no empty set
    if change.rewrite.checkpoint is not None:
        sets.append("#checkpoint = :checkpoint")
        values[":checkpoint"] = {"S": encode_checkpoint(change.rewrite.checkpoint)}
    else:
        removes.append("#checkpoint")
    return sets, removes, additions


class ActivityTable(TableBase):
    """A meeting's activity with what it derives (port: ActivityStore)."""

    # --- read --------------------------------------------------------------------------------

    def read(
        self, meeting_id: str, attendee_ids: Sequence[str], *, every_attendee: bool = False
    ) -> ActivitySnapshot | None:
        """The meeting, its activity and the given attendees in one consistent BatchGetItem
        (or, with every_attendee, the meeting's whole partition); None: no such meeting."""
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
        log, version = activity_from_item(found.get(key_of(wanted[1])))
        return ActivitySnapshot(meeting_from_item(meeting_item), log, attendees, version=version)

    def _read_partition(self, meeting_id: str) -> ActivitySnapshot | None:
        meeting_item: Item | None = None
        activity_item: Item | None = None
        attendees: dict[str, AttendeeRecord | None] = {}
        for item in self._partition(meeting_id):
            sort_key = sort_key_of(item)
            if sort_key == MEETING_SK:
                meeting_item = item
            elif sort_key == ACTIVITY_SK:
                activity_item = item
            elif sort_key.startswith(ATTENDEE_SK_PREFIX):
                attendee = attendee_from_item(item)
                attendees[attendee.attendeeId] = attendee
        if meeting_item is None:
            return None
        log, version = activity_from_item(activity_item)
        return ActivitySnapshot(meeting_from_item(meeting_item), log, attendees, version=version)

    # --- write -------------------------------------------------------------------------------

    def write(self, change: ActivityWrite) -> None:
        """Apply one derived change atomically; ActivityConflictError if the snapshot is stale
        or DynamoDB cancelled the transaction for a conflict with another one."""
        if change.is_empty:
            return
        if len(change.attendees) > MAX_ATTENDEES_PER_WRITE:
            raise ValueError(f"at most {MAX_ATTENDEES_PER_WRITE} attendees per write")
        actions = [self._activity_action(change), self._meeting_action(change)]
        actions += [self._attendee_action(change, attendee) for attendee in change.attendees]
        try:
            with dynamodb_errors():
                self.client.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
        except (TransactionRejectedError, TransactionConflictError) as stale:
            raise ActivityConflictError(str(stale)) from stale

    def _activity_action(self, change: ActivityWrite) -> dict[str, Any]:
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
            return {"ConditionCheck": check}
        names |= {"#entries": ENTRIES_ATTRIBUTE, "#version": VERSION_ATTRIBUTE}
        values[":one"] = {"N": "1"}
        sets, removes, additions = _log_clauses(change, names, values)
        if change.attendee_expires_at is not None:
            names["#expiresAt"] = deployment.TTL_ATTRIBUTE
            sets.append("#expiresAt = :expiresAt")
            values[":expiresAt"] = {"N": str(change.attendee_expires_at)}
        clauses = []
        if sets:
            clauses.append("SET " + ", ".join(sets))
        if removes:
            clauses.append("REMOVE " + ", ".join(removes))
        clauses.append("ADD " + ", ".join(additions))
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": key,
                "UpdateExpression": " ".join(clauses),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

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
