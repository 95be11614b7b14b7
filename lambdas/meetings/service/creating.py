"""Creating a meeting: a new one, or join-or-create by room name, at most once per
Idempotency-Key. A create that joins hands the host's session back with the meeting."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from meetings.domain.errors import (
    ConflictError,
    DomainError,
    MeetingEndedError,
    UpstreamError,
    UserMeetingLimitError,
)
from meetings.domain.identity import Identity, external_user_id_for
from meetings.domain.records import (
    AttendeeRecord,
    EndNoticer,
    EndReason,
    EndSource,
    MeetingRecord,
    MeetingStatus,
    UserPointerRecord,
)
from meetings.domain.validation import (
    GENERATED_ROOM_PREFIX,
    attendee_limit,
    chime_meeting_features,
    request_token_for_key,
    request_token_for_room,
)
from meetings.service.attending import Attending
from meetings.service.ports import (
    ChimeMeetings,
    Clock,
    MeetingStore,
    OpenMeetingLimitError,
    RoomClaim,
    TransactionConflictError,
    TransactionRejectedError,
)
from meetings.service.shared import Joined, MeetingUseCase
from meetings.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.base import (
        BasePersistenceLayer,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Versioned with the stored form (`_stored`): a record of another form is never read back; its
# request runs again and lands on the same Chime meeting (the token derives from the key).
IDEMPOTENCY_KEY_PREFIX: Final = "create-meeting-v2"
# Room races resolve in one or two rounds; more means something keeps changing the room.
_ROOM_ATTEMPTS: Final = 5


@dataclass(frozen=True, slots=True)
class NewMeeting:
    """A validated POST /meetings body (handlers/api_models.py checks every rule)."""

    externalMeetingId: str | None = None  # noqa: N815 - the API's field names
    mediaRegion: str | None = None  # noqa: N815
    maxAttendees: int | None = None  # noqa: N815
    echoReduction: bool = False  # noqa: N815
    videoMaxResolution: str = "HD"  # noqa: N815
    contentMaxResolution: str = "FHD"  # noqa: N815
    maxDurationSeconds: int | None = None  # noqa: N815
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    join: bool = False
    # {"recording": options, "transcription": settings}: started with the first attendee.
    mediaOnStart: dict[str, Any] | None = None  # noqa: N815


@dataclass(frozen=True, slots=True)
class Created:
    """A create's answer: `created` tells 201 (a new meeting) from 200 (the room's open
    meeting, or a repeated request); `joined` is the host's session when the create joined."""

    created: bool
    meeting: MeetingRecord
    joined: Joined | None = None


class CreatingMeetings(MeetingUseCase):
    def __init__(
        self,
        *,
        attending: Attending,
        store: MeetingStore,
        chime: ChimeMeetings,
        settings: Settings,
        executor: Executor,
        clock: Clock,
        idempotency_records: Callable[[], BasePersistenceLayer],
    ) -> None:
        """`idempotency_records`: where idempotent creates keep their records, built on the
        first create with an Idempotency-Key."""
        super().__init__(
            store=store, chime=chime, settings=settings, executor=executor, clock=clock
        )
        self._attending = attending
        self._idempotency_records = idempotency_records
        self._idempotency_config: IdempotencyConfig | None = None
        self._create_once: Callable[..., dict[str, Any]] | None = None
        self._lambda_context: LambdaContext | None = None

    # Powertools' idempotency utility is imported only by a create with an Idempotency-Key:
    # most cold starts never need it.

    @property
    def idempotency_config(self) -> IdempotencyConfig:
        if self._idempotency_config is None:
            from meetings.service.idempotency import idempotency_config  # noqa: PLC0415

            self._idempotency_config = idempotency_config(self.settings.idempotency_ttl_seconds)
        return self._idempotency_config

    def start_invocation(self, context: LambdaContext) -> None:
        """Remember this invocation's context: an idempotent create registers it, so an
        in-progress record expires with the invocation's remaining time."""
        self._lambda_context = context

    def create_meeting(
        self, identity: Identity, spec: NewMeeting, idempotency_key: str | None
    ) -> Created:
        if idempotency_key is None:
            outcome = self._create(identity.user_id, spec, None)
        else:
            outcome = self._create_idempotently(identity.user_id, spec, idempotency_key)
        return self._with_fresh_join_token(identity, outcome)

    def _create_idempotently(self, user_id: str, spec: NewMeeting, key: str) -> Created:
        from meetings.service import idempotency  # noqa: PLC0415 - see idempotency_config

        request = {"caller": user_id, "key": key, "spec": spec_fields(spec)}
        if self._lambda_context is not None:
            self.idempotency_config.register_lambda_context(self._lambda_context)
        with idempotency.as_domain_errors():
            answer = self._idempotent_create()(request=request)
        return _created_from_stored(answer)

    def _idempotent_create(self) -> Callable[..., dict[str, Any]]:
        if self._create_once is None:
            from meetings.service import idempotency  # noqa: PLC0415 - see idempotency_config

            def create_from_request(request: dict[str, Any]) -> dict[str, Any]:
                spec = NewMeeting(**request["spec"])
                return _stored(self._create(request["caller"], spec, request["key"]))

            self._create_once = idempotency.once_per_key(
                create_from_request,
                config=self.idempotency_config,
                persistence=self._idempotency_records(),
                key_prefix=IDEMPOTENCY_KEY_PREFIX,
            )
        return self._create_once

    def _with_fresh_join_token(self, identity: Identity, outcome: Created) -> Created:
        """A replayed create with `join` carries no token (never stored): ask Chime again."""
        if outcome.joined is None or outcome.joined.chime_attendee.get("JoinToken"):
            return outcome
        joined = self._attending.join(identity, outcome.meeting.meetingId)
        return dataclasses.replace(outcome, joined=joined)

    def _create(self, user_id: str, spec: NewMeeting, key: str | None) -> Created:
        if spec.externalMeetingId is not None:
            return self._join_or_create_room(user_id, spec)
        room_name = f"{GENERATED_ROOM_PREFIX}{uuid.uuid4()}"
        token = request_token_for_key(user_id, key) if key else f"new-{uuid.uuid4().hex}"
        outcome = self._create_in_chime(user_id, spec, room_name, token, claim=None)
        if outcome is None:
            raise ConflictError("the meeting could not be recorded, retry", retry_after=1)
        return outcome

    def _join_or_create_room(self, user_id: str, spec: NewMeeting) -> Created:
        room_name = str(spec.externalMeetingId)
        for _ in range(_ROOM_ATTEMPTS):
            claim = self.store.get_room(room_name)
            holder = self.store.get_meeting(claim.meetingId) if claim.meetingId else None
            if claim.meetingId and holder is None:
                continue  # the holder's records are being written: look again
            if holder is not None and holder.status.is_open:
                outcome = self._existing_room_meeting(user_id, holder, spec.join)
                if outcome is not None:
                    return outcome
                continue  # it had ended in Chime: the room is free now
            token = request_token_for_room(
                room_name, claim.generation + 1, chime_request_fingerprint(user_id, spec)
            )
            outcome = self._create_in_chime(user_id, spec, room_name, token, claim=claim)
            if outcome is not None:
                return outcome
        raise ConflictError("the room is changing hands, retry", retry_after=1)

    def _existing_room_meeting(
        self, user_id: str, meeting: MeetingRecord, join: bool
    ) -> Created | None:
        """The room's open meeting (200), checked against Chime: None if Chime ended it."""
        identity = Identity(user_id=user_id, groups=frozenset(), is_admin=False)
        if join:
            try:
                joined = self._attending.join(identity, meeting.meetingId)
            except MeetingEndedError:
                return None
            return Created(created=False, meeting=meeting, joined=joined)
        if self.chime.get_meeting(meeting.meetingId) is None:
            self._mark_gone(meeting)
            return None
        return Created(created=False, meeting=meeting)

    def _create_in_chime(
        self,
        user_id: str,
        spec: NewMeeting,
        room_name: str,
        token: str,
        *,
        claim: RoomClaim | None,
    ) -> Created | None:
        """None: another meeting took the room first (ours was undone); look again."""
        features = chime_meeting_features(
            echo_reduction=spec.echoReduction,
            video_max_resolution=spec.videoMaxResolution,
            content_max_resolution=spec.contentMaxResolution,
            max_attendees=spec.maxAttendees
            or attendee_limit(spec.videoMaxResolution, spec.contentMaxResolution),
        )
        external_user_id = external_user_id_for(user_id)
        chime_meeting, chime_attendees, errors = self.chime.create_meeting(
            client_request_token=token,
            external_meeting_id=room_name,
            media_region=spec.mediaRegion or self.settings.default_media_region,
            meeting_features=features,
            tags=spec.tags,
            attendees=[{"ExternalUserId": external_user_id}] if spec.join else None,
        )
        if spec.join and not chime_attendees:
            self.chime.delete_meeting(chime_meeting["MeetingId"])
            code = errors[0].get("ErrorCode", "unknown") if errors else "unknown"
            raise UpstreamError(f"Chime created the meeting without its host attendee ({code})")
        now = self.clock()
        record = MeetingRecord(
            meetingId=chime_meeting["MeetingId"],
            externalMeetingId=room_name,
            mediaRegion=chime_meeting.get("MediaRegion", spec.mediaRegion or ""),
            hostUserId=user_id,
            createdAt=now,
            maxAttendees=features["Attendee"]["MaxCount"],
            maxDurationSeconds=spec.maxDurationSeconds,
            features=features,
            tags=dict(spec.tags),
            chimeMeeting=chime_meeting,
            attendeeTotal=1 if spec.join else 0,
            mediaOnStart=spec.mediaOnStart,
        )
        first = None
        if spec.join:
            first = self._new_attendee(record.meetingId, user_id, chime_attendees[0], now)
        return self._record_new_meeting(record, claim, first, chime_attendees)

    def _record_new_meeting(
        self,
        record: MeetingRecord,
        claim: RoomClaim | None,
        first: tuple[AttendeeRecord, UserPointerRecord] | None,
        chime_attendees: list[dict[str, Any]],
    ) -> Created | None:
        try:
            self.store.create_meeting(
                record,
                room=claim,
                first_attendee=first,
                open_meetings_cap=self.settings.max_open_meetings_per_user,
            )
        except OpenMeetingLimitError as over_cap:
            # The cap is checked by the same write that records the meeting (no read of its
            # own), so the rare refused create undoes its Chime meeting.
            self.chime.delete_meeting(record.meetingId)
            raise UserMeetingLimitError() from over_cap
        except TransactionRejectedError as rejected:
            return self._after_rejected_create(record, claim, rejected, chime_attendees)
        except Exception as failure:
            if claim is not None and isinstance(failure, TransactionConflictError):
                # Nothing was written: another create's transaction on the room was in
                # flight. As when it took the room first: look at the room again.
                return self._after_rejected_create(record, claim, failure, chime_attendees)
            # A write whose answer was lost may have committed all the same: undoing the Chime
            # meeting then would leave a ghost record. Undo only what surely was not recorded.
            recorded = self._recorded(record.meetingId)
            if recorded is False:
                self.chime.delete_meeting(record.meetingId)
            if not recorded:
                raise
        return _answer(True, record, chime_attendees)

    def _recorded(self, meeting_id: str) -> bool | None:
        """Whether the meeting's record exists; None when the table cannot tell. Then the
        Chime meeting is kept: unjoined, Chime ends it within 5 minutes, while a deleted
        meeting under a committed record would be a ghost until reconciled."""
        try:
            return self.store.get_meeting(meeting_id) is not None
        except DomainError:
            return None

    def _after_rejected_create(
        self,
        record: MeetingRecord,
        claim: RoomClaim | None,
        rejected: TransactionRejectedError | TransactionConflictError,
        chime_attendees: list[dict[str, Any]],
    ) -> Created | None:
        """An identical request (same Chime token) recorded this meeting first: answer as it
        did. Another meeting took the room: undo ours and let the caller look again (None)."""
        # Our meeting item exists only if an identical request (same token, so the same Chime
        # meeting) wrote it in its own transaction: never undo that one.
        stored = self.store.get_meeting(record.meetingId)
        if stored is not None:
            return _answer(False, stored, chime_attendees)
        self.chime.delete_meeting(record.meetingId)
        return None


def _answer(
    created: bool, meeting: MeetingRecord, chime_attendees: list[dict[str, Any]]
) -> Created:
    if not chime_attendees:
        return Created(created, meeting)
    return Created(created, meeting, Joined(created, meeting.chimeMeeting, chime_attendees[0]))


def spec_fields(spec: NewMeeting) -> dict[str, Any]:
    """The spec as an idempotency record and a fingerprint hash it. Without media options
    it is the same dict as before they existed, so requests in flight across a deployment
    keep their records."""
    fields = dataclasses.asdict(spec)
    if fields["mediaOnStart"] is None:
        del fields["mediaOnStart"]
    return fields


def chime_request_fingerprint(user_id: str, spec: NewMeeting) -> str:
    """What the Chime create call depends on, and who asks: two callers never share a Chime
    meeting, so an undo (the cap refused the caller, another meeting took the room) only
    ever deletes the caller's own meeting, never one another caller is handed. The same
    caller repeating the request lands on the same Chime meeting."""
    request = {"spec": spec_fields(spec), "caller": user_id}
    return json.dumps(request, sort_keys=True, default=str)


# --- what an idempotency record holds: the first answer's records (service/idempotency.py
# drops the JoinToken before it is stored) -----------------------------------------------------

_MEETING_ENUMS: Final[dict[str, type[StrEnum]]] = {
    "status": MeetingStatus,
    "endReason": EndReason,
    "requestedEndReason": EndReason,
    "endedAtSource": EndSource,
    "endNoticedBy": EndNoticer,
}


def _stored(outcome: Created) -> dict[str, Any]:
    attendee = outcome.joined.chime_attendee if outcome.joined is not None else None
    return {
        "created": outcome.created,
        "meeting": dataclasses.asdict(outcome.meeting),
        "attendee": attendee,
    }


def _created_from_stored(answer: dict[str, Any]) -> Created:
    fields: dict[str, Any] = {
        name: _MEETING_ENUMS[name](value) if name in _MEETING_ENUMS and value is not None else value
        for name, value in answer["meeting"].items()
    }
    meeting = MeetingRecord(**fields)
    attendees = [answer["attendee"]] if answer["attendee"] is not None else []
    return _answer(bool(answer["created"]), meeting, attendees)
