"""The reads: a meeting, the meetings a caller may list, a roster, an attendee. Each checks
who may see what (domain.authorization) on the records just read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from meetings import deployment
from meetings.adapters import keys
from meetings.domain import authorization, pagination
from meetings.domain.identity import Identity
from meetings.domain.records import AttendeeRecord, MeetingRecord
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
        if all_open:
            start = _page_start(
                next_token,
                binding,
                now,
                index_keys=(deployment.OPEN_INDEX_PK, deployment.OPEN_INDEX_SK),
                partition=(deployment.OPEN_INDEX_PK, keys.OPEN_PARTITION),
            )
            records, last = self.store.list_open(status_filter=None, limit=limit, start_key=start)
        else:
            start = _page_start(
                next_token,
                binding,
                now,
                index_keys=(deployment.HOST_INDEX_PK, deployment.HOST_INDEX_SK),
                partition=(deployment.HOST_INDEX_PK, keys.host_pk(host)),
            )
            records, last = self.store.list_hosted(
                host, status_filter=status, limit=limit, start_key=start
            )
        return Page(records, pagination.encode_token(last, binding, now))

    def roster(
        self, identity: Identity, meeting_id: str, *, limit: int, next_token: str | None
    ) -> Page[AttendeeRecord]:
        now = self.clock()
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        authorization.visible_meeting(identity, meeting, pointer)
        binding = pagination.query_binding(identity.user_id, roster=meeting_id)
        start = _page_start(
            next_token,
            binding,
            now,
            index_keys=(deployment.ROSTER_INDEX_SK,),
            partition=(deployment.PARTITION_KEY, keys.meeting_pk(meeting_id)),
        )
        records, last = self.store.list_roster(meeting_id, limit=limit, start_key=start)
        attendees = [
            record for record in records if not record.externalUserId.endswith(CONTENT_SHARE_SUFFIX)
        ]
        return Page(attendees, pagination.encode_token(last, binding, now))

    def get_attendee(self, identity: Identity, meeting_id: str, attendee_id: str) -> AttendeeRecord:
        _, attendee = self._visible_attendee(identity, meeting_id, attendee_id)
        return attendee


def _page_start(
    next_token: str | None,
    binding: str,
    now: int,
    *,
    index_keys: tuple[str, ...],
    partition: tuple[str, str],
) -> dict[str, str] | None:
    """The start key a page token carries. A query's start keys hold the table's key and its
    index's keys; `partition` (attribute, value) is the one the query reads."""
    attribute, value = partition
    return pagination.decode_token(
        next_token,
        binding,
        now,
        key_names=frozenset({deployment.PARTITION_KEY, deployment.SORT_KEY, *index_keys}),
        fixed={attribute: value},
    )
