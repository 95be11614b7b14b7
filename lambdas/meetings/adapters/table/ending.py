"""Ending a meeting: ENDED with its reason and origin, the room and the host's count released,
its attendees closed and given the meeting's TTL, its attendee total made exact.

The open index only ever holds open meetings; the due index holds open meetings and, until the
cleanup settles their inferred end reason, ended ones (due at `endSettlesAt`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from meetings import deployment
from meetings.adapters.table.base import MeetingTableBase
from meetings.adapters.table.codec import (
    ACTIVITY_SK,
    ATTENDEE_SK_PREFIX,
    CONTENT_SHARE_SUFFIX,
    MEETING_SK,
    OPEN_MEETINGS_ATTRIBUTE,
    USER_SK_PREFIX,
    Item,
    meeting_from_item,
    meeting_key,
    open_meetings_key,
    open_partition,
    room_key,
    sort_key_of,
)
from meetings.adapters.table.errors import dynamodb_errors
from meetings.domain.instants import rfc3339
from meetings.domain.records import (
    EndNoticer,
    EndReason,
    EndSource,
    MeetingRecord,
    MeetingStatus,
    Presence,
)
from meetings.domain.validation import GENERATED_ROOM_PREFIX
from meetings.service.ports import EndOrigin, TransactionConflictError, TransactionRejectedError

# The attendee and pointer items an end closes go in transactions of this many: one whose
# condition fails (an attendee that changed since the read) is done again item by item, so a
# small chunk bounds that extra work. (DynamoDB, and moto, take up to 100 per transaction.)
_CLOSING_CHUNK: Final = 25
_INDEX_ATTRIBUTES_OF_OPEN: Final = (
    deployment.OPEN_INDEX_PK,
    deployment.OPEN_INDEX_SK,
    deployment.DUE_INDEX_PK,
    deployment.DUE_INDEX_SK,
)
_DUE_INDEX_ATTRIBUTES: Final = (deployment.DUE_INDEX_PK, deployment.DUE_INDEX_SK)


class MeetingEnds(MeetingTableBase):
    """Ending a meeting and closing what it leaves behind (port: MeetingEnding)."""

    def final_end(self, source: EndSource = EndSource.BACKEND) -> EndOrigin:
        """The origin of an end whose reason is final at once (a requested one)."""
        return EndOrigin(source)

    def pending_end(
        self, source: EndSource, now_ms: int, noticed_by: EndNoticer | None = None
    ) -> EndOrigin:
        """The origin of an end whose reason the cleanup settles one settle window from now."""
        return EndOrigin(source, noticed_by, now_ms + self.end_settle_ms)

    # --- reads ---------------------------------------------------------------------------

    def _uncount_open_meeting(self, host_user_id: str) -> dict[str, Any]:
        # A meeting created before the count existed finds no count: the caller drops this.
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": open_meetings_key(host_user_id),
                "UpdateExpression": "ADD #open :minus_one",
                "ConditionExpression": "#open > :zero",
                "ExpressionAttributeNames": {"#open": OPEN_MEETINGS_ATTRIBUTE},
                "ExpressionAttributeValues": {":minus_one": {"N": "-1"}, ":zero": {"N": "0"}},
            }
        }

    def end_meeting(
        self,
        meeting_id: str,
        reason: EndReason,
        ended_at_ms: int,
        *,
        origin: EndOrigin | None = None,
        honour_requested: bool = True,
        known: MeetingRecord | None = None,
    ) -> MeetingRecord | None:
        """End an open meeting (idempotent, safe under concurrency); None if there is no meeting.

        An open meeting becomes ENDED with the reason the backend requested before deleting it
        (`requestedEndReason`, unless honour_requested is False: then that request is dropped),
        else with `reason`; it leaves the open index (and the due index, unless its reason
        waits for settlement: then it stays there, due at `origin.settles_at`) and gets its TTL;
        in the same transaction its room is released and its host's open-meeting count goes
        down. Then its connected attendees become LEFT and every attendee and pointer gets
        the TTL. An ENDED meeting keeps its reason; only an instant the backend's clock gave
        (not yet settled) is replaced by Chime's own when `origin.source` is Chime.

        `origin`: where the instant comes from and whether the reason is final (default: final,
        the backend's clock). `known`: the meeting as the caller last read it (its host and
        room name never change), which spares a read.
        """
        origin = origin or self.final_end()
        meeting = known if known is not None else self.get_meeting(meeting_id)
        if meeting is None:
            return None
        expires_at = ended_at_ms // 1000 + self.retention_seconds
        try:
            self._end_open_meeting(
                meeting,
                reason,
                ended_at_ms,
                expires_at,
                honour_requested=honour_requested,
                origin=origin,
            )
        except TransactionRejectedError:
            if origin.source is EndSource.CHIME:
                return self._adopt_chime_instant(meeting_id, ended_at_ms)
            return self.get_meeting(meeting_id)
        items = self._partition(meeting_id)
        ended = next(
            (meeting_from_item(item) for item in items if sort_key_of(item) == MEETING_SK),
            None,
        )
        if ended is None:
            return None  # only an operator deletes a meeting item
        self._close_attendees(items, ended, expires_at)
        ended = self._recount_attendees(items, ended)
        return ended

    def _end_open_meeting(
        self,
        meeting: MeetingRecord,
        reason: EndReason,
        ended_at_ms: int,
        expires_at: int,
        *,
        honour_requested: bool,
        origin: EndOrigin,
    ) -> None:
        """ENDED, with the room and the host's count released in the same transaction.

        Raises TransactionRejectedError if the meeting is gone or ended already. The room and
        count actions are dropped when their own conditions fail (a room a newer meeting holds,
        a meeting older than the count), so they never keep a meeting open."""
        optional = [self._uncount_open_meeting(meeting.hostUserId)]
        if not meeting.externalMeetingId.startswith(GENERATED_ROOM_PREFIX):
            optional.append(self._release_room(meeting))
        end = self._end_action(
            meeting.meetingId,
            reason,
            ended_at_ms,
            expires_at,
            honour_requested=honour_requested,
            origin=origin,
        )
        while True:
            try:
                self._transact([end, *optional])
            except TransactionRejectedError as rejected:
                if rejected.failed_at(0) or not optional:
                    raise
                optional = [
                    action
                    for index, action in enumerate(optional, start=1)
                    if not rejected.failed_at(index)
                ]
                continue
            return

    def _end_action(
        self,
        meeting_id: str,
        reason: EndReason,
        ended_at_ms: int,
        expires_at: int,
        *,
        honour_requested: bool,
        origin: EndOrigin,
    ) -> dict[str, Any]:
        reason_source = "if_not_exists(#requested, :reason)" if honour_requested else ":reason"
        assignments = [
            "#status = :ended",
            f"#endReason = {reason_source}",
            "#endedAt = :endedAt",
            "#connected = :zero",
            "#expiresAt = :expiresAt",
            "#endedAtSource = :source",
        ]
        removed = list(_INDEX_ATTRIBUTES_OF_OPEN)
        names = {
            "#status": "status",
            "#endReason": "endReason",
            "#endedAt": "endedAt",
            "#connected": "connected",
            "#expiresAt": deployment.TTL_ATTRIBUTE,
            "#endedAtSource": "endedAtSource",
            "#pk": deployment.PARTITION_KEY,
        }
        if honour_requested:
            names["#requested"] = "requestedEndReason"
        values = {
            ":ended": {"S": str(MeetingStatus.ENDED)},
            ":reason": {"S": str(reason)},
            ":endedAt": {"N": str(ended_at_ms)},
            ":zero": {"N": "0"},
            ":expiresAt": {"N": str(expires_at)},
            ":source": {"S": str(origin.source)},
        }
        if not honour_requested:
            removed.append("requestedEndReason")
        if origin.noticed_by is not None:
            assignments.append("#endNoticedBy = :noticedBy")
            names["#endNoticedBy"] = "endNoticedBy"
            values[":noticedBy"] = {"S": str(origin.noticed_by)}
        if origin.settles_at is not None:
            # Stays in the due index until the cleanup settles the reason.
            removed = [name for name in removed if name not in _DUE_INDEX_ATTRIBUTES]
            assignments += ["#settlesAt = :settlesAt", "#duePk = :duePk", "#dueSk = :dueSk"]
            names |= {
                "#settlesAt": "endSettlesAt",
                "#duePk": deployment.DUE_INDEX_PK,
                "#dueSk": deployment.DUE_INDEX_SK,
            }
            values |= {
                ":settlesAt": {"N": str(origin.settles_at)},
                ":duePk": {"S": open_partition(meeting_id)},
                ":dueSk": {"S": rfc3339(origin.settles_at)},
            }
        names |= {f"#rm{index}": name for index, name in enumerate(removed)}
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": meeting_key(meeting_id),
                "UpdateExpression": (
                    "SET "
                    + ", ".join(assignments)
                    + " REMOVE "
                    + ", ".join(f"#rm{index}" for index in range(len(removed)))
                ),
                "ConditionExpression": "attribute_exists(#pk) AND #status <> :ended",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _adopt_chime_instant(self, meeting_id: str, ended_at_ms: int) -> MeetingRecord | None:
        """An ended meeting whose instant only the backend's clock (or a prediction) gave, its
        reason not settled yet: Chime's MeetingEnded instant replaces it. Otherwise nothing
        changes (a settled end keeps what it says; late events only fill in history)."""
        try:
            with dynamodb_errors():
                answer: Any = self._update(
                    TableName=self.table_name,
                    Key=meeting_key(meeting_id),
                    UpdateExpression="SET #endedAt = :endedAt, #source = :chime",
                    ConditionExpression=(
                        "#status = :ended AND attribute_exists(#settlesAt) AND #source <> :chime"
                    ),
                    ExpressionAttributeNames={
                        "#endedAt": "endedAt",
                        "#source": "endedAtSource",
                        "#status": "status",
                        "#settlesAt": "endSettlesAt",
                    },
                    ExpressionAttributeValues={
                        ":endedAt": {"N": str(ended_at_ms)},
                        ":chime": {"S": str(EndSource.CHIME)},
                        ":ended": {"S": str(MeetingStatus.ENDED)},
                    },
                    ReturnValues="ALL_NEW",
                )
        except TransactionRejectedError:
            return self.get_meeting(meeting_id)
        return meeting_from_item(answer["Attributes"])

    def _release_room(self, meeting: MeetingRecord) -> dict[str, Any]:
        """Free the room name, but only if it still names this meeting (a newer one may hold it)."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": room_key(meeting.externalMeetingId),
                "UpdateExpression": "REMOVE #meetingId",
                "ConditionExpression": "#meetingId = :meetingId",
                "ExpressionAttributeNames": {"#meetingId": "meetingId"},
                "ExpressionAttributeValues": {":meetingId": {"S": meeting.meetingId}},
            }
        }

    def _close_attendees(self, items: list[Item], meeting: MeetingRecord, expires_at: int) -> None:
        """Connected attendees → LEFT at the end instant; every attendee, pointer and the
        activity item get a TTL.

        In transactions of up to 25 items; one whose conditions fail (an attendee that changed
        since the read) is done again item by item, each item tolerating its own change."""
        actions = [
            self._closing_action(item, meeting, expires_at)
            for item in items
            if sort_key_of(item).startswith((ATTENDEE_SK_PREFIX, USER_SK_PREFIX, ACTIVITY_SK))
        ]
        for first in range(0, len(actions), _CLOSING_CHUNK):
            chunk = actions[first : first + _CLOSING_CHUNK]
            try:
                self._transact([{"Update": update} for update, _ in chunk])
            except TransactionRejectedError:
                for update, fallback in chunk:
                    self._update_or(update, fallback)

    def _recount_attendees(self, items: list[Item], meeting: MeetingRecord) -> MeetingRecord:
        """The ended meeting's `attendeeTotal`, made exact from its attendee items (content
        shares excluded). A join adds to the total with a write of its own after recording
        its attendee; one lost (retries exhausted, a crash between the two) is repaired here.
        No attendee is recorded once the meeting is ENDED and the partition read."""
        total = sum(
            1
            for item in items
            if sort_key_of(item).startswith(ATTENDEE_SK_PREFIX)
            and not item.get("externalUserId", {}).get("S", "").endswith(CONTENT_SHARE_SUFFIX)
        )
        if total == meeting.attendeeTotal:
            return meeting
        try:
            self._retrying_conflicts(
                lambda: self.client.update_item(
                    TableName=self.table_name,
                    Key=meeting_key(meeting.meetingId),
                    UpdateExpression="SET #total = :total",
                    ConditionExpression="#status = :ended",
                    ExpressionAttributeNames={"#total": "attendeeTotal", "#status": "status"},
                    ExpressionAttributeValues={
                        ":total": {"N": str(total)},
                        ":ended": {"S": str(MeetingStatus.ENDED)},
                    },
                )
            )
        except (TransactionRejectedError, TransactionConflictError):
            return meeting  # a later end (or the next batch's read) sees the same items
        return dataclasses.replace(meeting, attendeeTotal=total)

    def _closing_action(
        self, item: Item, meeting: MeetingRecord, expires_at: int
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(the update for this item, the plain TTL update to make if its condition fails)."""
        key = {name: item[name] for name in (deployment.PARTITION_KEY, deployment.SORT_KEY)}
        expire = self._expire(key, expires_at)
        connected = item.get("presence", {}).get("S") == str(Presence.CONNECTED)
        if not sort_key_of(item).startswith(ATTENDEE_SK_PREFIX) or not connected:
            return expire, None
        leave = {
            "TableName": self.table_name,
            "Key": key,
            "UpdateExpression": "SET #presence = :left, #leftAt = :at, #expiresAt = :expiresAt",
            "ConditionExpression": "#presence = :connected",
            "ExpressionAttributeNames": {
                "#presence": "presence",
                "#leftAt": "leftAt",
                "#expiresAt": deployment.TTL_ATTRIBUTE,
            },
            "ExpressionAttributeValues": {
                ":left": {"S": str(Presence.LEFT)},
                ":connected": {"S": str(Presence.CONNECTED)},
                ":at": {"N": str(meeting.endedAt or 0)},
                ":expiresAt": {"N": str(expires_at)},
            },
        }
        # It left or was removed meanwhile: it still gets the TTL.
        return leave, expire

    def _update_or(self, update: dict[str, Any], fallback: dict[str, Any] | None) -> None:
        try:
            with dynamodb_errors():
                self._update(**update)
        except TransactionRejectedError:
            if fallback is not None:
                self._update_or(fallback, None)
