"""The per-meeting sequence counter of domain events (port: EventSequencer).

Items, in a partition of their own so a meeting's partition reads never carry them:
- `SEQUENCE#<meetingId>` / `COUNTER`: `last` (the last number handed out) and `connected`
  (the attendee ids connected after it), with a TTL refreshed on every write.
- `SEQUENCE#<meetingId>` / `EVENT#<eventId>`: the numbers one event got (`sequence`,
  `connected`), so a redelivered stream record gets them again.

One transaction writes both, conditioned on the counter still holding what was read and on
the event having no numbers yet; if either fails, the event's item is read again (a repeat
wins it) or the step is done again from a fresh read.
"""

from __future__ import annotations

from typing import Final

from meetings import deployment
from meetings.adapters.table.base import TableBase
from meetings.adapters.table.codec import Item
from meetings.domain.domain_events import DomainEvent
from meetings.domain.event_sequence import SequenceState, Stamp, advance, sequenced_meeting
from meetings.service.ports import TransactionRejectedError

COUNTER_SK: Final = "COUNTER"
EVENT_SK_PREFIX: Final = "EVENT#"
# Long enough for the stream's 24-hour retention and a meeting's 24-hour limit, with room.
SEQUENCE_TTL_SECONDS: Final = 3 * 86_400
ATTEMPTS: Final = 5


def sequence_pk(meeting_id: str) -> str:
    return f"SEQUENCE#{meeting_id}"


def _key(meeting_id: str, sort_key: str) -> Item:
    return {
        deployment.PARTITION_KEY: {"S": sequence_pk(meeting_id)},
        deployment.SORT_KEY: {"S": sort_key},
    }


def _stamp(item: Item) -> Stamp:
    connected = item.get("connected", {}).get("N")
    return Stamp(int(item["sequence"]["N"]), None if connected is None else int(connected))


def _state(item: Item | None) -> SequenceState:
    if item is None:
        return SequenceState()
    ids = frozenset(value["S"] for value in item.get("connected", {}).get("L", []))
    return SequenceState(last=int(item["last"]["N"]), connected=ids)


class EventSequenceTable(TableBase):
    def stamp(self, event: DomainEvent, now_ms: int) -> Stamp | None:
        """The event's numbers, assigned once (None: the event is not about a meeting)."""
        meeting_id = sequenced_meeting(event)
        if meeting_id is None:
            return None
        event_key = _key(meeting_id, EVENT_SK_PREFIX + event.event_id)
        for _ in range(ATTEMPTS):
            known = self._get(event_key)
            if known is not None:
                return _stamp(known)
            counter = self._get(_key(meeting_id, COUNTER_SK))
            state, stamp = advance(_state(counter), event)
            try:
                self._transact(
                    self._writes(
                        meeting_id,
                        event_key=event_key,
                        counter=counter,
                        state=state,
                        stamp=stamp,
                        now_ms=now_ms,
                    )
                )
            except TransactionRejectedError:
                continue  # a repeat of this event, or another writer, got in first: read again
            return stamp
        raise TransactionRejectedError(["SequenceContended"])

    def _writes(
        self,
        meeting_id: str,
        *,
        event_key: Item,
        counter: Item | None,
        state: SequenceState,
        stamp: Stamp,
        now_ms: int,
    ) -> list[dict[str, object]]:
        expires_at = {"N": str(now_ms // 1000 + SEQUENCE_TTL_SECONDS)}
        counter_item = _key(meeting_id, COUNTER_SK) | {
            "last": {"N": str(state.last)},
            "connected": {"L": [{"S": attendee} for attendee in sorted(state.connected)]},
            deployment.TTL_ATTRIBUTE: expires_at,
        }
        if counter is None:
            counter_put = self._put_new(counter_item)
        else:
            counter_put = {
                "Put": {
                    "TableName": self.table_name,
                    "Item": counter_item,
                    "ConditionExpression": "#last = :seen",
                    "ExpressionAttributeNames": {"#last": "last"},
                    "ExpressionAttributeValues": {":seen": counter["last"]},
                }
            }
        event_item = event_key | {
            "sequence": {"N": str(stamp.sequence)},
            deployment.TTL_ATTRIBUTE: expires_at,
        }
        if stamp.connected is not None:
            event_item["connected"] = {"N": str(stamp.connected)}
        return [counter_put, self._put_new(event_item)]
