"""The cleanup's reads of the open and due indexes, its claim on a due meeting, and its
consistent read of an ended meeting it settles."""

from __future__ import annotations

from typing import Any

from meetings import deployment
from meetings.adapters.table.activity import ActivityTable
from meetings.adapters.table.base import TableBase
from meetings.adapters.table.codec import OPEN_PARTITION, Item, meeting_from_item, meeting_key
from meetings.adapters.table.errors import dynamodb_errors
from meetings.domain.activity_plan import ActivitySnapshot
from meetings.service.ports import (
    CleanupPage,
    OpenMeeting,
    TransactionConflictError,
    TransactionRejectedError,
)


class CleanupTable(TableBase):
    """The cleanup's queries and claims (port: CleanupQueries)."""

    def page(self, *, due_by: str | None, limit: int, start_key: Item | None) -> CleanupPage:
        """Meetings by due instant (only those due by `due_by`, unless None: all of them):
        open ones, and ended ones whose reason waits for settlement (due at that instant)."""
        names = {"#pk": deployment.DUE_INDEX_PK}
        values: Item = {":pk": {"S": OPEN_PARTITION}}
        condition = "#pk = :pk"
        if due_by is not None:
            condition += " AND #sk <= :due"
            names["#sk"] = deployment.DUE_INDEX_SK
            values[":due"] = {"S": due_by}
        return self._query(deployment.DUE_INDEX, (condition, names, values), limit, start_key)

    def page_open(self, *, limit: int, start_key: Item | None) -> CleanupPage:
        """Every open meeting, by creation: the sort key no claim changes, so a run paging it
        visits each open meeting exactly once."""
        names = {"#pk": deployment.OPEN_INDEX_PK}
        values: Item = {":pk": {"S": OPEN_PARTITION}}
        return self._query(deployment.OPEN_INDEX, ("#pk = :pk", names, values), limit, start_key)

    def _query(
        self,
        index: str,
        key_condition: tuple[str, dict[str, str], Item],
        limit: int,
        start_key: Item | None,
    ) -> CleanupPage:
        condition, names, values = key_condition
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "Limit": limit,
        }
        if start_key:
            arguments["ExclusiveStartKey"] = start_key
        with dynamodb_errors():
            answer: Any = self.client.query(**arguments)
        meetings = [
            OpenMeeting(meeting_from_item(item), item.get(deployment.DUE_INDEX_SK, {}).get("S"))
            for item in answer.get("Items", [])
        ]
        return meetings, answer.get("LastEvaluatedKey")

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
