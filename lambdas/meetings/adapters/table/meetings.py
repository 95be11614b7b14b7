"""The meeting's own writes: creating it (with its room claim, first attendee and the host's
open-meeting count), noting and taking back the reason it is about to end with, and settling
an inferred end reason. Every state change is a conditional write."""

from __future__ import annotations

from typing import Any

from meetings import deployment
from meetings.adapters.table.base import MeetingTableBase
from meetings.adapters.table.codec import (
    OPEN_MEETINGS_ATTRIBUTE,
    ROOM_SK,
    Item,
    attendee_to_item,
    meeting_key,
    meeting_to_item,
    open_meetings_key,
    pointer_to_item,
    room_pk,
    to_attribute_values,
)
from meetings.adapters.table.errors import dynamodb_errors
from meetings.domain.records import (
    AttendeeRecord,
    EndReason,
    EndSource,
    MeetingRecord,
    MeetingStatus,
    UserPointerRecord,
)
from meetings.service.ports import OpenMeetingLimitError, RoomClaim, TransactionRejectedError


class MeetingWrites(MeetingTableBase):
    """A meeting's creation, its end request, and the settling of an inferred end reason."""

    def _claim_room(self, claim: RoomClaim, meeting_id: str) -> dict[str, Any]:
        """Take the room name for a meeting, if its generation is still the one we read."""
        item = to_attribute_values(
            {
                deployment.PARTITION_KEY: room_pk(claim.roomName),
                deployment.SORT_KEY: ROOM_SK,
                "roomName": claim.roomName,
                "generation": claim.generation + 1,
                "meetingId": meeting_id,
            }
        )
        put: dict[str, Any] = {"TableName": self.table_name, "Item": item}
        if claim.generation == 0:
            put["ConditionExpression"] = "attribute_not_exists(#pk)"
            put["ExpressionAttributeNames"] = {"#pk": deployment.PARTITION_KEY}
        else:
            put["ConditionExpression"] = "#generation = :generation"
            put["ExpressionAttributeNames"] = {"#generation": "generation"}
            put["ExpressionAttributeValues"] = {":generation": {"N": str(claim.generation)}}
        return {"Put": put}

    def create_meeting(
        self,
        meeting: MeetingRecord,
        *,
        room: RoomClaim | None = None,
        first_attendee: tuple[AttendeeRecord, UserPointerRecord] | None = None,
        open_meetings_cap: int | None = None,
    ) -> None:
        """Write a new meeting (plus its room claim and first attendee) atomically, and count
        it among its host's open meetings, refused at `open_meetings_cap`.

        Raises TransactionRejectedError: index 0 failed = the meeting item already exists,
        index 1 failed (with a room) = another meeting took the room first; its subclass
        OpenMeetingLimitError when only the cap refused it.
        """
        actions = [self._put_new(meeting_to_item(meeting, self.reconcile_interval_seconds))]
        if room is not None:
            actions.append(self._claim_room(room, meeting.meetingId))
        if first_attendee is not None:
            attendee, pointer = first_attendee
            actions.append(self._put_new(attendee_to_item(attendee)))
            actions.append(self._put_new(pointer_to_item(pointer)))
        if open_meetings_cap is not None:
            actions.append(self._count_open_meeting(meeting.hostUserId, open_meetings_cap))
        try:
            self._transact(actions)
        except TransactionRejectedError as rejected:
            only_the_cap = rejected.failed_at(len(actions) - 1) and not any(
                rejected.failed_at(index) for index in range(len(actions) - 1)
            )
            if open_meetings_cap is not None and only_the_cap:
                raise OpenMeetingLimitError(rejected.reasons) from rejected
            raise

    def _count_open_meeting(self, host_user_id: str, cap: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": open_meetings_key(host_user_id),
                "UpdateExpression": "ADD #open :one",
                "ConditionExpression": "attribute_not_exists(#open) OR #open < :cap",
                "ExpressionAttributeNames": {"#open": OPEN_MEETINGS_ATTRIBUTE},
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":cap": {"N": str(cap)}},
            }
        }

    def request_end(self, meeting_id: str, reason: EndReason) -> MeetingRecord | None:
        """Note the reason we are about to end an open meeting with, before DeleteMeeting.

        The first request wins; returns the meeting as it now is, or None if it already ended.
        """
        try:
            return self._update_open_meeting(
                meeting_id,
                "SET #requested = if_not_exists(#requested, :reason)",
                {"#requested": "requestedEndReason"},
                {":reason": {"S": str(reason)}},
            )
        except TransactionRejectedError:
            return None

    def withdraw_end_request(self, meeting_id: str, reason: EndReason) -> None:
        """Take back a `requestedEndReason` whose DeleteMeeting failed, so a later auto-end or
        reconciliation never reports an end that did not happen: only while the meeting is
        open and the value is still `reason` (an end that got through keeps it)."""
        try:
            with dynamodb_errors():
                self._update(
                    TableName=self.table_name,
                    Key=meeting_key(meeting_id),
                    UpdateExpression="REMOVE #requested",
                    ConditionExpression="#status <> :ended AND #requested = :reason",
                    ExpressionAttributeNames={
                        "#requested": "requestedEndReason",
                        "#status": "status",
                    },
                    ExpressionAttributeValues={
                        ":reason": {"S": str(reason)},
                        ":ended": {"S": str(MeetingStatus.ENDED)},
                    },
                )
        except TransactionRejectedError:
            pass  # it ended meanwhile, or the request is someone else's

    def settle_end(
        self, seen: MeetingRecord, reason: EndReason, ended_at_ms: int, source: EndSource
    ) -> bool:
        """Make an ended meeting's reason final (the cleanup, once its settle instant passed):
        conditioned on the meeting being as `seen` read it; it leaves the due index. False if
        it changed meanwhile (a late MeetingEnded, another run): settled on a later run."""
        values: Item = {
            ":reason": {"S": str(reason)},
            ":endedAt": {"N": str(ended_at_ms)},
            ":source": {"S": str(source)},
            ":ended": {"S": str(MeetingStatus.ENDED)},
            ":seenSettlesAt": {"N": str(seen.endSettlesAt)},
            ":seenEndedAt": {"N": str(seen.endedAt)},
            ":seenReason": {"S": str(seen.endReason)},
        }
        try:
            with dynamodb_errors():
                self._update(
                    TableName=self.table_name,
                    Key=meeting_key(seen.meetingId),
                    UpdateExpression=(
                        "SET #endReason = :reason, #endedAt = :endedAt, #source = :source "
                        "REMOVE #settlesAt, #duePk, #dueSk"
                    ),
                    ConditionExpression=(
                        "#status = :ended AND #settlesAt = :seenSettlesAt "
                        "AND #endedAt = :seenEndedAt AND #endReason = :seenReason"
                    ),
                    ExpressionAttributeNames={
                        "#endReason": "endReason",
                        "#endedAt": "endedAt",
                        "#source": "endedAtSource",
                        "#status": "status",
                        "#settlesAt": "endSettlesAt",
                        "#duePk": deployment.DUE_INDEX_PK,
                        "#dueSk": deployment.DUE_INDEX_SK,
                    },
                    ExpressionAttributeValues=values,
                )
        except TransactionRejectedError:
            return False
        return True
