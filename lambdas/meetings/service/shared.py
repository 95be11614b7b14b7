"""What the request-path use cases share: their dependencies, the records they answer with, and
the steps more than one of them takes (record a new attendee, undo a Chime attendee, notice
a meeting Chime ended).

Ordering rule for every use case that creates something in Chime: Chime first (it is
idempotent on the token we derive), then one conditional write; if that write fails for any
reason other than "an identical request already recorded it", the Chime side is undone, so
nothing is orphaned and no seat is held by a ghost. A failure without a clear answer may have
committed all the same: then the record is read first, and only a surely absent one undone.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from meetings.domain import authorization
from meetings.domain.errors import DomainError, MeetingEndedError
from meetings.domain.identity import Identity
from meetings.domain.records import (
    AttendeeRecord,
    EndNoticer,
    EndReason,
    EndSource,
    MeetingRecord,
    UserPointerRecord,
)
from meetings.service.ports import ChimeMeetings, Clock, MeetingStore
from meetings.settings import Settings

CONTENT_SHARE_SUFFIX: Final = "#content"
ResultT = TypeVar("ResultT")


def result_here_unless_started(future: Future[ResultT], call: Callable[[], ResultT]) -> ResultT:
    """The result of work submitted to run beside the caller's own call: made here instead
    when no worker has started it yet.

    The overlap pays while the caller's call waits on the network: a worker starts the work
    then. When the caller's call returned before any worker ran (the GIL was never released,
    a busy container), waiting would only add two thread wake-ups to the request."""
    if future.cancel():
        return call()
    return future.result()


@dataclass(frozen=True, slots=True)
class Joined:
    """The caller's session as the Chime client libraries take it (Chime's Meeting and
    Attendee objects); `created` tells a new attendee (201) from the caller's own (200)."""

    created: bool
    chime_meeting: dict[str, Any]
    chime_attendee: dict[str, Any]


class MeetingUseCase:
    """The dependencies of a request-path use case. `clock` is read at each call: whoever
    replaces the container's clock (wiring) is heard by services built before."""

    def __init__(
        self,
        *,
        store: MeetingStore,
        chime: ChimeMeetings,
        settings: Settings,
        executor: Executor,
        clock: Clock,
    ) -> None:
        self.store = store
        self.chime = chime
        self.settings = settings
        self.executor = executor
        self.clock = clock

    def _new_attendee(
        self, meeting_id: str, user_id: str, chime_attendee: dict[str, Any], now: int
    ) -> tuple[AttendeeRecord, UserPointerRecord]:
        attendee = AttendeeRecord(
            attendeeId=chime_attendee["AttendeeId"],
            meetingId=meeting_id,
            userId=user_id,
            externalUserId=chime_attendee["ExternalUserId"],
            addedAt=now,
            capabilities=self.chime.capabilities_of(chime_attendee),
        )
        pointer = UserPointerRecord(
            meetingId=meeting_id,
            userId=user_id,
            attendeeId=attendee.attendeeId,
            externalUserId=attendee.externalUserId,
        )
        return attendee, pointer

    def _mark_gone(self, meeting: MeetingRecord) -> None:
        """Chime says NotFound for a meeting our record thinks open: it ended in Chime. Only
        our clock dates the end, so the reason waits for settlement: a late chime:MeetingEnded
        gives the instant it is inferred against (docs/events.md)."""
        now = self.clock()
        origin = self.store.pending_end(EndSource.BACKEND, now, EndNoticer.API)
        self.store.end_meeting(
            meeting.meetingId, EndReason.UNKNOWN, now, origin=origin, known=meeting
        )

    def _confirm_open(self, attendee: AttendeeRecord) -> None:
        """After a new attendee is recorded: count it, which also confirms the meeting had not
        ended once the attendee was written (store.count_attendee). If it had, the end may
        have read the partition before this attendee existed: the attendee is closed here
        (the end's TTL) and the answer is 410; Chime ends (or has ended) the meeting and the
        attendee with it, so nothing is undone in Chime."""
        try:
            still_open = self.store.count_attendee(attendee.meetingId)
        except DomainError:
            # The increment is lost (the end recounts); the meeting must still be checked.
            read = self.store.get_meeting(attendee.meetingId)
            still_open = read is not None and read.status.is_open
        if not still_open:
            self.store.close_attendee(attendee, self.clock())
            raise MeetingEndedError()

    def _undo_unless_recorded(
        self, meeting_id: str, chime_attendee: dict[str, Any], keep: str | None
    ) -> bool:
        """After an attendee write failed without a clear answer: True when it committed
        all the same. Otherwise the Chime attendee is undone if surely unrecorded, and kept
        when the table cannot tell (the user's next join gets it back from Chime, same
        ExternalUserId, and records it)."""
        try:
            recorded = self.store.get_attendee(meeting_id, chime_attendee["AttendeeId"])
        except DomainError:
            return False
        if recorded is None:
            self._undo_attendee(meeting_id, chime_attendee, keep)
            return False
        return True

    def _visible_attendee(
        self, identity: Identity, meeting_id: str, attendee_id: str
    ) -> tuple[MeetingRecord, AttendeeRecord]:
        meeting, attendee, pointer = self.store.get_attendee_context(
            meeting_id, attendee_id, identity.user_id
        )
        if attendee is not None and attendee.externalUserId.endswith(CONTENT_SHARE_SUFFIX):
            attendee = None
        return authorization.visible_attendee(identity, meeting, attendee, pointer)

    def _undo_attendee(
        self, meeting_id: str, chime_attendee: dict[str, Any], keep: str | None
    ) -> None:
        """Delete an attendee this request made in Chime, never the user's recorded one."""
        if chime_attendee.get("AttendeeId") != keep:
            self.chime.delete_attendee(meeting_id, chime_attendee["AttendeeId"])
