"""Delivering events to the functions as the deployed event sources do.

- `SqsBatchPoller`: the SQS → Lambda event source mapping. It long-polls a queue, hands the
  function batches in the SQS event shape, deletes what succeeded and leaves what the function
  reported in `batchItemFailures` to come back after the visibility timeout. Optional chaos
  drops, duplicates and reorders deliveries like a bad day of EventBridge.
- `StreamPoller`: the DynamoDB Streams → Lambda event source mapping, resuming after the
  first record the function reported failed.
- `RateSchedule`: EventBridge Scheduler's `rate(...)` expressions, on the world clock.
- `TtlSweeper`: DynamoDB's Time to Live, on the world clock (moto keeps expired items).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.lambda_runtime import FunctionError

log = logging.getLogger("local.delivery")

Invoke = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Chaos:
    """How badly deliveries to the events function behave (all off by default)."""

    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_window: int = 0
    seed: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.drop_rate or self.duplicate_rate or self.reorder_window > 1)


class _Stoppable:
    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run_forever, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("%s failed; retrying", self._thread.name)
                self._stop.wait(1.0)

    def poll_once(self) -> None:
        raise NotImplementedError


class SqsBatchPoller(_Stoppable):
    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Invoke,
        batch_size: int = 10,
        wait_seconds: int = 1,
        report_batch_item_failures: bool = True,
    ) -> None:
        """`report_batch_item_failures`: the mapping's FunctionResponseTypes names
        ReportBatchItemFailures; without it Lambda ignores what the function returns, and
        only a failed invocation brings the batch back."""
        super().__init__("sqs-poller")
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.report_batch_item_failures = report_batch_item_failures
        self._chaos = Chaos()
        self._random = random.Random()  # noqa: S311 - simulation, not security
        self._held_back: list[dict[str, Any]] = []
        # What reached the function and what chaos did on the way (for tests and reports).
        self.stats = {"delivered": 0, "dropped": 0, "duplicated": 0}
        # The events chaos lost for good (no copy delivered): what a report may blame a wrong
        # inference on. Bounded: a long chaotic session keeps the latest only.
        self.lost: deque[dict[str, Any]] = deque(maxlen=100_000)

    def set_chaos(self, chaos: Chaos) -> None:
        self._chaos = chaos
        self._random = random.Random(chaos.seed)  # noqa: S311 - simulation

    def poll_once(self) -> None:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages and not self._held_back:
            return
        records = [self._record(message) for message in messages]
        deliver = self._apply_chaos(records) if self._chaos.active else records
        failed = self._deliver(deliver) if deliver else set()
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )

    def _deliver(self, records: list[dict[str, Any]]) -> set[str]:
        self.stats["delivered"] += len(records)
        try:
            result = self.invoke({"Records": records}) or {}
        except FunctionError as failure:
            # A failed invocation: the whole batch comes back after the visibility timeout.
            log.warning(
                "the function failed on a batch of %d; SQS retries it: %s", len(records), failure
            )
            return {record["messageId"] for record in records}
        if not self.report_batch_item_failures:
            return set()
        return {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}

    def _apply_chaos(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        chaos, rng = self._chaos, self._random
        out: list[dict[str, Any]] = []
        for record in records:
            if rng.random() < chaos.drop_rate:
                self.stats["dropped"] += 1
                self.lost.append(_identity(record))
                continue  # lost on the way: deleted from the queue without a delivery
            out.append(record)
            if rng.random() < chaos.duplicate_rate:
                self.stats["duplicated"] += 1
                self._held_back.append(dict(record))  # a duplicate, delivered later
        out.extend(self._held_back)
        self._held_back = []
        window = max(1, chaos.reorder_window)
        for start in range(0, len(out), window):
            chunk = out[start : start + window]
            rng.shuffle(chunk)
            out[start : start + window] = chunk
        return out

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
                "SenderId": attributes.get("SenderId", "local"),
                "ApproximateFirstReceiveTimestamp": attributes.get(
                    "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
                ),
            },
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.queue_arn.split(":")[3],
        }


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    """What a lost delivery was: the Chime event's type, meeting, attendee and timestamp."""
    try:
        detail = json.loads(record["body"]).get("detail", {})
    except (ValueError, AttributeError):
        return {"messageId": record["messageId"]}
    return {
        key: detail.get(key)
        for key in ("eventType", "meetingId", "attendeeId", "timestamp")
        if key in detail
    }


class StreamPoller(_Stoppable):
    def __init__(
        self,
        *,
        streams: Any,
        stream_arn: str,
        invoke: Invoke,
        batch_size: int = 100,
        idle_seconds: float = 0.3,
    ) -> None:
        super().__init__("stream-poller")
        self.streams = streams
        self.stream_arn = stream_arn
        self.invoke = invoke
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self._iterators: dict[str, str] = {}
        self._pending: dict[str, list[dict[str, Any]]] = {}

    def poll_once(self) -> None:
        self._discover_shards()
        delivered = 0
        for shard_id in list(self._iterators):
            delivered += self._poll_shard(shard_id)
        if not delivered:
            self._stop.wait(self.idle_seconds)

    def _discover_shards(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            if shard["ShardId"] not in self._iterators:
                iterator = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON",
                )["ShardIterator"]
                self._iterators[shard["ShardId"]] = iterator
                self._pending[shard["ShardId"]] = []

    def _poll_shard(self, shard_id: str) -> int:
        pending = self._pending[shard_id]
        if len(pending) < self.batch_size:
            answer = self.streams.get_records(
                ShardIterator=self._iterators[shard_id], Limit=self.batch_size
            )
            self._iterators[shard_id] = answer.get("NextShardIterator") or self._iterators[shard_id]
            pending.extend(self._record(r) for r in answer.get("Records", []))
        if not pending:
            return 0
        batch = pending[: self.batch_size]
        result = self.invoke({"Records": batch}) or {}
        failures = [item["itemIdentifier"] for item in result.get("batchItemFailures", [])]
        if failures:
            # As the event source mapping does: retry from the first failed record on.
            first = next(
                i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failures
            )
            self._pending[shard_id] = pending[first:]
            self._stop.wait(1.0)
        else:
            self._pending[shard_id] = pending[len(batch) :]
        return len(batch)

    def _record(self, record: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if created is not None and not isinstance(created, int | float):
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion", "us-east-1"),
            "dynamodb": dynamodb,
            "eventSourceARN": self.stream_arn,
        }


_RATE = re.compile(r"^rate\((\d+)\s+(second|minute|hour|day)s?\)$")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int:
    """Seconds between runs of an EventBridge Scheduler `rate(...)` expression."""
    found = _RATE.match(expression.strip())
    if not found:
        raise ValueError(
            f"the local scheduler runs rate(...) expressions only, not {expression!r}; "
            "pass --cleanup-every to choose a period"
        )
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)]


Now = Callable[[], float]


class _OnWorldClock(_Stoppable):
    """A poller that runs on the world clock (`now`: epoch seconds) and that `nudge()` wakes
    when that clock jumps ahead."""

    def __init__(self, name: str, now: Now) -> None:
        super().__init__(name)
        self._now = now
        self._nudged = threading.Event()

    def nudge(self) -> None:
        """The world clock moved: what came due runs now."""
        self._nudged.set()

    def stop(self) -> None:
        self._stop.set()
        self._nudged.set()
        super().stop()

    def _sleep(self, seconds: float) -> None:
        self._nudged.wait(max(0.0, seconds))


class RateSchedule(_OnWorldClock):
    """Invokes a function every `period_seconds` of world time with a fixed input, as a
    schedule does. When the world clock jumps past the next run, that run happens at once (a
    jump over many periods gives one run, not a burst: the cleanup catches up in one)."""

    def __init__(
        self,
        *,
        period_seconds: float,
        invoke: Invoke,
        payload: dict[str, Any],
        now: Now = time.time,
    ) -> None:
        super().__init__("scheduler", now)
        self.period_seconds = period_seconds
        self.invoke = invoke
        self.payload = payload
        self._next_run = now() + period_seconds
        self.runs = 0  # completed invocations (for tests and reports)

    def poll_once(self) -> None:
        self._nudged.clear()
        remaining = self._next_run - self._now()
        if remaining > 0:
            self._sleep(remaining)
            return
        if self._stop.is_set():
            return
        self._next_run = self._now() + self.period_seconds
        try:
            self.invoke(dict(self.payload))
        finally:
            self.runs += 1


# DynamoDB ignores TTL values more than five years in the past.
_TTL_OLDEST_SECONDS = 5 * 365 * 86400


class TtlSweeper(_OnWorldClock):
    """DynamoDB's Time to Live: deletes the items whose TTL attribute (a Number, epoch seconds)
    lies in the past by world time, each with a DeleteItem conditioned on it still being past
    (an item whose TTL moved meanwhile stays), so the stream carries a REMOVE record as for any
    delete. Sweeps every `every_seconds` and at once when nudged."""

    def __init__(
        self,
        *,
        dynamodb: Any,
        table_name: str,
        attribute: str,
        now: Now = time.time,
        every_seconds: float = 5.0,
    ) -> None:
        super().__init__("ttl-sweeper", now)
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.attribute = attribute
        self.every_seconds = every_seconds
        self.deleted = 0  # items deleted so far
        self.sweeps = 0  # sweeps completed so far
        self._key_names: list[str] | None = None

    def poll_once(self) -> None:
        self._nudged.clear()
        self.sweep()
        self._sleep(self.every_seconds)

    def sweep(self) -> int:
        """Delete what has expired now; returns how many items went."""
        now = int(self._now())
        names = {"#ttl": self.attribute}
        values = {
            ":now": {"N": str(now)},
            ":oldest": {"N": str(now - _TTL_OLDEST_SECONDS)},
            ":number": {"S": "N"},
        }
        deleted = 0
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table_name,
            # Only Numbers are TTL values (moto cannot compare a String with a Number).
            FilterExpression="attribute_type(#ttl, :number) AND #ttl < :now AND #ttl >= :oldest",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        )
        for page in pages:
            for item in page.get("Items", []):
                deleted += self._expire({name: item[name] for name in self._keys()}, names, values)
        self.deleted += deleted
        self.sweeps += 1
        return deleted

    def _keys(self) -> list[str]:
        if self._key_names is None:
            table = self.dynamodb.describe_table(TableName=self.table_name)["Table"]
            self._key_names = [element["AttributeName"] for element in table["KeySchema"]]
        return self._key_names

    def _expire(self, key: dict[str, Any], names: dict[str, str], values: dict[str, Any]) -> int:
        try:
            self.dynamodb.delete_item(
                TableName=self.table_name,
                Key=key,
                ConditionExpression="#ttl < :now",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":now": values[":now"]},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return 0  # its TTL moved on meanwhile: it stays
        except self.dynamodb.exceptions.TransactionConflictException:
            return 0  # a transaction is writing it: the next sweep sees it again
        return 1
