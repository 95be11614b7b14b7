"""`Chime Meeting State Change` and `Chime Media Pipeline State Change` events: the envelope,
and their delivery to sinks in order.

Delivery happens outside the emulator's state lock (a sink may call the emulator back, over
HTTP or in process) and in the exact order the events were emitted.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import boto3
from botocore.config import Config
from meetings.deployment import CHIME_EVENT_DETAIL_TYPE, CHIME_EVENT_SOURCE

Envelope = dict[str, Any]
logger = logging.getLogger(__name__)
PUT_EVENTS_BATCH = 10  # EventBridge takes at most 10 entries per PutEvents call


def envelope(
    account_id: str,
    region: str,
    detail: dict[str, Any],
    detail_type: str = CHIME_EVENT_DETAIL_TYPE,
) -> Envelope:
    """An EventBridge envelope as Chime sends it; `time` is the detail's timestamp (seconds)."""
    instant = datetime.fromtimestamp(detail["timestamp"] / 1000, tz=UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": CHIME_EVENT_SOURCE,
        "account": account_id,
        "time": instant.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": detail,
    }


def loopback_client(
    service: str, endpoint_url: str | None, region: str, config: Config | None = None
) -> Any:
    """A boto3 client to a local stand-in (moto), which accepts any credentials."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="emulator",
        aws_secret_access_key="emulator",  # noqa: S106 - the local stack accepts any key
        config=config,
    )


class EventSink(Protocol):
    def deliver(self, envelopes: Sequence[Envelope]) -> None: ...


class CallbackSink:
    """Calls a function with each envelope (an in-process subscriber)."""

    def __init__(self, callback: Callable[[Envelope], object]) -> None:
        self.callback = callback

    def deliver(self, envelopes: Sequence[Envelope]) -> None:
        for item in envelopes:
            self.callback(item)


class EventBridgeSink:
    """Sends envelopes with PutEvents, as `aws.chime` events, to a configured endpoint.

    Real EventBridge refuses `aws.*` sources from PutEvents; this is for the offline twin
    (moto's EventBridge routes them through rules like the deployed bus would).
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        event_bus_name: str = "default",
        *,
        client: Any = None,
    ) -> None:
        """Pass `client` (an `events` client) or the endpoint to build one for."""
        self._bus = event_bus_name
        self._client = client or loopback_client("events", endpoint_url, region)

    def deliver(self, envelopes: Sequence[Envelope]) -> None:
        for start in range(0, len(envelopes), PUT_EVENTS_BATCH):
            batch = envelopes[start : start + PUT_EVENTS_BATCH]
            entries: Any = [self._entry(item) for item in batch]
            response = self._client.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                failed = [entry for entry in response["Entries"] if entry.get("ErrorCode")]
                logger.warning("PutEvents refused %d Chime events: %s", len(failed), failed)

    def _entry(self, item: Envelope) -> dict[str, Any]:
        return {
            "Source": item["source"],
            "DetailType": item["detail-type"],
            "Detail": json.dumps(item["detail"]),
            "Resources": item["resources"],
            "Time": datetime.fromtimestamp(item["detail"]["timestamp"] / 1000, tz=UTC),
            "EventBusName": self._bus,
        }


class EventOutbox:
    """Queues envelopes in emission order and hands them to every sink in that order.

    Whoever holds the delivery lock drains the queue; other threads only enqueue, so a sink
    that calls back into the emulator cannot deadlock it.
    """

    def __init__(self) -> None:
        self._queue: deque[Envelope] = deque()
        self._delivering = threading.Lock()
        self._sinks: list[EventSink] = []

    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def remove_sink(self, sink: EventSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def remove_sinks(self, kind: type) -> None:
        self._sinks = [sink for sink in self._sinks if not isinstance(sink, kind)]

    def put(self, item: Envelope) -> None:
        self._queue.append(item)

    def clear(self) -> None:
        self._queue.clear()

    def flush(self) -> None:
        while self._queue:
            if not self._delivering.acquire(blocking=False):
                return  # the thread holding it drains what we queued
            try:
                self._drain()
            finally:
                self._delivering.release()

    def _drain(self) -> None:
        while self._queue:
            batch: list[Envelope] = []
            while self._queue:
                batch.append(self._queue.popleft())
            for sink in list(self._sinks):
                try:
                    sink.deliver(batch)
                except Exception:  # a broken sink must not break the service or other sinks
                    logger.exception("event sink %r failed", sink)
