"""An attendee's life on the request path: joining, being removed, changing capabilities."""

from __future__ import annotations

from concurrent.futures import wait
from functools import partial
from typing import Any, Final

from meetings.domain import authorization
from meetings.domain.errors import (
    AttendeeNotFoundError,
    AttendeeRemovedError,
    ChimeResourceGoneError,
    ConflictError,
    DomainError,
    InvalidRequestError,
    MeetingEndedError,
    MeetingNotFoundError,
    NoAttendeeExcludedError,
)
from meetings.domain.identity import Identity, external_user_id_for
from meetings.domain.records import (
    AttendeeRecord,
    Capabilities,
    MeetingRecord,
    Presence,
    UserPointerRecord,
)
from meetings.domain.validation import capabilities_problem
from meetings.service.ports import TransactionConflictError, TransactionRejectedError
from meetings.service.shared import (
    CONTENT_SHARE_SUFFIX,
    Joined,
    MeetingUseCase,
    result_here_unless_started,
)

_REMOVE_ATTEMPTS: Final = 3


class Attending(MeetingUseCase):
    def join(self, identity: Identity, meeting_id: str) -> Joined:
        """The caller's session: created (201) if this call created the Chime attendee.

        CreateAttendee (idempotent on ExternalUserId) runs while the meeting record is read."""
        external_user_id = external_user_id_for(identity.user_id)
        create_attendee = partial(self.chime.create_attendee, meeting_id, external_user_id)
        created_in_chime = self.executor.submit(create_attendee)
        try:
            meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        except DomainError:
            # Not knowing the user's recorded attendee, undoing could end their live session.
            # A new attendee left behind is no ghost: the next join (same ExternalUserId) gets
            # it back from Chime and records it.
            if not created_in_chime.cancel():
                wait([created_in_chime])
            raise
        keep = pointer.attendeeId if pointer is not None else None
        try:
            chime_attendee = result_here_unless_started(created_in_chime, create_attendee)
        except ChimeResourceGoneError as gone:
            if meeting is None:
                raise MeetingNotFoundError() from gone
            if meeting.status.is_open:
                self._mark_gone(meeting)
            raise MeetingEndedError() from gone
        except DomainError:
            if meeting is None:
                raise MeetingNotFoundError() from None
            raise
        try:
            self._check_joinable(meeting, pointer)
        except DomainError:
            self._undo_attendee(meeting_id, chime_attendee, keep)
            raise
        assert meeting is not None  # _check_joinable raised otherwise
        if chime_attendee["AttendeeId"] == keep:
            return Joined(False, meeting.chimeMeeting, chime_attendee)
        return self._record_join(identity, meeting, chime_attendee, keep)

    @staticmethod
    def _check_joinable(meeting: MeetingRecord | None, pointer: UserPointerRecord | None) -> None:
        if meeting is None:
            raise MeetingNotFoundError()
        if not meeting.status.is_open:
            raise MeetingEndedError()
        authorization.may_join(pointer)

    def _record_join(
        self,
        identity: Identity,
        meeting: MeetingRecord,
        chime_attendee: dict[str, Any],
        previous_attendee_id: str | None,
    ) -> Joined:
        attendee, pointer = self._new_attendee(
            meeting.meetingId, identity.user_id, chime_attendee, self.clock()
        )
        again = Joined(False, meeting.chimeMeeting, chime_attendee)
        try:
            self.store.add_attendee(attendee, pointer, replaces_attendee_id=previous_attendee_id)
        except TransactionRejectedError as rejected:
            current = self.store.get_pointer(meeting.meetingId, identity.user_id)
            if current is not None and current.attendeeId == attendee.attendeeId:
                return again  # an identical join recorded it
            self._undo_attendee(meeting.meetingId, chime_attendee, keep=previous_attendee_id)
            if current is not None and current.barred:
                raise AttendeeRemovedError() from rejected
            raise ConflictError("joined concurrently, retry", retry_after=1) from rejected
        except TransactionConflictError:
            # Nothing was written. The Chime attendee stays: the user's retry gets it back
            # (same ExternalUserId) and records it, so a conflict never creates and deletes.
            current = self.store.get_pointer(meeting.meetingId, identity.user_id)
            if current is not None and current.attendeeId == attendee.attendeeId:
                return again
            raise
        except Exception:
            # As for a new meeting: the write may have committed with its answer lost, and
            # then the Chime attendee holds a recorded seat. Undo only what surely was not.
            if not self._undo_unless_recorded(
                meeting.meetingId, chime_attendee, previous_attendee_id
            ):
                raise
        self._confirm_open(attendee)
        return Joined(True, meeting.chimeMeeting, chime_attendee)

    def remove_attendee(self, identity: Identity, meeting_id: str, attendee_id: str) -> None:
        """The attendee itself leaves for good; host/admin removal also bars the user."""
        meeting, attendee = self._visible_attendee(identity, meeting_id, attendee_id)
        if not meeting.status.is_open:
            raise MeetingEndedError()
        bar = authorization.is_manager(identity, meeting) and attendee.userId != identity.user_id
        if bar:
            # The bar first: a join racing this removal either meets it (403, its new Chime
            # attendee undone) or got the old attendee back, which DeleteAttendee then ends.
            self.store.bar_user(attendee)
        if attendee.presence is not Presence.REMOVED:
            self.chime.delete_attendee(meeting_id, attendee_id)
        for _ in range(_REMOVE_ATTEMPTS):
            if attendee.presence is Presence.REMOVED:
                return
            try:
                self.store.remove_attendee(attendee, removed_at_ms=self.clock(), bar_user=False)
            except TransactionRejectedError:
                # Its presence changed meanwhile (an event): read it again and retry.
                fresh = self.store.get_attendee(meeting_id, attendee_id)
                if fresh is None:
                    raise AttendeeNotFoundError() from None
                attendee = fresh
                continue
            return
        raise ConflictError("the attendee keeps changing, retry", retry_after=1)

    def set_capabilities(
        self, identity: Identity, meeting_id: str, attendee_id: str, capabilities: Capabilities
    ) -> AttendeeRecord:
        meeting, attendee, pointer = self.store.get_attendee_context(
            meeting_id, attendee_id, identity.user_id
        )
        meeting = authorization.managed_meeting(identity, meeting, pointer)
        if attendee is None or attendee.externalUserId.endswith(CONTENT_SHARE_SUFFIX):
            raise AttendeeNotFoundError()
        if not meeting.status.is_open:
            raise MeetingEndedError()
        if attendee.presence is Presence.REMOVED:
            raise AttendeeNotFoundError("the attendee was removed")
        problem = capabilities_problem(capabilities, meeting.features)
        if problem:
            raise InvalidRequestError(
                problem, details=[{"field": "capabilities", "problem": problem}]
            )
        try:
            self.chime.update_attendee_capabilities(meeting_id, attendee_id, capabilities)
        except ChimeResourceGoneError as gone:
            if self.chime.get_meeting(meeting_id) is None:
                self._mark_gone(meeting)
                raise MeetingEndedError() from gone
            raise AttendeeNotFoundError() from gone
        try:
            return self.store.set_capabilities(meeting_id, attendee_id, capabilities)
        except TransactionRejectedError as rejected:
            raise AttendeeNotFoundError("the attendee was removed") from rejected

    def mute_all(
        self,
        identity: Identity,
        meeting_id: str,
        except_user_ids: list[str],
        capabilities: Capabilities,
    ) -> list[str]:
        """Every attendee but the caller's and the listed users' gets `capabilities` in one
        Chime call (BatchUpdateAttendeeCapabilitiesExcept); the attendee ids left alone."""
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        meeting = authorization.managed_meeting(identity, meeting, pointer)
        if not meeting.status.is_open:
            raise MeetingEndedError()
        problem = capabilities_problem(capabilities, meeting.features)
        if problem:
            raise InvalidRequestError(
                problem, details=[{"field": "capabilities", "problem": problem}]
            )
        users = sorted({identity.user_id, *except_user_ids})
        pointers = self.store.get_pointers(meeting_id, users)
        excluded = sorted({p.attendeeId for p in pointers.values()})
        if not excluded:
            # Chime needs at least one attendee to leave alone.
            raise NoAttendeeExcludedError()
        try:
            self.chime.update_capabilities_except(meeting_id, excluded, capabilities)
        except ChimeResourceGoneError as gone:
            self._mark_gone(meeting)
            raise MeetingEndedError() from gone
        return excluded
