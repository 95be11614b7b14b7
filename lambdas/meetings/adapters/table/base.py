"""What every repository of the table shares: its name and client, consistent reads (one
BatchGetItem helper, chunked), paged queries, and conflict-retrying writes, all mapped to the
ports' errors (errors.py)."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from meetings import deployment
from meetings.adapters import aws_clients
from meetings.adapters.table.codec import (
    DEFAULT_RECONCILE_INTERVAL_SECONDS,
    Item,
    from_attribute_values,
    key_of,
    meeting_from_item,
    meeting_key,
    meeting_pk,
    to_attribute_values,
)
from meetings.adapters.table.errors import dynamodb_errors
from meetings.domain.records import MeetingRecord, MeetingStatus
from meetings.service.ports import TransactionConflictError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A start key as a page token carries it: attribute name → string value.
PlainKey = dict[str, str]

# BatchGetItem takes at most 100 keys per call.
MAX_BATCH_GET: Final = 100
# Retries of a conflicting write: attempts in all, and the first backoff (doubling, full
# jitter). At most about 0.3 s of waiting, far inside API Gateway's 30 s. botocore does not
# retry a TransactionConflict, so the repositories do.
CONFLICT_ATTEMPTS: Final = 5
_CONFLICT_BACKOFF_SECONDS: Final = 0.02


def _conflict_backoff(attempt: int) -> float:
    return random.uniform(0, _CONFLICT_BACKOFF_SECONDS * 2**attempt)  # noqa: S311 - jitter


class TableBase:
    """The project's one table: its name, and a DynamoDB client that is injected (tests) or
    created on first use (the container's shared client)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = aws_clients.dynamodb_client()
        return self._client

    # --- reads ---------------------------------------------------------------------------

    def _get(self, key: Item) -> Item | None:
        with dynamodb_errors():
            answer: Any = self.client.get_item(
                TableName=self.table_name, Key=key, ConsistentRead=True
            )
        item: Item | None = answer.get("Item")
        return item

    def _batch_get(self, item_keys: list[Item]) -> dict[tuple[str, str], Item]:
        """Consistent reads of any number of keys (100 per call), answered by (pk, sk);
        unprocessed keys are asked for again."""
        found: dict[tuple[str, str], Item] = {}
        pending = list(item_keys)
        while pending:
            chunk, pending = pending[:MAX_BATCH_GET], pending[MAX_BATCH_GET:]
            request: Any = {self.table_name: {"Keys": chunk, "ConsistentRead": True}}
            while request:
                with dynamodb_errors():
                    answer: Any = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table_name, []):
                    found[key_of(item)] = item
                request = answer.get("UnprocessedKeys") or None
        return found

    def get_meeting(self, meeting_id: str) -> MeetingRecord | None:
        item = self._get(meeting_key(meeting_id))
        return None if item is None else meeting_from_item(item)

    def _partition(self, meeting_id: str) -> list[Item]:
        """Every item of a meeting's partition (the meeting, its activity, attendees and
        pointers), consistently read, across pages."""
        items: list[Item] = []
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": deployment.PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": meeting_pk(meeting_id)}},
            "ConsistentRead": True,
        }
        while True:
            with dynamodb_errors():
                answer: Any = self.client.query(**arguments)
            items.extend(answer.get("Items", []))
            if not answer.get("LastEvaluatedKey"):
                return items
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _query_from(
        self, arguments: dict[str, Any], start_key: Item | None
    ) -> tuple[list[Item], Any]:
        """One Query (its arguments but the start key), from `start_key`: its items and the
        key to go on from (None: no more)."""
        if start_key:
            arguments = arguments | {"ExclusiveStartKey": start_key}
        with dynamodb_errors():
            answer: Any = self.client.query(**arguments)
        return answer.get("Items", []), answer.get("LastEvaluatedKey")

    def _query_page(
        self,
        *,
        index: str | None,
        key_condition: str,
        names: dict[str, str],
        values: Item,
        limit: int,
        start_key: PlainKey | None,
        newest_first: bool,
        filter_expression: str | None = None,
        max_rounds: int = 10,
    ) -> tuple[list[Item], PlainKey | None]:
        """Up to `limit` items; with a filter, keeps reading (bounded) so pages are rarely short."""
        items: list[Item] = []
        next_key: Item | None = to_attribute_values(start_key) if start_key else None
        for _ in range(max_rounds):
            arguments: dict[str, Any] = {
                "TableName": self.table_name,
                "KeyConditionExpression": key_condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "Limit": limit - len(items),
                "ScanIndexForward": not newest_first,
            }
            if index:
                arguments["IndexName"] = index
            if filter_expression:
                arguments["FilterExpression"] = filter_expression
            if next_key:
                arguments["ExclusiveStartKey"] = next_key
            with dynamodb_errors():
                answer: Any = self.client.query(**arguments)
            items.extend(answer.get("Items", []))
            next_key = answer.get("LastEvaluatedKey")
            if not next_key or len(items) >= limit:
                break
        plain_key = (
            None
            if not next_key
            else {k: str(v) for k, v in from_attribute_values(next_key).items()}
        )
        return items, plain_key

    # --- writes --------------------------------------------------------------------------

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        """One TransactWriteItems; one cancelled only by a concurrent transaction on one of
        its items (nothing written) is tried again, a few times, after a jittered pause."""
        self._retrying_conflicts(
            lambda: self.client.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
        )

    def _update(self, **arguments: Any) -> Any:
        """A plain UpdateItem, retried while it meets a transaction in flight on its item
        (DynamoDB's TransactionConflictException, which botocore does not retry)."""
        return self._retrying_conflicts(functools.partial(self.client.update_item, **arguments))

    def _update_open_meeting(
        self, meeting_id: str, update: str, names: dict[str, str], values: Item
    ) -> MeetingRecord:
        """An UpdateItem of a meeting's item while it is open; the meeting as it now is.
        TransactionRejectedError when the meeting is absent or ended."""
        answer = self._update(
            TableName=self.table_name,
            Key=meeting_key(meeting_id),
            UpdateExpression=update,
            ReturnValues="ALL_NEW",
            **self._while_open(names, values),
        )
        return meeting_from_item(answer["Attributes"])

    @staticmethod
    def _while_open(names: dict[str, str], values: Item) -> dict[str, Any]:
        """An update's condition that its meeting exists and has not ended, with the
        update's own names and values."""
        return {
            "ConditionExpression": "attribute_exists(#pk) AND #status <> :ended",
            "ExpressionAttributeNames": {
                **names,
                "#pk": deployment.PARTITION_KEY,
                "#status": "status",
            },
            "ExpressionAttributeValues": {**values, ":ended": {"S": str(MeetingStatus.ENDED)}},
        }

    @staticmethod
    def _retrying_conflicts(write: Callable[[], Any]) -> Any:
        """Run a write, again after TransactionConflictError (up to CONFLICT_ATTEMPTS)."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                with dynamodb_errors():
                    return write()
            except TransactionConflictError:
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                time.sleep(_conflict_backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _expire(self, key: Item, expires_at: int) -> dict[str, Any]:
        """The UpdateItem arguments that give an existing item its TTL."""
        return {
            "TableName": self.table_name,
            "Key": key,
            "UpdateExpression": "SET #expiresAt = :expiresAt",
            "ConditionExpression": "attribute_exists(#pk)",
            "ExpressionAttributeNames": {
                "#expiresAt": deployment.TTL_ATTRIBUTE,
                "#pk": deployment.PARTITION_KEY,
            },
            "ExpressionAttributeValues": {":expiresAt": {"N": str(expires_at)}},
        }

    def _put_new(self, item: Item) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": deployment.PARTITION_KEY},
            }
        }


DEFAULT_RETENTION_DAYS: Final = 30
DEFAULT_END_SETTLE_SECONDS: Final = 120
_SECONDS_PER_DAY: Final = 86_400


class MeetingTableBase(TableBase):
    """A repository of meetings and their attendees, with the settings their writes use."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        reconcile_interval_seconds: int = DEFAULT_RECONCILE_INTERVAL_SECONDS,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        end_settle_seconds: int = DEFAULT_END_SETTLE_SECONDS,
    ) -> None:
        super().__init__(table_name, client)
        self.reconcile_interval_seconds = reconcile_interval_seconds
        self.retention_seconds = retention_days * _SECONDS_PER_DAY
        self.end_settle_ms = end_settle_seconds * 1000
