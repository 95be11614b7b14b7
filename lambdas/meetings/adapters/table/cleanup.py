"""The cleanup's reads of the open and due indexes, its claim on a due meeting, and its
consistent read of an ended meeting it settles."""

from __future__ import annotations

import itertools
from typing import Any

from meetings import deployment
from meetings.adapters.table.activity import ActivityTable
from meetings.adapters.table.base import TableBase
from meetings.adapters.table.codec import Item, meeting_from_item, meeting_key, open_partitions
from meetings.adapters.table.errors import dynamodb_errors
from meetings.adapters.table.shards import ShardMerge, shard_limit
from meetings.domain.activity_plan import ActivitySnapshot
from meetings.service.ports import (
    CleanupPage,
    OpenMeeting,
    TransactionConflictError,
    TransactionRejectedError,
)


class CleanupTable(TableBase):
    """The cleanup's queries and claims (port: CleanupQueries).

    Both listings read every shard of their index (codec.open_partitions) and merge them in
    the index's order (shards.py); a page's cursor holds where each shard goes on."""

    def page(self, *, due_by: str | None, limit: int, start_key: Item | None) -> CleanupPage:
        """Meetings by due instant (only those due by `due_by`, unless None: all of them):
        open ones, and ended ones whose reason waits for settlement (due at that instant)."""
        names = {"#pk": deployment.DUE_INDEX_PK}
        condition = "#pk = :pk"
        values: Item = {}
        if due_by is not None:
            condition += " AND #sk <= :due"
            names["#sk"] = deployment.DUE_INDEX_SK
            values[":due"] = {"S": due_by}
        index = (deployment.DUE_INDEX, deployment.DUE_INDEX_PK, deployment.DUE_INDEX_SK)
        return self._merged(index, (condition, names, values), limit, start_key)

    def page_open(self, *, limit: int, start_key: Item | None) -> CleanupPage:
        """Every open meeting, by creation: the sort key no claim changes, so a run paging it
        visits each open meeting exactly once."""
        names = {"#pk": deployment.OPEN_INDEX_PK}
        index = (deployment.OPEN_INDEX, deployment.OPEN_INDEX_PK, deployment.OPEN_INDEX_SK)
        return self._merged(index, ("#pk = :pk", names, {}), limit, start_key)

    def _merged(
        self,
        index: tuple[str, str, str],
        key_condition: tuple[str, dict[str, str], Item],
        limit: int,
        start_key: Item | None,
    ) -> CleanupPage:
        """One page of the index's shards merged, oldest first; the cursor: each shard's
        position (absent: done)."""
        index_name, partition_attribute, sort_attribute = index
        condition, names, values = key_condition

        def query(shard: str, start: Item | None, shard_limit: int) -> tuple[list[Item], Any]:
            arguments: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": index_name,
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values | {":pk": {"S": shard}},
                "Limit": shard_limit,
            }
            return self._query_from(arguments, start)

        positions = start_key or dict.fromkeys(open_partitions())
        merge = ShardMerge(
            query,
            positions,
            index_keys=(partition_attribute, sort_attribute),
            descending=False,
            per_shard=shard_limit(limit, len(positions)),
        )
        meetings = [
            OpenMeeting(meeting_from_item(item), item.get(deployment.DUE_INDEX_SK, {}).get("S"))
            for item in itertools.islice(merge, limit)
        ]
        return meetings, merge.positions()

    def read_ended(self, meeting_id: str) -> ActivitySnapshot | None:
        """An ended meeting and its whole log, read consistently (the indexes lag)."""
        return ActivityTable(self.table_name, self.client).read(meeting_id, [])

    def claim(self, meeting_id: str, seen_due: str | None, next_due: str) -> bool:
        """Move the due instant on, if it is still the one we read: of two overlapping runs,
        exactly one wins each meeting."""
        names = {"#sk": deployment.DUE_INDEX_SK, "#pk": deployment.DUE_INDEX_PK}
        values: Item = {":next": {"S": next_due}}
        if seen_due is None:
            condition = "attribute_exists(#pk) AND attribute_not_exists(#sk)"
        else:
            condition = "attribute_exists(#pk) AND #sk = :seen"
            values[":seen"] = {"S": seen_due}
        try:
            with dynamodb_errors():
                self.client.update_item(
                    TableName=self.table_name,
                    Key=meeting_key(meeting_id),
                    UpdateExpression="SET #sk = :next",
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except (TransactionRejectedError, TransactionConflictError):
            # Changed meanwhile, or written by a transaction in flight (an events batch, an
            # end): not claimed now; the meeting is due again at the next run.
            return False
        return True
