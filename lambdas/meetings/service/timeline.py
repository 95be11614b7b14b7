"""A meeting's timeline and the explanation of its end, for its host or an admin (the
console's meeting page): one read of the meeting and its pointer for the authorization, one
consistent read of its activity log and attendees, both bounded by the meeting's size."""

from __future__ import annotations

from typing import Any

from meetings.domain import authorization
from meetings.domain.errors import MeetingNotFoundError
from meetings.domain.identity import Identity
from meetings.domain.timeline import Timeline, build_timeline
from meetings.service.ports import ActivityStore
from meetings.service.shared import CONTENT_SHARE_SUFFIX, MeetingUseCase


class MeetingTimelines(MeetingUseCase):
    def __init__(self, *, activity: ActivityStore, **base: Any) -> None:
        super().__init__(**base)
        self.activity = activity

    def timeline(self, identity: Identity, meeting_id: str) -> Timeline:
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        authorization.managed_meeting(identity, meeting, pointer)
        snapshot = self.activity.read(meeting_id, (), every_attendee=True)
        if snapshot is None:  # gone since (its TTL expired between the two reads)
            raise MeetingNotFoundError()
        people = [
            attendee
            for attendee in snapshot.attendees.values()
            if attendee is not None and not attendee.externalUserId.endswith(CONTENT_SHARE_SUFFIX)
        ]
        return build_timeline(snapshot.meeting, snapshot.log, people)
