"""The DynamoDB single table: meeting, attendee, user-pointer and room items.

Items are in DynamoDB's low-level attribute-value format (what the client and the table's
stream both speak), so `meeting_from_item` reads a stream image as well as a GetItem answer.
Every state change is a conditional write; nothing here scans. Index attributes
(meetings.deployment) are derived from the record on every full write, and removed when a
meeting ends: the open index only ever holds open meetings; the due index holds open meetings
and, until the cleanup settles their inferred end reason, ended ones (due at `endSettlesAt`).
"""

from __future__ import annotations

import dataclasses
import functools
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from meetings import deployment
from meetings.adapters import aws_clients, keys
from meetings.domain.errors import ConflictError, UpstreamUnavailableError
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
from meetings.domain.validation import GENERATED_ROOM_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]
Key = dict[str, str]
RecordT = TypeVar("RecordT")

DEFAULT_RECONCILE_INTERVAL_SECONDS: Final = 180
DEFAULT_RETENTION_DAYS: Final = 30
DEFAULT_END_SETTLE_SECONDS: Final = 120
_SECONDS_PER_DAY: Final = 86_400
# BatchGetItem and the roster pass these limits to DynamoDB.
_MAX_BATCH_GET: Final = 100
# DynamoDB takes 100 actions per TransactWriteItems; moto (the offline stack) takes 25.
_MAX_TRANSACTION_ACTIONS: Final = 25
# The per-host count of open meetings (item layout in keys.py). Kept in the same transactions
# that create and end a meeting, so it never drifts and the per-user cap costs no read.
OPEN_MEETINGS_ATTRIBUTE: Final = "openMeetings"
# Chime's content-share attendees: `<attendeeId>#content`, not counted in attendeeTotal.
_CONTENT_SHARE_SUFFIX: Final = "#content"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

_UNAVAILABLE_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        "TransactionInProgressException",
    }
)


class TransactionRejectedError(Exception):
    """A conditional write or transaction whose condition did not hold.

    `reasons` has one code per transaction item ("None" where that item was fine), or a
    single "ConditionalCheckFailed" for a plain conditional write.
    """

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons

    def failed_at(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


class OpenMeetingLimitError(TransactionRejectedError):
    """A new meeting was refused only because its host already holds the cap of open ones."""


class TransactionConflictError(ConflictError):
    """DynamoDB refused a write because another transaction on one of its items was in flight
    (a cancelled transaction whose reasons say `TransactionConflict`, or a plain write's
    `TransactionConflictException`). Nothing was written; retrying soon succeeds. botocore
    does not retry it, so `_transact` does (bounded); what still conflicts is a 409 CONFLICT
    with Retry-After, never an outage."""

    def __init__(self, message: str = "a concurrent write got in first, retry") -> None:
        super().__init__(message, retry_after=1)


# Retries of a conflicting write: attempts in all, and the first backoff (doubling, full
# jitter). At most about 0.3 s of waiting, far inside API Gateway's 30 s.
CONFLICT_ATTEMPTS: Final = 5
_CONFLICT_BACKOFF_SECONDS: Final = 0.02


def _conflict_backoff(attempt: int) -> float:
    return random.uniform(0, _CONFLICT_BACKOFF_SECONDS * 2**attempt)  # noqa: S311 - jitter


@contextmanager
def _dynamodb_errors() -> Iterator[None]:
    """Throttling and outages that outlived botocore's retries → 503; conditions → rejection."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ConditionalCheckFailedException":
            raise TransactionRejectedError(["ConditionalCheckFailed"]) from error
        if code == "TransactionCanceledException":
            response: Any = error.response
            reasons = [
                reason.get("Code", "None") for reason in response.get("CancellationReasons", [])
            ]
            if "ConditionalCheckFailed" in reasons:
                raise TransactionRejectedError(reasons) from error
            if "TransactionConflict" in reasons:
                raise TransactionConflictError() from error
            raise UpstreamUnavailableError(retry_after=1) from error
        if code == "TransactionConflictException":
            raise TransactionConflictError() from error
        # Any server-side failure (also an unreadable 5xx from a proxy in front) is an outage.
        if code in _UNAVAILABLE_CODES or _server_side(error):
            raise UpstreamUnavailableError(retry_after=1) from error
        raise
    except BotoCoreError as error:
        raise UpstreamUnavailableError(retry_after=1) from error


def _server_side(error: ClientError) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return int(status) >= HTTPStatus.INTERNAL_SERVER_ERROR


# --- (de)serialisation -----------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; every number this table holds is an integer."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(inner) for inner in value]
    return value


def to_attribute_values(values: Mapping[str, Any]) -> Item:
    """Plain values → attribute values; None means "no attribute" (sparse indexes rely on it)."""
    return {
        name: _serializer.serialize(value) for name, value in values.items() if value is not None
    }


def from_attribute_values(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _field_values(record: Any) -> dict[str, Any]:
    """A record's fields by name, nested records as dicts. Unlike `dataclasses.asdict` it
    does not deep-copy the plain dicts (features, tags, the Chime meeting): the serializer
    only reads them, and the copy was a good part of a create's own time."""
    values = {name: getattr(record, name) for name in _FIELD_NAMES[type(record)]}
    for name, value in values.items():
        if isinstance(value, Capabilities):
            values[name] = dataclasses.asdict(value)
    return values


_FIELD_NAMES: Final[dict[type, tuple[str, ...]]] = {
    record_type: tuple(field.name for field in dataclasses.fields(record_type))
    for record_type in (MeetingRecord, AttendeeRecord, UserPointerRecord)
}


def _record_fields(record_type: type[Any]) -> set[str]:
    return {field.name for field in dataclasses.fields(record_type)}


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
    values = from_attribute_values(item)
    known = _record_fields(record_type)
    arguments = {name: value for name, value in values.items() if name in known}
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
    values[deployment.PARTITION_KEY] = keys.meeting_pk(record.meetingId)
    values[deployment.SORT_KEY] = keys.MEETING_SK
    values[deployment.HOST_INDEX_PK] = keys.host_pk(record.hostUserId)
    values[deployment.HOST_INDEX_SK] = _created_sort_key(record)
    if record.status.is_open:
        values[deployment.OPEN_INDEX_PK] = keys.OPEN_PARTITION
        values[deployment.OPEN_INDEX_SK] = _created_sort_key(record)
        values[deployment.DUE_INDEX_PK] = keys.OPEN_PARTITION
        values[deployment.DUE_INDEX_SK] = rfc3339(
            next_due_at_ms(record, reconcile_interval_seconds)
        )
    return to_attribute_values(values)


def roster_sort_key(record: AttendeeRecord) -> str:
    return f"{rfc3339(record.addedAt)}#{record.attendeeId}"


def attendee_to_item(record: AttendeeRecord) -> Item:
    values = _field_values(record)
    values[deployment.PARTITION_KEY] = keys.meeting_pk(record.meetingId)
    values[deployment.SORT_KEY] = keys.attendee_sk(record.attendeeId)
    values[deployment.ROSTER_INDEX_SK] = roster_sort_key(record)
    return to_attribute_values(values)


def pointer_to_item(record: UserPointerRecord) -> Item:
    values = _field_values(record)
    values[deployment.PARTITION_KEY] = keys.meeting_pk(record.meetingId)
    values[deployment.SORT_KEY] = keys.user_sk(record.userId)
    return to_attribute_values(values)


@dataclass(frozen=True, slots=True)
class RoomClaim:
    """What the ROOM item says: the meeting holding the name (if any) and the name's generation."""

    roomName: str  # noqa: N815
    generation: int = 0
    meetingId: str | None = None  # noqa: N815


def _key(pk: str, sk: str) -> Item:
    return {deployment.PARTITION_KEY: {"S": pk}, deployment.SORT_KEY: {"S": sk}}


def meeting_key(meeting_id: str) -> Item:
    return _key(keys.meeting_pk(meeting_id), keys.MEETING_SK)


def attendee_key(meeting_id: str, attendee_id: str) -> Item:
    return _key(keys.meeting_pk(meeting_id), keys.attendee_sk(attendee_id))


def pointer_key(meeting_id: str, user_id: str) -> Item:
    return _key(keys.meeting_pk(meeting_id), keys.user_sk(user_id))


def room_key(room_name: str) -> Item:
    return _key(keys.room_pk(room_name), keys.ROOM_SK)


def open_meetings_key(host_user_id: str) -> Item:
    return _key(keys.host_pk(host_user_id), keys.OPEN_MEETINGS_SK)


_INDEX_ATTRIBUTES_OF_OPEN: Final = (
    deployment.OPEN_INDEX_PK,
    deployment.OPEN_INDEX_SK,
    deployment.DUE_INDEX_PK,
    deployment.DUE_INDEX_SK,
)


@dataclass(frozen=True, slots=True)
class EndOrigin:
    """Where an end's instant comes from, and when its inferred reason is settled.

    `settles_at`: None for a final reason (host_ended, max_duration); otherwise the backend's
    instant at which the cleanup settles the reason (the meeting reads `unknown` until then)."""

    source: EndSource
    noticed_by: EndNoticer | None = None
    settles_at: int | None = None


_DUE_INDEX_ATTRIBUTES: Final = (deployment.DUE_INDEX_PK, deployment.DUE_INDEX_SK)


def _status_is(status: MeetingStatus) -> tuple[str, dict[str, str], Item]:
    return "#status = :status", {"#status": "status"}, {":status": {"S": str(status)}}


class MeetingStore(aws_clients.TableAdapter):
    """Reads and conditional writes of the meeting service's items."""

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

    def final_end(self, source: EndSource = EndSource.BACKEND) -> EndOrigin:
        """The origin of an end whose reason is final at once (a requested one)."""
        return EndOrigin(source)

    def pending_end(
        self, source: EndSource, now_ms: int, noticed_by: EndNoticer | None = None
    ) -> EndOrigin:
        """The origin of an end whose reason the cleanup settles one settle window from now."""
        return EndOrigin(source, noticed_by, now_ms + self.end_settle_ms)

    # --- reads ---------------------------------------------------------------------------

    def _get(self, key: Item) -> Item | None:
        with _dynamodb_errors():
            answer: Any = self.client.get_item(
                TableName=self.table_name, Key=key, ConsistentRead=True
            )
        item: Item | None = answer.get("Item")
        return item

    def _batch_get(self, item_keys: list[Item]) -> dict[tuple[str, str], Item]:
        """Consistent reads of up to 100 keys, answered by (pk, sk); unprocessed keys retried."""
        found: dict[tuple[str, str], Item] = {}
        pending = list(item_keys)
        while pending:
            chunk, pending = pending[:_MAX_BATCH_GET], pending[_MAX_BATCH_GET:]
            request: Any = {self.table_name: {"Keys": chunk, "ConsistentRead": True}}
            while request:
                with _dynamodb_errors():
                    answer: Any = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table_name, []):
                    key = (item[deployment.PARTITION_KEY]["S"], item[deployment.SORT_KEY]["S"])
                    found[key] = item
                request = answer.get("UnprocessedKeys") or None
        return found

    @staticmethod
    def _found(found: dict[tuple[str, str], Item], key: Item) -> Item | None:
        return found.get((key[deployment.PARTITION_KEY]["S"], key[deployment.SORT_KEY]["S"]))

    def get_meeting(self, meeting_id: str) -> MeetingRecord | None:
        item = self._get(meeting_key(meeting_id))
        return None if item is None else meeting_from_item(item)

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
            self._found(found, wanted_meeting),
            self._found(found, wanted_pointer),
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
        meeting_item, attendee_item, pointer_item = (self._found(found, key) for key in wanted)
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
        item = self._get(room_key(room_name))
        if item is None:
            return RoomClaim(roomName=room_name)
        values = from_attribute_values(item)
        return RoomClaim(
            roomName=str(values.get("roomName", room_name)),
            generation=int(values.get("generation", 0)),
            meetingId=values.get("meetingId"),
        )

    def _query_page(
        self,
        *,
        index: str | None,
        key_condition: str,
        names: dict[str, str],
        values: Item,
        limit: int,
        start_key: Key | None,
        newest_first: bool,
        filter_expression: str | None = None,
        max_rounds: int = 10,
    ) -> tuple[list[Item], Key | None]:
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
            with _dynamodb_errors():
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

    def list_hosted(
        self,
        host_user_id: str,
        *,
        status_filter: str | None,
        limit: int,
        start_key: Key | None,
    ) -> tuple[list[MeetingRecord], Key | None]:
        """A host's meetings, newest first. status_filter: open | ended | a MeetingStatus value."""
        if status_filter == "open":
            # Open meetings are exactly those still in the sparse open index.
            condition: tuple[str, dict[str, str], Item] | None = (
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
            deployment.HOST_INDEX,
            deployment.HOST_INDEX_PK,
            keys.host_pk(host_user_id),
            condition,
            limit=limit,
            start_key=start_key,
        )

    def list_open(
        self, *, status_filter: str | None, limit: int, start_key: Key | None
    ) -> tuple[list[MeetingRecord], Key | None]:
        """Every open meeting, newest first (admins). status_filter: CREATED | STARTED | None."""
        open_statuses = {MeetingStatus.CREATED, MeetingStatus.STARTED}
        condition = (
            _status_is(MeetingStatus(status_filter)) if status_filter in open_statuses else None
        )
        return self._list_newest_first(
            deployment.OPEN_INDEX,
            deployment.OPEN_INDEX_PK,
            keys.OPEN_PARTITION,
            condition,
            limit=limit,
            start_key=start_key,
        )

    def _list_newest_first(
        self,
        index: str,
        partition_attribute: str,
        partition_value: str,
        condition: tuple[str, dict[str, str], Item] | None,
        *,
        limit: int,
        start_key: Key | None,
    ) -> tuple[list[MeetingRecord], Key | None]:
        """One page of meetings of an index partition, optionally filtered
        (condition: filter expression, its names, its values)."""
        names = {"#pk": partition_attribute}
        values: Item = {":pk": {"S": partition_value}}
        filter_expression = None
        if condition is not None:
            filter_expression, filter_names, filter_values = condition
            names.update(filter_names)
            values.update(filter_values)
        items, last_key = self._query_page(
            index=index,
            key_condition="#pk = :pk",
            names=names,
            values=values,
            limit=limit,
            start_key=start_key,
            newest_first=True,
            filter_expression=filter_expression,
        )
        return [meeting_from_item(item) for item in items], last_key

    def list_due(
        self, now_ms: int, *, limit: int, start_key: Key | None = None
    ) -> tuple[list[MeetingRecord], Key | None]:
        """Meetings whose next cleanup instant is at or before now, most overdue first: open
        ones, and ended ones whose reason waits for settlement."""
        items, last_key = self._query_page(
            index=deployment.DUE_INDEX,
            key_condition="#pk = :pk AND #sk <= :now",
            names={"#pk": deployment.DUE_INDEX_PK, "#sk": deployment.DUE_INDEX_SK},
            values={":pk": {"S": keys.OPEN_PARTITION}, ":now": {"S": rfc3339(now_ms)}},
            limit=limit,
            start_key=start_key,
            newest_first=False,
        )
        return [meeting_from_item(item) for item in items], last_key

    def list_roster(
        self, meeting_id: str, *, limit: int, start_key: Key | None
    ) -> tuple[list[AttendeeRecord], Key | None]:
        """A meeting's attendees in the order they were added (content shares included)."""
        items, last_key = self._query_page(
            index=deployment.ROSTER_INDEX,
            key_condition="#pk = :pk",
            names={"#pk": deployment.PARTITION_KEY},
            values={":pk": {"S": keys.meeting_pk(meeting_id)}},
            limit=limit,
            start_key=start_key,
            newest_first=False,
        )
        return [attendee_from_item(item) for item in items], last_key

    def _partition(self, meeting_id: str) -> list[Item]:
        """Every item of a meeting's partition (the meeting, its attendees and pointers)."""
        with _dynamodb_errors():
            return self.query_partition(keys.meeting_pk(meeting_id))

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

    @staticmethod
    def _retrying_conflicts(write: Callable[[], Any]) -> Any:
        """Run a write, again after TransactionConflictError (up to CONFLICT_ATTEMPTS)."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                with _dynamodb_errors():
                    return write()
            except TransactionConflictError:
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                time.sleep(_conflict_backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _put_new(self, item: Item) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": deployment.PARTITION_KEY},
            }
        }

    def _claim_room(self, claim: RoomClaim, meeting_id: str) -> dict[str, Any]:
        """Take the room name for a meeting, if its generation is still the one we read."""
        item = to_attribute_values(
            {
                deployment.PARTITION_KEY: keys.room_pk(claim.roomName),
                deployment.SORT_KEY: keys.ROOM_SK,
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

    def open_meetings_of(self, host_user_id: str) -> int:
        """How many open meetings the host holds, as the cap counts them."""
        item = self._get(open_meetings_key(host_user_id))
        return 0 if item is None else int(item[OPEN_MEETINGS_ATTRIBUTE]["N"])

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

    def count_attendee(self, meeting_id: str) -> MeetingRecord | None:
        """After a new attendee is recorded: add it to the meeting's `attendeeTotal`, on
        condition the meeting exists and has not ended. The meeting as it now is, or None if
        it is gone or ENDED (the caller then closes its attendee and answers 410).

        This is also the check that the meeting was open after the attendee was written: an
        end marks the meeting ENDED before it reads the partition to close its attendees, so
        either that read sees the attendee or this condition sees ENDED. A plain write
        conflicts only with a transaction in flight on the meeting item (an events batch, an
        end): it is retried; if it still conflicts the meeting is read instead and the
        increment is lost — the end recounts `attendeeTotal` exactly (`_recount_attendees`).
        """
        try:
            answer: Any = self._retrying_conflicts(
                lambda: self.client.update_item(
                    TableName=self.table_name,
                    Key=meeting_key(meeting_id),
                    UpdateExpression="ADD #total :one",
                    ConditionExpression="attribute_exists(#pk) AND #status <> :ended",
                    ExpressionAttributeNames={
                        "#total": "attendeeTotal",
                        "#pk": deployment.PARTITION_KEY,
                        "#status": "status",
                    },
                    ExpressionAttributeValues={
                        ":one": {"N": "1"},
                        ":ended": {"S": str(MeetingStatus.ENDED)},
                    },
                    ReturnValues="ALL_NEW",
                )
            )
        except TransactionRejectedError:
            return None
        except TransactionConflictError:
            meeting = self.get_meeting(meeting_id)
            return meeting if meeting is not None and meeting.status.is_open else None
        return meeting_from_item(answer["Attributes"])

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
            update: dict[str, Any] = {
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
        with _dynamodb_errors():
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
                    ":capabilities": _serializer.serialize(dataclasses.asdict(capabilities)),
                    ":removed": {"S": str(Presence.REMOVED)},
                },
                ReturnValues="ALL_NEW",
            )
        return attendee_from_item(answer["Attributes"])

    def request_end(self, meeting_id: str, reason: EndReason) -> MeetingRecord | None:
        """Note the reason we are about to end an open meeting with, before DeleteMeeting.

        The first request wins; returns the meeting as it now is, or None if it already ended.
        """
        try:
            with _dynamodb_errors():
                answer: Any = self._update(
                    TableName=self.table_name,
                    Key=meeting_key(meeting_id),
                    UpdateExpression="SET #requested = if_not_exists(#requested, :reason)",
                    ConditionExpression="attribute_exists(#pk) AND #status <> :ended",
                    ExpressionAttributeNames={
                        "#requested": "requestedEndReason",
                        "#pk": deployment.PARTITION_KEY,
                        "#status": "status",
                    },
                    ExpressionAttributeValues={
                        ":reason": {"S": str(reason)},
                        ":ended": {"S": str(MeetingStatus.ENDED)},
                    },
                    ReturnValues="ALL_NEW",
                )
        except TransactionRejectedError:
            return None
        return meeting_from_item(answer["Attributes"])

    def reschedule(self, meeting_id: str, due_at_ms: int) -> bool:
        """Move an open meeting's next cleanup instant (the cleanup, after reconciling it)."""
        try:
            with _dynamodb_errors():
                self._update(
                    TableName=self.table_name,
                    Key=meeting_key(meeting_id),
                    UpdateExpression="SET #dueSk = :due",
                    ConditionExpression="attribute_exists(#duePk)",
                    ExpressionAttributeNames={
                        "#dueSk": deployment.DUE_INDEX_SK,
                        "#duePk": deployment.DUE_INDEX_PK,
                    },
                    ExpressionAttributeValues={":due": {"S": rfc3339(due_at_ms)}},
                )
        except TransactionRejectedError:
            return False
        return True

    def withdraw_end_request(self, meeting_id: str, reason: EndReason) -> None:
        """Take back a `requestedEndReason` whose DeleteMeeting failed, so a later auto-end or
        reconciliation never reports an end that did not happen: only while the meeting is
        open and the value is still `reason` (an end that got through keeps it)."""
        try:
            with _dynamodb_errors():
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
            (
                meeting_from_item(item)
                for item in items
                if item[deployment.SORT_KEY]["S"] == keys.MEETING_SK
            ),
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
                ":duePk": {"S": keys.OPEN_PARTITION},
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
            with _dynamodb_errors():
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
            with _dynamodb_errors():
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
            if item[deployment.SORT_KEY]["S"].startswith(
                (keys.ATTENDEE_SK_PREFIX, keys.USER_SK_PREFIX, keys.ACTIVITY_SK)
            )
        ]
        for first in range(0, len(actions), _MAX_TRANSACTION_ACTIONS):
            chunk = actions[first : first + _MAX_TRANSACTION_ACTIONS]
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
            if item[deployment.SORT_KEY]["S"].startswith(keys.ATTENDEE_SK_PREFIX)
            and not item.get("externalUserId", {}).get("S", "").endswith(_CONTENT_SHARE_SUFFIX)
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
        expire = {
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
        connected = item.get("presence", {}).get("S") == str(Presence.CONNECTED)
        if not item[deployment.SORT_KEY]["S"].startswith(keys.ATTENDEE_SK_PREFIX) or not connected:
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
            with _dynamodb_errors():
                self._update(**update)
        except TransactionRejectedError:
            if fallback is not None:
                self._update_or(fallback, None)
