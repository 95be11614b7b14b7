"""The project's own EventBridge bus: domain events go out in PutEvents batches of 10."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from meetings.adapters import aws_clients
from meetings.domain.domain_events import DomainEvent
from meetings.service.ports import PublishFailedError

PUT_EVENTS_MAX_ENTRIES: Final = 10  # EventBridge's limit per PutEvents call


class EventBusPublisher:
    def __init__(self, bus_name: str, source: str, client: Any | None = None) -> None:
        self.bus_name = bus_name
        self.source = source
        self._client = client

    @property
    def max_events_per_call(self) -> int:
        return PUT_EVENTS_MAX_ENTRIES

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_clients.events_client()
        return self._client

    def _entry(self, event: DomainEvent) -> dict[str, Any]:
        return {
            "EventBusName": self.bus_name,
            "Source": self.source,
            "DetailType": event.detail_type,
            "Detail": json.dumps(event.detail, separators=(",", ":")),
            "Resources": [],
        }

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Put every event, 10 per call, in order; PublishFailedError at the first refusal."""
        for start in range(0, len(events), PUT_EVENTS_MAX_ENTRIES):
            chunk = events[start : start + PUT_EVENTS_MAX_ENTRIES]
            answer = self.client.put_events(Entries=[self._entry(event) for event in chunk])
            if answer.get("FailedEntryCount", 0):
                failed = [entry for entry in answer.get("Entries", []) if entry.get("ErrorCode")]
                raise PublishFailedError(failed)
