"""A host or an admin provisions users into a meeting in one batch (no join tokens): each
user succeeds or fails on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meetings.domain import authorization
from meetings.domain.errors import (
    AttendeeRemovedError,
    ChimeResourceGoneError,
    ConflictError,
    DomainError,
    InvalidRequestError,
    MeetingEndedError,
)
from meetings.domain.identity import Identity, external_user_id_for
from meetings.domain.records import (
    AttendeeRecord,
    Capabilities,
    MeetingRecord,
    UserPointerRecord,
)
from meetings.domain.validation import capabilities_problem
from meetings.observability import logger
from meetings.service.ports import TransactionConflictError, TransactionRejectedError
from meetings.service.shared import MeetingUseCase


@dataclass(frozen=True, slots=True)
class ItemError:
    """Why one user of the batch was not provisioned."""

    user_id: str
    code: str
    message: str

    @classmethod
    def of(cls, user_id: str, error: DomainError) -> ItemError:
        return cls(user_id, error.code, error.message)


@dataclass(frozen=True, slots=True)
class Provisioned:
    attendees: list[AttendeeRecord] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


# (the attendee, None) or (None, the item's error)
_ItemAnswer = tuple[AttendeeRecord | None, ItemError | None]


class Provisioning(MeetingUseCase):
    def provision(
        self,
        identity: Identity,
        meeting_id: str,
        wanted: list[tuple[str, Capabilities | None]],
    ) -> Provisioned:
        """Host/admin pre-provisions users (no tokens in the answer)."""
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        meeting = authorization.managed_meeting(identity, meeting, pointer)
        if not meeting.status.is_open:
            raise MeetingEndedError()
        errors: list[ItemError] = []
        eligible = self._eligible_for_provisioning(meeting, wanted, errors)
        if not eligible:
            return Provisioned([], errors)
        pointers = self.store.get_pointers(meeting_id, list(eligible))
        for user_id in [user for user, pointer in pointers.items() if pointer.barred]:
            del eligible[user_id]
            errors.append(ItemError.of(user_id, AttendeeRemovedError()))
        requests = [
            (external_user_id_for(user_id), capabilities)
            for user_id, capabilities in eligible.items()
        ]
        if not requests:
            return Provisioned([], errors)
        try:
            created, failed = self.chime.batch_create_attendees(meeting_id, requests)
        except ChimeResourceGoneError as gone:
            self._mark_gone(meeting)
            raise MeetingEndedError() from gone
        users_by_external_id = {external_user_id_for(user): user for user in eligible}
        for failure in failed:
            errors.append(
                ItemError(
                    user_id=users_by_external_id.get(failure.get("ExternalUserId", ""), ""),
                    code=str(failure.get("ErrorCode", "UPSTREAM_ERROR")),
                    message=str(failure.get("ErrorMessage", "Chime refused this attendee")),
                )
            )
        attendees: list[AttendeeRecord] = []
        recorded = self.executor.map(
            lambda chime_attendee: self._record_provisioned(
                meeting,
                users_by_external_id[chime_attendee["ExternalUserId"]],
                chime_attendee,
                pointers.get(users_by_external_id[chime_attendee["ExternalUserId"]]),
            ),
            created,
        )
        for attendee, error in recorded:
            if attendee is not None:
                attendees.append(attendee)
            if error is not None:
                errors.append(error)
        return Provisioned(attendees, errors)

    @staticmethod
    def _eligible_for_provisioning(
        meeting: MeetingRecord,
        wanted: list[tuple[str, Capabilities | None]],
        errors: list[ItemError],
    ) -> dict[str, Capabilities | None]:
        eligible: dict[str, Capabilities | None] = {}
        for user_id, capabilities in wanted:
            problem = capabilities_problem(capabilities, meeting.features) if capabilities else None
            if user_id in eligible:
                problem = "listed more than once"
            if problem:
                errors.append(ItemError.of(user_id, InvalidRequestError(problem)))
            else:
                eligible[user_id] = capabilities
        return eligible

    def _record_provisioned(
        self,
        meeting: MeetingRecord,
        user_id: str,
        chime_attendee: dict[str, Any],
        previous: UserPointerRecord | None,
    ) -> _ItemAnswer:
        if previous is not None and previous.attendeeId == chime_attendee["AttendeeId"]:
            existing = self.store.get_attendee(meeting.meetingId, previous.attendeeId)
            if existing is not None:
                return existing, None
        attendee, pointer = self._new_attendee(
            meeting.meetingId, user_id, chime_attendee, self.clock()
        )
        pointer_before = previous.attendeeId if previous else None
        try:
            self.store.add_attendee(attendee, pointer, replaces_attendee_id=pointer_before)
        except Exception as failure:
            answer = self._provision_not_written(attendee, chime_attendee, pointer_before, failure)
            if answer is not None:
                return answer
        try:
            self._confirm_open(attendee)
        except MeetingEndedError as ended:
            return None, ItemError.of(user_id, ended)
        return attendee, None

    def _provision_not_written(
        self,
        attendee: AttendeeRecord,
        chime_attendee: dict[str, Any],
        pointer_before: str | None,
        failure: Exception,
    ) -> _ItemAnswer | None:
        """The item's answer after its write failed; None when the write committed all the
        same (its answer was lost) and the attendee is to be confirmed like a written one."""
        meeting_id, user_id = attendee.meetingId, attendee.userId
        if isinstance(failure, TransactionRejectedError | TransactionConflictError):
            current = self.store.get_pointer(meeting_id, user_id)
            if current is not None and current.attendeeId == attendee.attendeeId:
                return attendee, None  # an identical request recorded it
            if isinstance(failure, TransactionConflictError):
                # Nothing written; the Chime attendee is kept for the retry (as a join does).
                return None, ItemError.of(user_id, failure)
            self._undo_attendee(meeting_id, chime_attendee, keep=pointer_before)
            if current is not None and current.barred:
                return None, ItemError.of(user_id, AttendeeRemovedError())
            return None, ItemError.of(user_id, ConflictError("changed concurrently, retry"))
        # Any other failure (an outage, or a write DynamoDB refused): undo the Chime attendee
        # unless the write committed all the same, and report this item only.
        if self._undo_unless_recorded(meeting_id, chime_attendee, pointer_before):
            return None
        if not isinstance(failure, DomainError):
            logger.exception("provisioned attendee not recorded")
            failure = DomainError()
        return None, ItemError.of(user_id, failure)
