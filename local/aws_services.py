"""moto in server mode, made fit for the local stack's concurrent callers and as strict as
DynamoDB where the backend depends on it.

What moto 5 does differently from DynamoDB, and what is changed here:
- DynamoDB requests are not atomic with respect to each other: a TransactWriteItems whose
  condition fails restores a snapshot of the whole table, undoing writes that other threads
  made meanwhile. So DynamoDB (and its stream) requests are served one at a time here, as
  DynamoDB's own per-item atomicity makes them look to a client.
- Every TransactWriteItems deep-copies the whole table, stream history included, to be able
  to roll back. Here the transaction checks every condition first and writes only when all
  hold, keeping copies of the items it touches only.
- moto's transactions take no time and never conflict. On DynamoDB a transaction is in flight
  for a while; another transaction touching one of its items is cancelled
  (`TransactionConflict`), and a plain write to one of its items fails with
  `TransactionConflictException`. Here a transaction stays in flight for
  `transaction_in_flight_ms` (other requests proceed meanwhile) and both refusals happen.
- Size limits: moto caps items at its own estimate (405,000 bytes), misses the cap inside
  transactions, and checks index keys only on PutItem. Here every write — PutItem,
  BatchWriteItem, UpdateItem (the resulting item), TransactWriteItems — is held to DynamoDB's
  rules: items ≤ 400 KB by DynamoDB's size rules, partition keys ≤ 2048 bytes and sort keys
  ≤ 1024 bytes, index key attributes included, with DynamoDB's error messages.
Everything else is moto as it is. These changes live only in the local stack's process while
it runs; the Lambda code never sees them.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    DynamodbException,
    HashKeyTooLong,
    ItemSizeTooLarge,
    ItemSizeToUpdateTooLarge,
    MultipleTransactionsException,
    RangeKeyTooLong,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

TRANSACTION_LIMIT = 100
MAX_ITEM_BYTES = 400 * 1024
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
DEFAULT_TRANSACTION_IN_FLIGHT_MS = 10.0
_CONDITION_FAILED = "The conditional request failed"
TRANSACTION_ONGOING = "Transaction is ongoing for the item"
log = logging.getLogger("local.aws")
_NO_REASON = (None, None, None)  # a cancellation reason "None": this item was not the cause

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# (table name, the item's primary key as canonical JSON): one item, as DynamoDB locks it.
ItemId = tuple[str, str]
# Called, without the lock, while a transaction is in flight (tests hold it there).
InFlightHook = Callable[[list[ItemId]], None]


class TransactionConflictException(DynamodbException):
    """A plain write to an item that a transaction in flight is writing (HTTP 400)."""

    error_type = "com.amazonaws.dynamodb.v20120810#TransactionConflictException"

    def __init__(self) -> None:
        super().__init__(self.error_type, message=TRANSACTION_ONGOING)


class _OneDynamoDBRequestAtATime:
    """WSGI middleware: DynamoDB and DynamoDB Streams requests take a lock; SQS long polls and
    the rest run freely. A transaction in flight releases the lock while it waits."""

    def __init__(self, app: WsgiApp, lock: threading.Lock) -> None:
        self._app = app
        self._lock = lock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return self._app(environ, start_response)
        with self._lock:
            # Render the whole answer under the lock: moto builds it lazily.
            return list(self._app(environ, start_response))


# --- DynamoDB's size rules --------------------------------------------------------------------
def _binary(value: Any) -> bytes:
    return value if isinstance(value, bytes) else base64.b64decode(value)


def _number_size(text: str) -> int:
    # About one byte per two significant digits, plus one.
    try:
        digits = Decimal(text).normalize().as_tuple().digits
    except InvalidOperation:
        return len(text)
    return (max(1, len(digits)) + 1) // 2 + 1


_SCALAR_SIZES: dict[str, Callable[[Any], int]] = {
    "S": lambda raw: len(str(raw).encode()),
    "N": lambda raw: _number_size(str(raw)),
    "B": lambda raw: len(_binary(raw)),
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
}


def value_size(value: DynamoType) -> int:
    """Bytes an attribute value counts for in DynamoDB's item size."""
    kind, raw = value.type, value.value
    if kind in _SCALAR_SIZES:
        return _SCALAR_SIZES[kind](raw)
    if kind in {"SS", "NS", "BS"}:
        return sum(_SCALAR_SIZES[kind[0]](member) for member in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(_typed(member)) for member in raw)
    if kind == "M":
        return 3 + sum(
            len(name.encode()) + 1 + value_size(_typed(member)) for name, member in raw.items()
        )
    return len(json.dumps(raw).encode())


def _typed(value: Any) -> DynamoType:
    return value if isinstance(value, DynamoType) else DynamoType(value)


def item_size(attributes: dict[str, Any]) -> int:
    """An item's size by DynamoDB's rules: attribute names plus values, in bytes."""
    return sum(len(name.encode()) + value_size(_typed(value)) for name, value in attributes.items())


def _key_bytes(value: DynamoType) -> int:
    if value.type == "S":
        return len(str(value.value).encode())
    if value.type == "B":
        return len(_binary(value.value))
    return 0  # numbers are always small enough


def check_key_sizes(table: Table, attributes: dict[str, Any]) -> None:
    """Partition and sort key values of the table and of every index within DynamoDB's limits."""
    schemas = [table.schema] + [index.schema for index in [*table.global_indexes, *table.indexes]]
    for schema in schemas:
        for element in schema:
            value = attributes.get(element["AttributeName"])
            if value is None:
                continue
            size = _key_bytes(_typed(value))
            if element["KeyType"] == "HASH" and size > MAX_PARTITION_KEY_BYTES:
                raise HashKeyTooLong
            if element["KeyType"] == "RANGE" and size > MAX_SORT_KEY_BYTES:
                raise RangeKeyTooLong


def _check_put(table: Table, attributes: dict[str, Any]) -> None:
    check_key_sizes(table, attributes)
    if item_size(attributes) > MAX_ITEM_BYTES:
        raise ItemSizeTooLarge


def _check_result(table: Table, item: Item | None) -> None:
    """An updated item still within the limits (else ItemSizeToUpdateTooLarge / key errors)."""
    if item is None:
        return
    check_key_sizes(table, item.attrs)
    if item_size(item.attrs) > MAX_ITEM_BYTES:
        raise ItemSizeToUpdateTooLarge


# --- keeping a write undoable ---------------------------------------------------------------
class _Undo:
    """Copies of the items a write is about to change, and where the stream stood, so that a
    write refused after the fact (a size limit) can be taken back unseen (under the lock)."""

    def __init__(self) -> None:
        self._saved: list[tuple[Table, DynamoType, DynamoType | None, Item | None]] = []
        self._streams: dict[int, tuple[Table, int]] = {}

    def save(self, backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> None:
        table = backend.get_table(table_name)
        hash_value, range_value = backend.get_keys_value(table, key)
        current = table.get_item(hash_value, range_value)
        self._saved.append((table, hash_value, range_value, copy.deepcopy(current)))
        if table.stream_shard is not None and id(table) not in self._streams:
            self._streams[id(table)] = (table, len(table.stream_shard.items))

    def rollback(self) -> None:
        for table, hash_value, range_value, item in reversed(self._saved):
            if range_value is not None:
                if item is None:
                    table.items[hash_value].pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = item
            elif item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item  # type: ignore[assignment]
        for table, length in self._streams.values():
            if table.stream_shard is not None:
                del table.stream_shard.items[length:]


# --- the strict DynamoDB ----------------------------------------------------------------------
class StrictDynamoDB:
    """The patches to moto's DynamoDB backend, with the state they share: the request lock and
    the items that transactions in flight are writing."""

    def __init__(
        self,
        lock: threading.Lock,
        *,
        transaction_in_flight_ms: float = DEFAULT_TRANSACTION_IN_FLIGHT_MS,
        in_flight_hook: InFlightHook | None = None,
    ) -> None:
        if transaction_in_flight_ms < 0:
            raise ValueError("transaction_in_flight_ms must be ≥ 0")
        self.lock = lock
        self.transaction_in_flight_ms = transaction_in_flight_ms
        self.in_flight_hook = in_flight_hook
        self._in_flight: set[ItemId] = set()
        self._originals: dict[str, Any] = {}

    # --- installing -------------------------------------------------------------------------
    def install(self) -> None:
        strict = self
        originals: dict[str, Any] = {
            name: getattr(DynamoDBBackend, name)
            for name in ("put_item", "update_item", "delete_item", "transact_write_items")
        }
        originals["limited_setitem"] = LimitedSizeDict.__setitem__
        self._originals = originals

        def put_item(
            backend: DynamoDBBackend, table_name: str, item: Any, *a: Any, **k: Any
        ) -> Any:
            table = backend.get_table(table_name)
            strict.refuse_if_in_flight(backend, table_name, _key_from_item(table, item))
            _check_put(table, item)
            return _ORIGINALS["put_item"](backend, table_name, item, *a, **k)

        def update_item(
            backend: DynamoDBBackend, table_name: str, key: Any, *a: Any, **k: Any
        ) -> Any:
            table = backend.get_table(table_name)
            strict.refuse_if_in_flight(backend, table_name, key)
            check_key_sizes(table, key)
            undo = _Undo()
            undo.save(backend, table_name, key)
            result = _ORIGINALS["update_item"](backend, table_name, key, *a, **k)
            try:
                _check_result(table, result)
            except DynamodbException:
                undo.rollback()
                raise
            return result

        def delete_item(
            backend: DynamoDBBackend, table_name: str, key: Any, *a: Any, **k: Any
        ) -> Any:
            strict.refuse_if_in_flight(backend, table_name, key)
            check_key_sizes(backend.get_table(table_name), key)
            return _ORIGINALS["delete_item"](backend, table_name, key, *a, **k)

        def transact_write_items(backend: DynamoDBBackend, items: list[dict[str, Any]]) -> None:
            strict.transact_write_items(backend, items)

        patches = {
            "put_item": put_item,
            "update_item": update_item,
            "delete_item": delete_item,
            "transact_write_items": transact_write_items,
        }
        for name, patch in patches.items():
            setattr(DynamoDBBackend, name, patch)
        # The item size is checked here by DynamoDB's rules; moto's own estimate (a fixed
        # 405,000 of its own bytes) would refuse items DynamoDB accepts.
        LimitedSizeDict.__setitem__ = dict.__setitem__  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if not self._originals:
            return
        limited_setitem = self._originals.pop("limited_setitem")
        for name, original in self._originals.items():
            setattr(DynamoDBBackend, name, original)
        LimitedSizeDict.__setitem__ = limited_setitem  # type: ignore[method-assign]
        self._originals = {}

    # --- plain writes -------------------------------------------------------------------------
    def refuse_if_in_flight(
        self, backend: DynamoDBBackend, table_name: str, key: dict[str, Any]
    ) -> None:
        if self._in_flight and _item_id(backend, table_name, key) in self._in_flight:
            log.info("TransactionConflictException: a write to %s, in a transaction", key)
            raise TransactionConflictException()

    # --- transactions -------------------------------------------------------------------------
    def transact_write_items(
        self, backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
    ) -> None:
        """Validate; enter flight (a conflict cancels); wait without the lock; then check every
        condition and apply all or nothing under the lock; leave flight."""
        operations = _validate_transaction(backend, transact_items)
        ids = [_item_id(backend, op["TableName"], key) for _, op, key in operations]
        conflicts = [item_id in self._in_flight for item_id in ids]
        if any(conflicts):
            log.info(
                "TransactionConflict: %s", [i for i, hit in zip(ids, conflicts, strict=True) if hit]
            )
            raise TransactionCanceledException(
                [
                    ("TransactionConflict", TRANSACTION_ONGOING, None) if hit else _NO_REASON
                    for hit in conflicts
                ]
            )
        if self.transaction_in_flight_ms <= 0 and self.in_flight_hook is None:
            _commit(backend, operations)
            return
        self._in_flight.update(ids)
        try:
            self.lock.release()
            try:
                if self.transaction_in_flight_ms > 0:
                    time.sleep(self.transaction_in_flight_ms / 1000)
                if self.in_flight_hook is not None:
                    self.in_flight_hook(list(ids))
            finally:
                self.lock.acquire()
            _commit(backend, operations)
        finally:
            self._in_flight.difference_update(ids)


Operation = tuple[str, dict[str, Any], dict[str, Any]]  # (type, parameters, item key)


def _validate_transaction(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> list[Operation]:
    """What DynamoDB refuses before a transaction starts (ValidationException for the whole
    request): too many items, two operations on one item, an oversized Put or key."""
    if len(transact_items) > TRANSACTION_LIMIT:
        raise TooManyTransactionsException()
    operations: list[Operation] = []
    seen: set[ItemId] = set()
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        table = backend.get_table(op["TableName"])
        key = _key_from_item(table, op["Item"]) if op_type == "Put" else op["Key"]
        check_key_sizes(table, key)
        if op_type == "Put":
            _check_put(table, op["Item"])
        item_id = _item_id(backend, op["TableName"], key)
        if item_id in seen:
            raise MultipleTransactionsException()
        seen.add(item_id)
        operations.append((op_type, op, key))
    return operations


def _commit(backend: DynamoDBBackend, operations: list[Operation]) -> None:
    """Under the lock: every condition, then every write; a write refused after the fact (an
    update that makes an item too large) takes the others back and cancels the transaction."""
    reasons = [_check_condition(backend, op) for _, op, _ in operations]
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    undo = _Undo()
    for index, (op_type, op, key) in enumerate(operations):
        if op_type == "ConditionCheck":
            continue
        undo.save(backend, op["TableName"], key)
        try:
            result = _apply(backend, op_type, op)
            if op_type == "Update":
                _check_result(backend.get_table(op["TableName"]), result)
        except DynamodbException as refused:
            undo.rollback()
            if op_type != "Update":
                raise
            message = getattr(refused, "exception_msg", None) or str(refused)
            raise TransactionCanceledException(
                [
                    ("ValidationError", message, None) if at == index else _NO_REASON
                    for at in range(len(operations))
                ]
            ) from None


def _check_condition(
    backend: DynamoDBBackend, op: dict[str, Any]
) -> tuple[str | None, str | None, dict[str, Any] | None]:
    condition = op.get("ConditionExpression")
    if condition is None:
        return None, None, None
    table = backend.get_table(op["TableName"])
    key = _key_from_item(table, op["Item"]) if "Item" in op else op["Key"]
    current = backend.get_item(op["TableName"], key)
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if get_filter_expression(condition, names, values).expr(current):
        return None, None, None
    wants_old = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
    old = current.to_json()["Attributes"] if wants_old and current else None
    return "ConditionalCheckFailed", _CONDITION_FAILED, old


def _key_from_item(table: Table, attributes: dict[str, Any]) -> dict[str, Any]:
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {name: attributes[name] for name in names if name in attributes}


def _item_id(backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> ItemId:
    table = backend.get_table(table_name)
    return table.name, json.dumps(_key_from_item(table, key), sort_keys=True)


def _apply(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> Item | None:
    # Conditions were checked above, with every other request held off by the lock; the
    # unpatched methods write (the transaction's own items are in flight).
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    originals = _ORIGINALS
    if op_type == "Put":
        return originals["put_item"](backend, op["TableName"], op["Item"],  # type: ignore[no-any-return]
                                     expression_attribute_names=names,
                                     expression_attribute_values=values)  # fmt: skip
    if op_type == "Delete":
        return originals["delete_item"](backend, op["TableName"], op["Key"],  # type: ignore[no-any-return]
                                        expression_attribute_names=names,
                                        expression_attribute_values=values)  # fmt: skip
    return originals["update_item"](backend, op["TableName"], op["Key"],  # type: ignore[no-any-return]
                                    update_expression=op["UpdateExpression"],
                                    expression_attribute_names=names or {},
                                    expression_attribute_values=values or {})  # fmt: skip


# moto's own write methods, as imported (before any patch).
_ORIGINALS: dict[str, Any] = {
    "put_item": DynamoDBBackend.put_item,
    "update_item": DynamoDBBackend.update_item,
    "delete_item": DynamoDBBackend.delete_item,
}


class LocalAwsServices:
    """moto's server on loopback, with the changes above while it runs.

    `transaction_in_flight_ms`: how long a TransactWriteItems stays in flight (0: no time, no
    conflicts). `transaction_hook`: called while each transaction is in flight, without the
    lock (tests hold a transaction there to force an interleaving)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        transaction_in_flight_ms: float = DEFAULT_TRANSACTION_IN_FLIGHT_MS,
    ) -> None:
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.dynamodb = StrictDynamoDB(
            self._lock, transaction_in_flight_ms=transaction_in_flight_ms
        )

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.dynamodb.install()
        app = _OneDynamoDBRequestAtATime(
            DomainDispatcherApplication(create_backend_app), self._lock
        )
        self._server = make_server(
            self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-aws", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.dynamodb.uninstall()
        # moto keeps its state per process, not per server: forget ours, so that nothing else
        # in this process (tests) meets our table, rules and queues.
        moto_api_backend.reset()
