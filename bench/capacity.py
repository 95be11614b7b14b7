"""Every AWS request of the clients it watches, with DynamoDB's capacity units per partition.

Botocore event hooks on the functions' own clients (nothing in the production code): at
`provide-client-params` the request's parameters are kept and, for a DynamoDB write, the images
of the items it will write are read with the bench's own client; at `after-call` the new
images and the answer are read. The units follow DynamoDB's documented rules:
- a write: the larger of the item's sizes before and after, in 1 KB units, at least 1; each
  index whose keys the item has gets a copy (a key that moved: a delete and a put); both
  doubled inside TransactWriteItems (every action, ConditionCheck included);
- a read: 4 KB units of the items returned (a Query: their sum, per request), halved when
  eventually consistent (every index read is), doubled in TransactGetItems.
A write refused by its condition is counted as a write of the item's size, as DynamoDB bills it.
Sizes: bench/item_size.py.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from meetings import deployment

from bench.item_size import item_size

_ids = itertools.count()
WRITE_UNIT_BYTES: Final = 1024
READ_UNIT_BYTES: Final = 4096
BASE_TABLE: Final = "table"
# index name → (partition attribute, sort attribute); the local index shares the table's pk.
INDEXES: Final[dict[str, tuple[str, str]]] = {
    **deployment.GLOBAL_INDEXES,
    **{name: (deployment.PARTITION_KEY, sk) for name, sk in deployment.LOCAL_INDEXES.items()},
}


@dataclass(frozen=True)
class Units:
    """Capacity of one request on one partition key of the table or of an index."""

    target: str  # BASE_TABLE or an index name
    partition: str
    write: float = 0.0
    read: float = 0.0
    read_bytes: int = 0  # the items' size behind `read`, before rounding to units


@dataclass
class Request:
    service: str
    operation: str
    at: float  # the bench's simulated second
    function: str = ""  # the function that made it
    units: list[Units] = field(default_factory=list)
    entries: int = 0  # EventBridge PutEvents events, in 64 KB chunks
    payload: list[dict[str, Any]] = field(default_factory=list)  # PutEvents' entries

    @property
    def write_units(self) -> float:
        return sum(unit.write for unit in self.units)

    @property
    def read_units(self) -> float:
        return sum(unit.read for unit in self.units)


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def _read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def _pk(item: Mapping[str, Any]) -> str:
    return str(item[deployment.PARTITION_KEY]["S"])


def index_writes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Units]:
    """The index copies a write of an item makes (indexes project ALL: a copy is the item)."""
    units = []
    for index, (pk_name, sk_name) in INDEXES.items():
        before = old if old and pk_name in old and sk_name in old else None
        after = new if new and pk_name in new and sk_name in new else None
        if before is None and after is None:
            continue
        if (
            before is not None
            and after is not None
            and before[pk_name] == after[pk_name]
            and (before[sk_name] == after[sk_name])
        ):
            size = max(item_size(before), item_size(after))
            units.append(Units(index, str(after[pk_name]["S"]), write=write_units(size)))
            continue
        if before is not None:
            units.append(
                Units(index, str(before[pk_name]["S"]), write=write_units(item_size(before)))
            )
        if after is not None:
            units.append(
                Units(index, str(after[pk_name]["S"]), write=write_units(item_size(after)))
            )
    return units


def _key_of(action: Mapping[str, Any]) -> dict[str, Any]:
    if "Key" in action:
        return dict(action["Key"])
    item = action["Item"]
    return {name: item[name] for name in (deployment.PARTITION_KEY, deployment.SORT_KEY)}


def _written_keys(operation: str, params: Mapping[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    """(key, in a transaction) of every item the request may write."""
    if operation in {"PutItem", "UpdateItem", "DeleteItem"}:
        return [(_key_of(params), False)]
    if operation == "TransactWriteItems":
        keys = []
        for action in params["TransactItems"]:
            ((_, body),) = action.items()
            keys.append((_key_of(body), True))
        return keys
    if operation == "BatchWriteItem":
        keys = []
        for requests in params["RequestItems"].values():
            for request in requests:
                body = request.get("PutRequest") or request.get("DeleteRequest")
                keys.append((_key_of(body), False))
        return keys
    return []


class CapacityMeter:
    """Records every request of the attached clients; DynamoDB's with their units."""

    def __init__(self, reader: Any, table_name: str) -> None:
        self._reader = reader  # the bench's own DynamoDB client, not watched
        self._table_name = table_name
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.now = 0.0  # set by the scenario before each step
        self.function = ""  # set by the scenario around each invocation
        # (old image, new image) of every item a request changed: the table's stream.
        self.changes: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
        self._attached: list[tuple[Any, str]] = []

    def attach(self, client: Any) -> None:
        suffix = f"capacity-{next(_ids)}"
        service = client.meta.service_model.service_name
        events = client.meta.events
        events.register_last("provide-client-params", self._before, unique_id=f"{suffix}-b")
        events.register_last(
            "after-call", lambda **kw: self._after(service, **kw), unique_id=f"{suffix}-a"
        )
        events.register_last(
            "after-call-error",
            lambda **kw: self._after(service, parsed={}, **kw),
            unique_id=f"{suffix}-e",
        )
        self._attached.append((client, suffix))

    def detach_all(self) -> None:
        for client, suffix in self._attached:
            events = client.meta.events
            events.unregister("provide-client-params", unique_id=f"{suffix}-b")
            events.unregister("after-call", unique_id=f"{suffix}-a")
            events.unregister("after-call-error", unique_id=f"{suffix}-e")
        self._attached.clear()

    def take_changes(self, limit: int) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        with self._lock:
            taken, self.changes = self.changes[:limit], self.changes[limit:]
        return taken

    def take(self) -> list[Request]:
        with self._lock:
            taken, self.requests = self.requests, []
        return taken

    # --- hooks -----------------------------------------------------------------------------

    def _image(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        answer = self._reader.get_item(TableName=self._table_name, Key=key, ConsistentRead=True)
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def _before(
        self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        context["capacity_operation"] = model.name
        context["capacity_params"] = params
        if model.service_model.service_name == "dynamodb":
            keys = _written_keys(model.name, params)
            context["capacity_old"] = [(key, tx, self._image(key)) for key, tx in keys]

    def _after(
        self, service: str, *, context: dict[str, Any], parsed: Any = None, **_: Any
    ) -> None:
        operation = str(context.get("capacity_operation", "?"))
        params = context.get("capacity_params", {})
        request = Request(service, operation, self.now, self.function)
        if service == "dynamodb":
            failed = isinstance(parsed, dict) and "Error" in parsed
            request.units = self._dynamodb_units(operation, params, parsed or {}, context, failed)
        elif service == "events" and operation == "PutEvents":
            request.payload = list(params.get("Entries", []))
            request.entries = sum(
                math.ceil(len(str(entry.get("Detail", ""))) / 65_536) or 1
                for entry in params.get("Entries", [])
            )
        with self._lock:
            self.requests.append(request)

    def _dynamodb_units(
        self,
        operation: str,
        params: Mapping[str, Any],
        parsed: Mapping[str, Any],
        context: Mapping[str, Any],
        failed: bool,
    ) -> list[Units]:
        units: list[Units] = []
        for key, in_transaction, old in context.get("capacity_old", []):
            new = None if failed else self._image(key)
            factor = 2 if in_transaction else 1
            size = max(item_size(old) if old else 0, item_size(new) if new else 0)
            units.append(Units(BASE_TABLE, _pk(key), write=factor * write_units(size)))
            if not failed:
                units += index_writes(old, new)
                if old != new:
                    with self._lock:
                        self.changes.append((old, new))
        units += _read_request_units(operation, params, parsed)
        return units


def _read_request_units(
    operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]
) -> list[Units]:
    if operation == "GetItem":
        item = parsed.get("Item")
        size = item_size(item) if item else 0
        consistent = bool(params.get("ConsistentRead"))
        return [
            Units(BASE_TABLE, _pk(params["Key"]), read=_read_units(size, consistent=consistent))
        ]
    if operation == "BatchGetItem":
        found = {
            (_pk(item), item[deployment.SORT_KEY]["S"]): item_size(item)
            for items in parsed.get("Responses", {}).values()
            for item in items
        }
        units = []
        for request in params["RequestItems"].values():
            consistent = bool(request.get("ConsistentRead"))
            for key in request["Keys"]:
                size = found.get((_pk(key), key[deployment.SORT_KEY]["S"]), 0)
                units.append(
                    Units(BASE_TABLE, _pk(key), read=_read_units(size, consistent=consistent))
                )
        return units
    if operation == "Query":
        items = parsed.get("Items", [])
        sizes = [item_size(item) for item in items]
        scanned = int(parsed.get("ScannedCount", len(items)))
        average = sum(sizes) / len(sizes) if sizes else 0
        size = int(sum(sizes) + (scanned - len(items)) * average)
        index = params.get("IndexName")
        target = BASE_TABLE if index is None else index
        consistent = index is None and bool(params.get("ConsistentRead"))
        partition = _queried_partition(params)
        read = _read_units(size, consistent=consistent)
        return [Units(target, partition, read=read, read_bytes=size)]
    return []


def _queried_partition(params: Mapping[str, Any]) -> str:
    """The value the key condition gives the partition key (`#name = :value`, first clause)."""
    match = re.match(r"\s*(#?\w+)\s*=\s*(:\w+)", params["KeyConditionExpression"])
    if match is None:
        raise ValueError(f"unexpected key condition {params['KeyConditionExpression']!r}")
    return str(params["ExpressionAttributeValues"][match.group(2)]["S"])


def by_operation(requests: Iterable[Request]) -> dict[str, int]:
    return dict(Counter(f"{r.service}:{r.operation}" for r in requests).most_common())
