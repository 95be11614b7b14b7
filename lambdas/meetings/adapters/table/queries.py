"""The request path's reads: consistent point reads of meetings, attendees, pointers and rooms,
and the paged listings (a host's meetings, every open meeting, a roster).

A listing's `nextToken` is opaque to the caller (domain/pagination.py): it carries the start
key of the next page, and is accepted only for the caller and query it was made for, and only
with a key inside the partition that query reads. A token that is not is InvalidRequestError.
"""

from __future__ import annotations

from typing import Any, Final

from meetings import deployment
from meetings.adapters.table.base import PlainKey, TableBase
from meetings.adapters.table.codec import (
    Item,
    attendee_from_item,
    attendee_key,
    host_pk,
    key_of,
    meeting_from_item,
    meeting_key,
    meeting_pk,
    open_partitions,
    pointer_from_item,
    pointer_key,
    room_from_item,
    room_key,
)
from meetings.adapters.table.shards import ShardMerge, shard_limit
from meetings.domain import pagination
from meetings.domain.records import AttendeeRecord, MeetingRecord, MeetingStatus, UserPointerRecord
from meetings.service.ports import PageRequest, RoomClaim

# A filtered listing of the open meetings reads at most this many pages' worth of meetings
# for one page (the same bound as a filtered Query's rounds in TableBase._query_page).
MAX_FILTERED_READS: Final = 10

# A listing's filter: the filter expression, its names and its values.
Condition = tuple[str, dict[str, str], Item]


def _status_is(status: MeetingStatus) -> Condition:
    return "#status = :status", {"#status": "status"}, {":status": {"S": str(status)}}


def _page_start(
    page: PageRequest, *, index_keys: tuple[str, ...], partition: tuple[str, str]
) -> PlainKey | None:
    """The start key a page token carries. A query's start keys hold the table's key and its
    index's keys; `partition` (attribute, value) is the one the query reads."""
    attribute, value = partition
    return pagination.decode_token(
        page.token,
        page.binding,
        page.now,
        key_names=frozenset({deployment.PARTITION_KEY, deployment.SORT_KEY, *index_keys}),
        fixed={attribute: value},
    )


def _next_token(last_key: PlainKey | None, page: PageRequest) -> str | None:
    return pagination.encode_token(last_key, page.binding, page.now)


class MeetingReads(TableBase):
    """The read queries of the request path (port: MeetingQueries)."""

    def get_attendee(self, meeting_id: str, attendee_id: str) -> AttendeeRecord | None:
        item = self._get(attendee_key(meeting_id, attendee_id))
        return None if item is None else attendee_from_item(item)

    def get_pointer(self, meeting_id: str, user_id: str) -> UserPointerRecord | None:
        item = self._get(pointer_key(meeting_id, user_id))
        return None if item is None else pointer_from_item(item)

    def get_meeting_and_pointer(
        self, meeting_id: str, user_id: str
    ) -> tuple[MeetingRecord | None, UserPointerRecord | None]:
        """The meeting and the caller's pointer in one round trip (authorization needs both)."""
        wanted_meeting, wanted_pointer = meeting_key(meeting_id), pointer_key(meeting_id, user_id)
        found = self._batch_get([wanted_meeting, wanted_pointer])
        meeting_item, pointer_item = (
            found.get(key_of(wanted_meeting)),
            found.get(key_of(wanted_pointer)),
        )
        return (
            None if meeting_item is None else meeting_from_item(meeting_item),
            None if pointer_item is None else pointer_from_item(pointer_item),
        )

    def get_attendee_context(
        self, meeting_id: str, attendee_id: str, user_id: str
    ) -> tuple[MeetingRecord | None, AttendeeRecord | None, UserPointerRecord | None]:
        """The meeting, one attendee and the caller's pointer in one round trip."""
        wanted = [
            meeting_key(meeting_id),
            attendee_key(meeting_id, attendee_id),
            pointer_key(meeting_id, user_id),
        ]
        found = self._batch_get(wanted)
        meeting_item, attendee_item, pointer_item = (found.get(key_of(key)) for key in wanted)
        return (
            None if meeting_item is None else meeting_from_item(meeting_item),
            None if attendee_item is None else attendee_from_item(attendee_item),
            None if pointer_item is None else pointer_from_item(pointer_item),
        )

    def get_pointers(self, meeting_id: str, user_ids: list[str]) -> dict[str, UserPointerRecord]:
        found = self._batch_get(
            [pointer_key(meeting_id, user_id) for user_id in dict.fromkeys(user_ids)]
        )
        pointers = (pointer_from_item(item) for item in found.values())
        return {pointer.userId: pointer for pointer in pointers}

    def get_room(self, room_name: str) -> RoomClaim:
        return room_from_item(self._get(room_key(room_name)), room_name)

    # --- listings ------------------------------------------------------------------------

    def list_hosted(
        self, host_user_id: str, *, status_filter: str | None, page: PageRequest
    ) -> tuple[list[MeetingRecord], str | None]:
        """A host's meetings, newest first. status_filter: open | ended | a MeetingStatus value."""
        if status_filter == "open":
            # Open meetings are exactly those still in the sparse open index.
            condition: Condition | None = (
                "attribute_exists(#open)",
                {"#open": deployment.OPEN_INDEX_PK},
                {},
            )
        elif status_filter is None:
            condition = None
        else:
            wanted = (
                MeetingStatus.ENDED if status_filter == "ended" else MeetingStatus(status_filter)
            )
            condition = _status_is(wanted)
        return self._list_newest_first(
            (deployment.HOST_INDEX, deployment.HOST_INDEX_PK, deployment.HOST_INDEX_SK),
            host_pk(host_user_id),
            condition,
            page,
        )

    def list_open(
        self, *, status_filter: str | None, page: PageRequest
    ) -> tuple[list[MeetingRecord], str | None]:
        """Every open meeting, newest first (admins). status_filter: CREATED | STARTED | None.

        The open index's shards are merged newest first (shards.py). Its sort key is unique
        (the creation instant, then the meeting id), so a page's token needs only the last
        sort key handed out: the next page reads every shard from below it. The status filter
        is applied to the merged items, reading at most MAX_FILTERED_READS pages' worth."""
        open_statuses = {MeetingStatus.CREATED, MeetingStatus.STARTED}
        wanted = MeetingStatus(status_filter) if status_filter in open_statuses else None
        start = pagination.decode_token(
            page.token,
            page.binding,
            page.now,
            key_names=frozenset({deployment.OPEN_INDEX_SK}),
            fixed={},
        )
        below = None if start is None else start[deployment.OPEN_INDEX_SK]

        def query(shard: str, start_key: Item | None, limit: int) -> tuple[list[Item], Any]:
            condition = "#pk = :pk"
            values: Item = {":pk": {"S": shard}}
            names = {"#pk": deployment.OPEN_INDEX_PK}
            if below is not None:
                condition += " AND #sk < :below"
                names["#sk"] = deployment.OPEN_INDEX_SK
                values[":below"] = {"S": below}
            arguments: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": deployment.OPEN_INDEX,
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "Limit": limit,
                "ScanIndexForward": False,
            }
            return self._query_from(arguments, start_key)

        shards = open_partitions()
        merge = ShardMerge(
            query,
            dict.fromkeys(shards),
            index_keys=(deployment.OPEN_INDEX_PK, deployment.OPEN_INDEX_SK),
            descending=True,
            per_shard=shard_limit(page.limit, len(shards)),
        )
        meetings: list[MeetingRecord] = []
        last: str | None = None
        for read, item in enumerate(merge, start=1):
            last = item[deployment.OPEN_INDEX_SK]["S"]
            meeting = meeting_from_item(item)
            if wanted is None or meeting.status is wanted:
                meetings.append(meeting)
            if len(meetings) == page.limit or read == page.limit * MAX_FILTERED_READS:
                break
        more = last is not None and merge.positions() is not None
        token_key = {deployment.OPEN_INDEX_SK: last} if more and last else None
        return meetings, _next_token(token_key, page)

    def _list_newest_first(
        self,
        index: tuple[str, str, str],
        partition_value: str,
        condition: Condition | None,
        page: PageRequest,
    ) -> tuple[list[MeetingRecord], str | None]:
        """One page of meetings of an index partition, optionally filtered, and the token of
        the next. `index`: its name and its partition and sort key attributes."""
        index_name, partition_attribute, sort_attribute = index
        start_key = _page_start(
            page,
            index_keys=(partition_attribute, sort_attribute),
            partition=(partition_attribute, partition_value),
        )
        names = {"#pk": partition_attribute}
        values: Item = {":pk": {"S": partition_value}}
        filter_expression = None
        if condition is not None:
            filter_expression, filter_names, filter_values = condition
            names.update(filter_names)
            values.update(filter_values)
        items, last_key = self._query_page(
            index=index_name,
            key_condition="#pk = :pk",
            names=names,
            values=values,
            limit=page.limit,
            start_key=start_key,
            newest_first=True,
            filter_expression=filter_expression,
        )
        return [meeting_from_item(item) for item in items], _next_token(last_key, page)

    def list_roster(
        self, meeting_id: str, *, page: PageRequest
    ) -> tuple[list[AttendeeRecord], str | None]:
        """A meeting's attendees in the order they were added (content shares included)."""
        partition = meeting_pk(meeting_id)
        start_key = _page_start(
            page,
            index_keys=(deployment.ROSTER_INDEX_SK,),
            partition=(deployment.PARTITION_KEY, partition),
        )
        items, last_key = self._query_page(
            index=deployment.ROSTER_INDEX,
            key_condition="#pk = :pk",
            names={"#pk": deployment.PARTITION_KEY},
            values={":pk": {"S": partition}},
            limit=page.limit,
            start_key=start_key,
            newest_first=False,
        )
        return [attendee_from_item(item) for item in items], _next_token(last_key, page)
