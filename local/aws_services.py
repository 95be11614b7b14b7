"""moto in server mode, made fit for the local stack's concurrent callers.

Two things in moto 5 stand between it and a backend serving concurrent requests:
- DynamoDB requests are not atomic with respect to each other: a TransactWriteItems whose
  condition fails restores a snapshot of the whole table, undoing writes that other threads
  made meanwhile. So DynamoDB (and its stream) requests are served one at a time here, as
  DynamoDB's own per-item atomicity makes them look to a client.
- Every TransactWriteItems deep-copies the whole table, stream history included, to be able
  to roll back: the local stack would slow down with every request it served. Here the
  transaction checks every condition first and writes only when all hold (no snapshot
  needed), which is what DynamoDB guarantees.
Everything else is moto as it is. These changes live only in the local stack's process while
it runs; the Lambda code never sees them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

TRANSACTION_LIMIT = 100
_CONDITION_FAILED = "The conditional request failed"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _OneDynamoDBRequestAtATime:
    """WSGI middleware: DynamoDB and DynamoDB Streams requests take a lock; SQS long polls and
    the rest run freely."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return self._app(environ, start_response)
        with self._lock:
            # Render the whole answer under the lock: moto builds it lazily.
            return list(self._app(environ, start_response))


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > TRANSACTION_LIMIT:
        raise TooManyTransactionsException()
    errors = [
        _check(self, item, index, transact_items) for index, item in enumerate(transact_items)
    ]
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for item in transact_items:
        _apply(self, *next(iter(item.items())))


def _check(
    backend: DynamoDBBackend, item: dict[str, Any], index: int, all_items: list[dict[str, Any]]
) -> tuple[str | None, str | None, dict[str, Any] | None]:
    if len(item) > 1:
        raise TransactWriteSingleOpException
    op_type, op = next(iter(item.items()))
    if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
        raise ValueError("Unsupported transaction operation")
    key = _key_of(backend, op_type, op)
    for other in all_items[:index]:
        other_type, other_op = next(iter(other.items()))
        same_table = other_op["TableName"] == op["TableName"]
        if same_table and _key_of(backend, other_type, other_op) == key:
            raise MultipleTransactionsException()
    condition = op.get("ConditionExpression")
    if condition is None:
        return None, None, None
    current = backend.get_item(op["TableName"], key)
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if get_filter_expression(condition, names, values).expr(current):
        return None, None, None
    wants_old = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
    old = current.to_json()["Attributes"] if wants_old and current else None
    return "ConditionalCheckFailed", _CONDITION_FAILED, old


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        key: dict[str, Any] = op["Key"]
        return key
    table = backend.get_table(op["TableName"])
    attributes = op["Item"]
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {name: attributes[name] for name in names}


def _apply(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> None:
    # Conditions were checked above, with every other request held off by the lock.
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"], expression_attribute_names=names,
                         expression_attribute_values=values)  # fmt: skip
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], op["Key"], expression_attribute_names=names,
                            expression_attribute_values=values)  # fmt: skip
    elif op_type == "Update":
        backend.update_item(op["TableName"], op["Key"], update_expression=op["UpdateExpression"],
                            expression_attribute_names=names or {},
                            expression_attribute_values=values or {})  # fmt: skip


class LocalAwsServices:
    """moto's server on loopback, with the two changes above while it runs."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._original_transact: Any = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._original_transact = DynamoDBBackend.transact_write_items
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
        app = _OneDynamoDBRequestAtATime(DomainDispatcherApplication(create_backend_app))
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
        if self._original_transact is not None:
            DynamoDBBackend.transact_write_items = self._original_transact  # type: ignore[method-assign]
        # moto keeps its state per process, not per server: forget ours, so that nothing else
        # in this process (tests) meets our table, rules and queues.
        moto_api_backend.reset()
