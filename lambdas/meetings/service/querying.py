"""The reads: a meeting, the meetings a caller may list, a roster, an attendee. Each checks
who may see what (domain.authorization) on the records just read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from meetings.domain import authorization, pagination
from meetings.domain.identity import Identity
from meetings.domain.records import AttendeeRecord, MeetingRecord
from meetings.service.ports import PageRequest
from meetings.service.shared import CONTENT_SHARE_SUFFIX, MeetingUseCase

RecordT = TypeVar("RecordT")


@dataclass(frozen=True, slots=True)
class Page(Generic[RecordT]):
    """One page of a listing; `next_token` continues it (None: the last page)."""

    records: list[RecordT]
    next_token: str | None


class MeetingQueries(MeetingUseCase):
    def get_meeting(self, identity: Identity, meeting_id: str) -> MeetingRecord:
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        return authorization.visible_meeting(identity, meeting, pointer)

    def list_meetings(
        self,
        identity: Identity,
        *,
        host_user_id: str | None,
        status: str | None,
        limit: int,
        next_token: str | None,
    ) -> Page[MeetingRecord]:
        now = self.clock()
        all_open = identity.is_admin and host_user_id is None and status == "open"
        host = host_user_id or identity.user_id
        authorization.may_list_host(identity, host)
        binding = pagination.query_binding(
            identity.user_id, host=None if all_open else host, status=status
        )
        page = PageRequest(limit=limit, token=next_token, binding=binding, now=now)
        if all_open:
            records, token = self.store.list_open(status_filter=None, page=page)
        else:
            records, token = self.store.list_hosted(host, status_filter=status, page=page)
        return Page(records, token)

    def roster(
        self, identity: Identity, meeting_id: str, *, limit: int, next_token: str | None
    ) -> Page[AttendeeRecord]:
        now = self.clock()
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        authorization.visible_meeting(identity, meeting, pointer)
        binding = pagination.query_binding(identity.user_id, roster=meeting_id)
        page = PageRequest(limit=limit, token=next_token, binding=binding, now=now)
        records, token = self.store.list_roster(meeting_id, page=page)
        attendees = [
            record for record in records if not record.externalUserId.endswith(CONTENT_SHARE_SUFFIX)
        ]
        return Page(attendees, token)

    def get_attendee(self, identity: Identity, meeting_id: str, attendee_id: str) -> AttendeeRecord:
        _, attendee = self._visible_attendee(identity, meeting_id, attendee_id)
        return attendee
