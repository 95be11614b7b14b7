"""An in-memory table for the events service: the pure model the DynamoDB writes implement.

It applies an ActivityWrite exactly as adapters/table/activity.py's transaction means it
(conditions included) and ends a meeting as MeetingTable.end_meeting does, so the service's
logic can be checked for thousands of event orders in milliseconds. The integration tests
check that the real table ends in the same state.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from meetings import deployment
from meetings.domain.activity_plan import ActivitySnapshot, ActivityWrite
from meetings.domain.end_reason import settled_end
from meetings.domain.presence import ActivityLog
from meetings.domain.records import (
    AttendeeRecord,
    EndNoticer,
    EndReason,
    EndSource,
    MeetingRecord,
    MeetingStatus,
    Presence,
)
from meetings.handlers.event_batches import Delivery, EventBatch
from meetings.service.events import ChimeEventService
from meetings.service.ports import ActivityConflictError, EndOrigin

MEETING_ID = "87654321-4321-4321-4321-210987654321"


@dataclass
class MemoryTable:
    meeting: MeetingRecord
    log: ActivityLog = field(default_factory=ActivityLog)
    version: int = 0  # the activity item's version (0: no item yet)
    attendees: dict[str, AttendeeRecord] = field(default_factory=dict)
    writes: int = 0


class MemoryActivityStore:
    def __init__(self, table: MemoryTable) -> None:
        self.table = table

    def read(
        self, meeting_id: str, attendee_ids: Sequence[str], *, every_attendee: bool = False
    ) -> ActivitySnapshot | None:
        if meeting_id != self.table.meeting.meetingId:
            return None
        if every_attendee:
            attendee_ids = list(self.table.attendees)
        attendees = {a: self.table.attendees.get(a) for a in attendee_ids}
        return ActivitySnapshot(
            self.table.meeting, self.table.log, attendees, version=self.table.version
        )

    def write(self, change: ActivityWrite) -> None:
        if change.is_empty:
            return
        table = self.table
        if (
            table.meeting.status is not change.expected_status
            or table.version != change.expected_version
        ):
            raise ActivityConflictError("meeting")
        for attendee in change.attendees:
            current = table.attendees.get(attendee.attendee_id)
            exists_as_expected = (
                current is None
                if attendee.create
                else (current is not None and current.presence is not Presence.REMOVED)
            )
            if not exists_as_expected:
                raise ActivityConflictError("attendee")
        table.writes += 1
        if change.rewrite is not None:
            table.log = change.rewrite
        else:
            table.log = ActivityLog(table.log.entries | change.new_entries, table.log.checkpoint)
        if change.changes_log:
            table.version += 1
        fields = dict(change.meeting_fields)
        fields["attendeeTotal"] = table.meeting.attendeeTotal + change.attendees_added
        table.meeting = dataclasses.replace(table.meeting, **fields)
        for attendee in change.attendees:
            if attendee.create:
                table.attendees[attendee.attendee_id] = attendee.create
            else:
                values = {k: v for k, v in attendee.fields.items() if k != deployment.TTL_ATTRIBUTE}
                table.attendees[attendee.attendee_id] = dataclasses.replace(
                    table.attendees[attendee.attendee_id], **values
                )


SETTLE_MS = 120_000


class MemoryMeetingStore:
    """MeetingTable.end_meeting's contract (and the cleanup's settlement), in memory."""

    def __init__(self, table: MemoryTable) -> None:
        self.table = table

    def final_end(self, source: EndSource = EndSource.BACKEND) -> EndOrigin:
        return EndOrigin(source)

    def pending_end(
        self, source: EndSource, now_ms: int, noticed_by: EndNoticer | None = None
    ) -> EndOrigin:
        return EndOrigin(source, noticed_by, now_ms + SETTLE_MS)

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
        origin = origin or EndOrigin(EndSource.BACKEND)
        table = self.table
        meeting = table.meeting
        if meeting.status is MeetingStatus.ENDED:
            if (
                origin.source is EndSource.CHIME
                and meeting.endSettlesAt is not None
                and meeting.endedAtSource is not EndSource.CHIME
            ):
                table.meeting = dataclasses.replace(
                    meeting, endedAt=ended_at_ms, endedAtSource=EndSource.CHIME
                )
            return table.meeting
        requested = meeting.requestedEndReason if honour_requested else None
        table.meeting = dataclasses.replace(
            meeting,
            status=MeetingStatus.ENDED,
            endReason=requested or reason,
            endedAt=ended_at_ms,
            connected=0,
            endedAtSource=origin.source,
            endNoticedBy=origin.noticed_by,
            endSettlesAt=origin.settles_at,
            requestedEndReason=requested,
        )
        for attendee_id, attendee in table.attendees.items():
            if attendee.presence is Presence.CONNECTED:
                table.attendees[attendee_id] = dataclasses.replace(
                    attendee, presence=Presence.LEFT, leftAt=ended_at_ms
                )
        return table.meeting


def settle(table: MemoryTable) -> MeetingRecord:
    """What the cleanup does once the settle window passed: the reason becomes final."""
    meeting = table.meeting
    if meeting.endSettlesAt is not None and meeting.endedAt is not None:
        reason, ended_at, source = settled_end(
            table.log,
            meeting.endReason or EndReason.UNKNOWN,
            meeting.endedAt,
            meeting.endedAtSource or EndSource.BACKEND,
            meeting.endNoticedBy,
        )
        table.meeting = dataclasses.replace(
            meeting, endReason=reason, endedAt=ended_at, endedAtSource=source, endSettlesAt=None
        )
    return table.meeting


def new_table(created_at: int, **overrides: Any) -> MemoryTable:
    meeting = MeetingRecord(
        meetingId=MEETING_ID,
        externalMeetingId="room-42",
        mediaRegion="us-east-1",
        hostUserId="alice",
        createdAt=created_at,
        **overrides,
    )
    return MemoryTable(meeting)


# The backend's clock only dates when a pending end settles: fixed, so runs compare equal.
BACKEND_NOW = 1_764_200_000_000


def service_for(table: MemoryTable) -> ChimeEventService:
    return ChimeEventService(
        MemoryActivityStore(table),
        MemoryMeetingStore(table),
        clock=lambda: BACKEND_NOW,
    )


def deliver(service: ChimeEventService, envelopes: Iterable[dict[str, Any]]) -> EventBatch:
    """One SQS batch of these envelopes, settled record by record as the handler does."""
    deliveries = [Delivery(f"m{i}", json.dumps(e)) for i, e in enumerate(envelopes)]
    batch = EventBatch(service, deliveries)
    for delivery in deliveries:
        batch.settle(delivery.message_id)
    return batch


def state_of(table: MemoryTable) -> tuple[MeetingRecord, dict[str, AttendeeRecord]]:
    """The state to compare. An attendee the API never recorded is added when the backend first
    sees it, so its `addedAt` (roster position) is the one field that depends on arrival."""
    attendees = {
        attendee_id: dataclasses.replace(attendee, addedAt=0)
        for attendee_id, attendee in sorted(table.attendees.items())
    }
    return table.meeting, attendees


def envelope(
    event_type: str,
    timestamp: int,
    attendee_id: str | None = None,
    external_user_id: str | None = None,
    meeting_id: str = MEETING_ID,
) -> dict[str, Any]:
    """A `Chime Meeting State Change` envelope as EventBridge delivers it."""
    detail: dict[str, Any] = {
        "version": "0",
        "eventType": event_type,
        "timestamp": timestamp,
        "meetingId": meeting_id,
        "externalMeetingId": "room-42",
        "mediaRegion": "us-east-1",
    }
    if attendee_id:
        detail |= {"attendeeId": attendee_id, "externalUserId": external_user_id or attendee_id}
        detail["networkType"] = "Voip"
    return {
        "version": "0",
        "id": f"{event_type}-{timestamp}-{attendee_id}",
        "source": deployment.CHIME_EVENT_SOURCE,
        "detail-type": deployment.CHIME_EVENT_DETAIL_TYPE,
        "account": "123456789012",
        "time": "2026-11-25T19:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
