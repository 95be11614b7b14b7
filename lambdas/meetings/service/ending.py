"""Ending a meeting on request of its host or an admin."""

from __future__ import annotations

from meetings.domain import authorization
from meetings.domain.errors import DomainError, MeetingNotFoundError
from meetings.domain.identity import Identity
from meetings.domain.records import EndNoticer, EndReason, EndSource, MeetingRecord
from meetings.service.shared import MeetingUseCase


class EndingMeetings(MeetingUseCase):
    def end_meeting(self, identity: Identity, meeting_id: str) -> MeetingRecord:
        """Host or admin ends the meeting; repeating it answers with the ended meeting."""
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        meeting = authorization.managed_meeting(identity, meeting, pointer)
        if not meeting.status.is_open:
            return meeting
        ended: MeetingRecord | None
        if self.store.request_end(meeting_id, EndReason.HOST_ENDED) is None:
            ended = self.store.get_meeting(meeting_id)  # it ended meanwhile: its reason stays
        else:
            try:
                deleted = self.chime.delete_meeting(meeting_id)
            except DomainError:
                # No end happened (or none we know of): no host_ended may stay behind.
                self.store.withdraw_end_request(meeting_id, EndReason.HOST_ENDED)
                raise
            now = self.clock()
            if deleted:
                ended = self.store.end_meeting(
                    meeting_id,
                    EndReason.HOST_ENDED,
                    now,
                    origin=self.store.final_end(),
                    known=meeting,
                )
            else:
                # Chime had ended it already: not by the host. The reason waits for
                # settlement (the timeline's, or a late MeetingEnded's), `unknown` until then.
                ended = self.store.end_meeting(
                    meeting_id,
                    EndReason.UNKNOWN,
                    now,
                    origin=self.store.pending_end(EndSource.BACKEND, now, EndNoticer.API),
                    honour_requested=False,
                    known=meeting,
                )
        if ended is None:
            raise MeetingNotFoundError()
        return ended
