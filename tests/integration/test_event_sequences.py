"""Sequence numbers in the real table (moto): a repeated event keeps its numbers, each new
event of a meeting takes the next one, meetings count separately, and `connected` follows
the joins and leaves."""

from __future__ import annotations

from typing import Any

from meetings.adapters.table.sequences import EventSequenceTable
from meetings.domain.domain_events import DomainEvent

from tests.integration.conftest import TABLE_NAME


def _event(detail_type: str, meeting: str, event_id: str, **detail: str) -> DomainEvent:
    return DomainEvent(detail_type, {"eventId": event_id, "meetingId": meeting, **detail})


def test_numbers_are_assigned_once_per_event_in_order(table: Any) -> None:
    sequences = EventSequenceTable(TABLE_NAME, table)
    created = _event("meeting.created", "m1", "e1")
    joined = _event("attendee.joined", "m1", "e2", attendeeId="a1")
    other = _event("meeting.created", "m2", "e3")
    left = _event("attendee.left", "m1", "e4", attendeeId="a1")

    first = [sequences.stamp(event, 1_000) for event in (created, joined, other)]
    again = [sequences.stamp(event, 2_000) for event in (created, joined, other)]  # redelivered
    assert first == again
    assert [(s.sequence, s.connected) for s in first if s] == [(1, None), (2, 1), (1, None)]
    stamp = sequences.stamp(left, 3_000)
    assert stamp is not None and (stamp.sequence, stamp.connected) == (3, 0)
    assert sequences.stamp(DomainEvent("webhook.disabled", {"eventId": "w"}), 0) is None
