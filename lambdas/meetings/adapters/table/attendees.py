"""An attendee's writes: recording one (its item and its user's pointer), counting it on the
meeting, closing a late one, removing it, barring its user, changing its capabilities."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from meetings import deployment
from meetings.adapters.table.base import MeetingTableBase
from meetings.adapters.table.codec import (
    Item,
    attendee_from_item,
    attendee_key,
    attendee_to_item,
    meeting_key,
    pointer_key,
    pointer_to_item,
    serialize,
)
from meetings.adapters.table.errors import dynamodb_errors
from meetings.domain.records import (
    AttendeeRecord,
    Capabilities,
    Presence,
    UserPointerRecord,
)
from meetings.service.ports import TransactionConflictError, TransactionRejectedError


class AttendeeWrites(MeetingTableBase):
    """The conditional writes of attendees and their users' pointers."""

    def add_attendee(
        self,
        attendee: AttendeeRecord,
        pointer: UserPointerRecord,
        *,
        replaces_attendee_id: str | None,
    ) -> None:
        """Record a new attendee for a user: the attendee item and the user's pointer, in one
        transaction that touches only this user's items (never the meeting item, which every
        join would otherwise contend for). The caller then confirms the meeting is still open
        with `count_attendee`.

        The pointer is only overwritten if it still names `replaces_attendee_id` and the user is
        not barred (None: no pointer may exist yet). Raises TransactionRejectedError: index 0 =
        the attendee exists, 1 = the pointer changed or is barred; TransactionConflictError
        when a concurrent transaction on these items kept cancelling it (nothing written).
        """
        if replaces_attendee_id is None:
            pointer_condition = "attribute_not_exists(#pk)"
            pointer_values: Item = {}
        else:
            pointer_condition = (
                "#attendeeId = :previous AND (attribute_not_exists(#barred) OR #barred = :false)"
            )
            pointer_values = {":previous": {"S": replaces_attendee_id}, ":false": {"BOOL": False}}
        pointer_put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": pointer_to_item(pointer),
            "ConditionExpression": pointer_condition,
            "ExpressionAttributeNames": {"#pk": deployment.PARTITION_KEY}
            if replaces_attendee_id is None
            else {"#attendeeId": "attendeeId", "#barred": "barred"},
        }
        if pointer_values:
            pointer_put["ExpressionAttributeValues"] = pointer_values
        self._transact([self._put_new(attendee_to_item(attendee)), {"Put": pointer_put}])

    def count_attendee(self, meeting_id: str) -> bool:
        """After a new attendee is recorded: add it to the meeting's `attendeeTotal`, on
        condition the meeting exists and has not ended. False if it is gone or ENDED (the
        caller then closes its attendee and answers 410). The item is not returned: the
        meeting's whole record would be read back, and parsed, on every join for one bit.

        This is also the check that the meeting was open after the attendee was written: an
        end marks the meeting ENDED before it reads the partition to close its attendees, so
        either that read sees the attendee or this condition sees ENDED. A plain write
        conflicts only with a transaction in flight on the meeting item (an events batch, an
        end): it is retried; if it still conflicts the meeting is read instead and the
        increment is lost — the end recounts `attendeeTotal` exactly (`_recount_attendees`).
        """
        try:
            self._update(
                TableName=self.table_name,
                Key=meeting_key(meeting_id),
                UpdateExpression="ADD #total :one",
                **self._while_open({"#total": "attendeeTotal"}, {":one": {"N": "1"}}),
            )
        except TransactionRejectedError:
            return False
        except TransactionConflictError:
            meeting = self.get_meeting(meeting_id)
            return meeting is not None and meeting.status.is_open
        return True

    def close_attendee(self, attendee: AttendeeRecord, now_ms: int) -> None:
        """An attendee recorded after its meeting ended (a join that lost the race with the
        end): its attendee and pointer items get the meeting's TTL, as the end gives every
        other one. Presence stays as written."""
        meeting = self.get_meeting(attendee.meetingId)
        expires_at = (
            meeting.expiresAt
            if meeting is not None and meeting.expiresAt
            else now_ms // 1000 + self.retention_seconds
        )
        for key in (
            attendee_key(attendee.meetingId, attendee.attendeeId),
            pointer_key(attendee.meetingId, attendee.userId),
        ):
            update = self._expire(key, expires_at)
            try:
                self._retrying_conflicts(functools.partial(self.client.update_item, **update))
            except TransactionRejectedError:
                continue  # already gone

    def remove_attendee(
        self,
        attendee: AttendeeRecord,
        *,
        removed_at_ms: int,
        bar_user: bool,
    ) -> None:
        """Presence → REMOVED (from the presence we read), a connected seat released, and the
        user barred if the host/admin removed them. Raises TransactionRejectedError if the attendee
        changed meanwhile (index 0)."""
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": attendee_key(attendee.meetingId, attendee.attendeeId),
                    "UpdateExpression": (
                        "SET #presence = :removed, #leftAt = if_not_exists(#leftAt, :at)"
                    ),
                    "ConditionExpression": "#presence = :previous",
                    "ExpressionAttributeNames": {"#presence": "presence", "#leftAt": "leftAt"},
                    "ExpressionAttributeValues": {
                        ":removed": {"S": str(Presence.REMOVED)},
                        ":previous": {"S": str(attendee.presence)},
                        ":at": {"N": str(removed_at_ms)},
                    },
                }
            }
        ]
        if attendee.presence is Presence.CONNECTED:
            actions.append(self._release_connected_seat(attendee.meetingId))
        if bar_user:
            actions.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": pointer_key(attendee.meetingId, attendee.userId),
                        "UpdateExpression": "SET #barred = :true",
                        "ConditionExpression": "attribute_exists(#pk)",
                        "ExpressionAttributeNames": {
                            "#barred": "barred",
                            "#pk": deployment.PARTITION_KEY,
                        },
                        "ExpressionAttributeValues": {":true": {"BOOL": True}},
                    }
                }
            )
        self._transact(actions)

    def bar_user(self, attendee: AttendeeRecord) -> None:
        """The host/admin removes this attendee's user: no rejoin (idempotent). Written before
        Chime deletes the attendee. A user without a pointer (an attendee only seen in events)
        gets a barred one naming this attendee; an existing pointer keeps its attendee."""
        self._retrying_conflicts(
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=pointer_key(attendee.meetingId, attendee.userId),
                UpdateExpression=(
                    "SET #barred = :true, #meetingId = if_not_exists(#meetingId, :meetingId), "
                    "#userId = if_not_exists(#userId, :userId), "
                    "#attendeeId = if_not_exists(#attendeeId, :attendeeId), "
                    "#externalUserId = if_not_exists(#externalUserId, :externalUserId)"
                ),
                ExpressionAttributeNames={
                    "#barred": "barred",
                    "#meetingId": "meetingId",
                    "#userId": "userId",
                    "#attendeeId": "attendeeId",
                    "#externalUserId": "externalUserId",
                },
                ExpressionAttributeValues={
                    ":true": {"BOOL": True},
                    ":meetingId": {"S": attendee.meetingId},
                    ":userId": {"S": attendee.userId},
                    ":attendeeId": {"S": attendee.attendeeId},
                    ":externalUserId": {"S": attendee.externalUserId},
                },
            )
        )

    def _release_connected_seat(self, meeting_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": meeting_key(meeting_id),
                "UpdateExpression": "SET #connected = #connected - :one",
                "ConditionExpression": "#connected > :zero",
                "ExpressionAttributeNames": {"#connected": "connected"},
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
            }
        }

    def set_capabilities(
        self, meeting_id: str, attendee_id: str, capabilities: Capabilities
    ) -> AttendeeRecord:
        """Store capabilities Chime accepted; only for an attendee not removed."""
        with dynamodb_errors():
            answer: Any = self._update(
                TableName=self.table_name,
                Key=attendee_key(meeting_id, attendee_id),
                UpdateExpression="SET #capabilities = :capabilities",
                ConditionExpression="attribute_exists(#pk) AND #presence <> :removed",
                ExpressionAttributeNames={
                    "#capabilities": "capabilities",
                    "#pk": deployment.PARTITION_KEY,
                    "#presence": "presence",
                },
                ExpressionAttributeValues={
                    ":capabilities": serialize(dataclasses.asdict(capabilities)),
                    ":removed": {"S": str(Presence.REMOVED)},
                },
                ReturnValues="ALL_NEW",
            )
        return attendee_from_item(answer["Attributes"])
