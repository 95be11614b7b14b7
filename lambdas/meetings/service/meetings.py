"""The request-path use cases: create, list, read, end, join, provision, roster, remove,
capabilities. Authorization happens here (domain.authorization), on the records just read.

Ordering rule for every use case that creates something in Chime: Chime first (it is
idempotent on the token we derive), then one conditional write; if that write fails for any
reason other than "an identical request already recorded it", the Chime side is undone, so
nothing is orphaned and no seat is held by a ghost. A failure without a clear answer may have
committed all the same: then the record is read first, and only a surely absent one undone.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from meetings.domain import authorization, pagination
from meetings.domain.errors import (
    AttendeeNotFoundError,
    AttendeeRemovedError,
    ChimeResourceGoneError,
    ConflictError,
    DomainError,
    InvalidRequestError,
    MeetingEndedError,
    MeetingNotFoundError,
    UpstreamError,
    UserMeetingLimitError,
)
from meetings.domain.identity import Identity, external_user_id_for
from meetings.domain.records import (
    AttendeeRecord,
    Capabilities,
    Capability,
    EndNoticer,
    EndReason,
    EndSource,
    MeetingRecord,
    Presence,
    UserPointerRecord,
)
from meetings.domain.validation import (
    GENERATED_ROOM_PREFIX,
    attendee_limit,
    capabilities_problem,
    chime_meeting_features,
    request_token_for_key,
    request_token_for_room,
)
from meetings.domain.views import attendee_view, join_info, meeting_view
from meetings.observability import logger
from meetings.service.ports import (
    ChimeMeetings,
    Clock,
    MeetingStore,
    OpenMeetingLimitError,
    PageRequest,
    RoomClaim,
    TransactionConflictError,
    TransactionRejectedError,
)
from meetings.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext

IDEMPOTENCY_KEY_PREFIX: Final = "create-meeting"
# Room races resolve in one or two rounds; more means something keeps changing the room.
_ROOM_ATTEMPTS: Final = 5
_REMOVE_ATTEMPTS: Final = 3
CONTENT_SHARE_SUFFIX: Final = "#content"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


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


@dataclass(frozen=True, slots=True)
class Outcome:
    """A use case's answer: `created` tells 201 from 200; `body` is the response body."""

    created: bool
    body: dict[str, Any]


def chime_capabilities(capabilities: Capabilities) -> dict[str, str]:
    return {
        "Audio": str(capabilities.audio),
        "Video": str(capabilities.video),
        "Content": str(capabilities.content),
    }


def capabilities_from_chime(raw: dict[str, str] | None) -> Capabilities:
    raw = raw or {}
    return Capabilities(
        audio=Capability(raw.get("Audio", Capability.SEND_RECEIVE)),
        video=Capability(raw.get("Video", Capability.SEND_RECEIVE)),
        content=Capability(raw.get("Content", Capability.SEND_RECEIVE)),
    )


class MeetingService:
    def __init__(
        self,
        *,
        store: MeetingStore,
        chime: ChimeMeetings,
        settings: Settings,
        executor: Executor,
        idempotency_store: DynamoDBPersistenceLayer | None = None,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.store = store
        self.chime = chime
        self.settings = settings
        self.executor = executor
        self.clock = clock
        self._idempotency_store = idempotency_store
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

    # --- create ----------------------------------------------------------------------------

    def create_meeting(
        self, identity: Identity, spec: NewMeeting, idempotency_key: str | None
    ) -> Outcome:
        if idempotency_key is None:
            outcome = self._create(identity.user_id, spec, None)
        else:
            outcome = self._create_idempotently(identity.user_id, spec, idempotency_key)
        return self._with_fresh_join_token(identity, outcome)

    def _create_idempotently(self, user_id: str, spec: NewMeeting, key: str) -> Outcome:
        from meetings.service import idempotency  # noqa: PLC0415 - see idempotency_config

        request = {"caller": user_id, "key": key, "spec": dataclasses.asdict(spec)}
        if self._lambda_context is not None:
            self.idempotency_config.register_lambda_context(self._lambda_context)
        with idempotency.as_domain_errors():
            answer = self._idempotent_create()(request=request)
        return Outcome(created=bool(answer["created"]), body=answer["body"])

    def _idempotent_create(self) -> Callable[..., dict[str, Any]]:
        if self._create_once is None:
            from meetings.service import idempotency  # noqa: PLC0415 - see idempotency_config

            def create_from_request(request: dict[str, Any]) -> dict[str, Any]:
                spec = NewMeeting(**request["spec"])
                outcome = self._create(request["caller"], spec, request["key"])
                return {"created": outcome.created, "body": outcome.body}

            self._create_once = idempotency.once_per_key(
                create_from_request,
                config=self.idempotency_config,
                persistence=self._idempotency_store
                or idempotency.persistence_layer(self.settings.table_name, self.store.client),
                key_prefix=IDEMPOTENCY_KEY_PREFIX,
            )
        return self._create_once

    def _with_fresh_join_token(self, identity: Identity, outcome: Outcome) -> Outcome:
        """A replayed create with `join` carries no token (never stored): ask Chime again."""
        attendee = (outcome.body.get("joinInfo") or {}).get("Attendee")
        if attendee is None or attendee.get("JoinToken"):
            return outcome
        joined = self.join(identity, outcome.body["meeting"]["meetingId"])
        return Outcome(created=outcome.created, body={**outcome.body, "joinInfo": joined.body})

    def _create(self, user_id: str, spec: NewMeeting, key: str | None) -> Outcome:
        if spec.externalMeetingId is not None:
            return self._join_or_create_room(user_id, spec)
        room_name = f"{GENERATED_ROOM_PREFIX}{uuid.uuid4()}"
        token = request_token_for_key(user_id, key) if key else f"new-{uuid.uuid4().hex}"
        outcome = self._create_in_chime(user_id, spec, room_name, token, claim=None)
        if outcome is None:
            raise ConflictError("the meeting could not be recorded, retry", retry_after=1)
        return outcome

    def _join_or_create_room(self, user_id: str, spec: NewMeeting) -> Outcome:
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
                room_name, claim.generation + 1, _chime_request_fingerprint(user_id, spec)
            )
            outcome = self._create_in_chime(user_id, spec, room_name, token, claim=claim)
            if outcome is not None:
                return outcome
        raise ConflictError("the room is changing hands, retry", retry_after=1)

    def _existing_room_meeting(
        self, user_id: str, meeting: MeetingRecord, join: bool
    ) -> Outcome | None:
        """The room's open meeting (200), checked against Chime: None if Chime ended it."""
        identity = Identity(user_id=user_id, groups=frozenset(), is_admin=False)
        if join:
            try:
                joined = self.join(identity, meeting.meetingId)
            except MeetingEndedError:
                return None
            return Outcome(
                created=False, body={"meeting": meeting_view(meeting), "joinInfo": joined.body}
            )
        if self.chime.get_meeting(meeting.meetingId) is None:
            self._mark_gone(meeting)
            return None
        return Outcome(created=False, body={"meeting": meeting_view(meeting)})

    def _create_in_chime(
        self,
        user_id: str,
        spec: NewMeeting,
        room_name: str,
        token: str,
        *,
        claim: RoomClaim | None,
    ) -> Outcome | None:
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
    ) -> Outcome | None:
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
        body: dict[str, Any] = {"meeting": meeting_view(record)}
        if chime_attendees:
            body["joinInfo"] = join_info(record.chimeMeeting, chime_attendees[0])
        return Outcome(created=True, body=body)

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
    ) -> Outcome | None:
        """An identical request (same Chime token) recorded this meeting first: answer as it
        did. Another meeting took the room: undo ours and let the caller look again (None)."""
        # Our meeting item exists only if an identical request (same token, so the same Chime
        # meeting) wrote it in its own transaction: never undo that one.
        stored = self.store.get_meeting(record.meetingId)
        if stored is not None:
            body: dict[str, Any] = {"meeting": meeting_view(stored)}
            if chime_attendees:
                body["joinInfo"] = join_info(stored.chimeMeeting, chime_attendees[0])
            return Outcome(created=False, body=body)
        self.chime.delete_meeting(record.meetingId)
        return None

    def _new_attendee(
        self, meeting_id: str, user_id: str, chime_attendee: dict[str, Any], now: int
    ) -> tuple[AttendeeRecord, UserPointerRecord]:
        attendee = AttendeeRecord(
            attendeeId=chime_attendee["AttendeeId"],
            meetingId=meeting_id,
            userId=user_id,
            externalUserId=chime_attendee["ExternalUserId"],
            addedAt=now,
            capabilities=capabilities_from_chime(chime_attendee.get("Capabilities")),
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

    # --- reads -----------------------------------------------------------------------------

    def get_meeting(self, identity: Identity, meeting_id: str) -> dict[str, Any]:
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        return {"meeting": meeting_view(authorization.visible_meeting(identity, meeting, pointer))}

    def list_meetings(
        self,
        identity: Identity,
        *,
        host_user_id: str | None,
        status: str | None,
        limit: int,
        next_token: str | None,
    ) -> dict[str, Any]:
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
        return {
            "meetings": [meeting_view(record) for record in records],
            "nextToken": token,
        }

    def roster(
        self, identity: Identity, meeting_id: str, *, limit: int, next_token: str | None
    ) -> dict[str, Any]:
        now = self.clock()
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        authorization.visible_meeting(identity, meeting, pointer)
        binding = pagination.query_binding(identity.user_id, roster=meeting_id)
        page = PageRequest(limit=limit, token=next_token, binding=binding, now=now)
        records, token = self.store.list_roster(meeting_id, page=page)
        return {
            "attendees": [
                attendee_view(record)
                for record in records
                if not record.externalUserId.endswith(CONTENT_SHARE_SUFFIX)
            ],
            "nextToken": token,
        }

    def get_attendee(self, identity: Identity, meeting_id: str, attendee_id: str) -> dict[str, Any]:
        _, attendee = self._visible_attendee(identity, meeting_id, attendee_id)
        return {"attendee": attendee_view(attendee)}

    def _visible_attendee(
        self, identity: Identity, meeting_id: str, attendee_id: str
    ) -> tuple[MeetingRecord, AttendeeRecord]:
        meeting, attendee, pointer = self.store.get_attendee_context(
            meeting_id, attendee_id, identity.user_id
        )
        if attendee is not None and attendee.externalUserId.endswith(CONTENT_SHARE_SUFFIX):
            attendee = None
        return authorization.visible_attendee(identity, meeting, attendee, pointer)

    # --- end -------------------------------------------------------------------------------

    def end_meeting(self, identity: Identity, meeting_id: str) -> dict[str, Any]:
        """Host or admin ends the meeting; repeating it answers with the ended meeting."""
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        meeting = authorization.managed_meeting(identity, meeting, pointer)
        if not meeting.status.is_open:
            return {"meeting": meeting_view(meeting)}
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
        return {"meeting": meeting_view(ended)}

    # --- join ------------------------------------------------------------------------------

    def join(self, identity: Identity, meeting_id: str) -> Outcome:
        """The caller's JoinInfo: 201 if this call created the Chime attendee, else 200.

        CreateAttendee (idempotent on ExternalUserId) runs while the meeting record is read."""
        external_user_id = external_user_id_for(identity.user_id)
        created_in_chime = self.executor.submit(
            self.chime.create_attendee, meeting_id, external_user_id
        )
        try:
            meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        except DomainError:
            # Not knowing the user's recorded attendee, undoing could end their live session.
            # A new attendee left behind is no ghost: the next join (same ExternalUserId) gets
            # it back from Chime and records it.
            wait([created_in_chime])
            raise
        keep = pointer.attendeeId if pointer is not None else None
        try:
            chime_attendee = created_in_chime.result()
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
        info = join_info(meeting.chimeMeeting, chime_attendee)
        if chime_attendee["AttendeeId"] == keep:
            return Outcome(created=False, body=info)
        return self._record_join(identity, meeting, chime_attendee, keep, info)

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
        info: dict[str, Any],
    ) -> Outcome:
        attendee, pointer = self._new_attendee(
            meeting.meetingId, identity.user_id, chime_attendee, self.clock()
        )
        try:
            self.store.add_attendee(attendee, pointer, replaces_attendee_id=previous_attendee_id)
        except TransactionRejectedError as rejected:
            current = self.store.get_pointer(meeting.meetingId, identity.user_id)
            if current is not None and current.attendeeId == attendee.attendeeId:
                return Outcome(created=False, body=info)  # an identical join recorded it
            self._undo_attendee(meeting.meetingId, chime_attendee, keep=previous_attendee_id)
            if current is not None and current.barred:
                raise AttendeeRemovedError() from rejected
            raise ConflictError("joined concurrently, retry", retry_after=1) from rejected
        except TransactionConflictError:
            # Nothing was written. The Chime attendee stays: the user's retry gets it back
            # (same ExternalUserId) and records it, so a conflict never creates and deletes.
            current = self.store.get_pointer(meeting.meetingId, identity.user_id)
            if current is not None and current.attendeeId == attendee.attendeeId:
                return Outcome(created=False, body=info)
            raise
        except Exception:
            # As for a new meeting: the write may have committed with its answer lost, and
            # then the Chime attendee holds a recorded seat. Undo only what surely was not.
            if not self._undo_unless_recorded(
                meeting.meetingId, chime_attendee, previous_attendee_id
            ):
                raise
        self._confirm_open(attendee)
        return Outcome(created=True, body=info)

    def _confirm_open(self, attendee: AttendeeRecord) -> None:
        """After a new attendee is recorded: count it, which also confirms the meeting had not
        ended once the attendee was written (store.count_attendee). If it had, the end may
        have read the partition before this attendee existed: the attendee is closed here
        (the end's TTL) and the answer is 410; Chime ends (or has ended) the meeting and the
        attendee with it, so nothing is undone in Chime."""
        try:
            open_meeting = self.store.count_attendee(attendee.meetingId)
        except DomainError:
            # The increment is lost (the end recounts); the meeting must still be checked.
            read = self.store.get_meeting(attendee.meetingId)
            open_meeting = read if read is not None and read.status.is_open else None
        if open_meeting is None:
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

    def _undo_attendee(
        self, meeting_id: str, chime_attendee: dict[str, Any], keep: str | None
    ) -> None:
        """Delete an attendee this request made in Chime, never the user's recorded one."""
        if chime_attendee.get("AttendeeId") != keep:
            self.chime.delete_attendee(meeting_id, chime_attendee["AttendeeId"])

    # --- provision -------------------------------------------------------------------------

    def provision(
        self,
        identity: Identity,
        meeting_id: str,
        wanted: list[tuple[str, Capabilities | None]],
    ) -> dict[str, Any]:
        """Host/admin pre-provisions users (no tokens in the answer)."""
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        meeting = authorization.managed_meeting(identity, meeting, pointer)
        if not meeting.status.is_open:
            raise MeetingEndedError()
        errors: list[dict[str, str]] = []
        eligible = self._eligible_for_provisioning(meeting, wanted, errors)
        if not eligible:
            return {"attendees": [], "errors": errors}
        pointers = self.store.get_pointers(meeting_id, list(eligible))
        for user_id in [user for user, pointer in pointers.items() if pointer.barred]:
            del eligible[user_id]
            errors.append(_item_error(user_id, AttendeeRemovedError()))
        requests = [
            {"ExternalUserId": external_user_id_for(user_id), **_capability_member(capabilities)}
            for user_id, capabilities in eligible.items()
        ]
        if not requests:
            return {"attendees": [], "errors": errors}
        try:
            created, failed = self.chime.batch_create_attendees(meeting_id, requests)
        except ChimeResourceGoneError as gone:
            self._mark_gone(meeting)
            raise MeetingEndedError() from gone
        users_by_external_id = {external_user_id_for(user): user for user in eligible}
        for failure in failed:
            errors.append(
                {
                    "userId": users_by_external_id.get(failure.get("ExternalUserId", ""), ""),
                    "code": str(failure.get("ErrorCode", "UPSTREAM_ERROR")),
                    "message": str(failure.get("ErrorMessage", "Chime refused this attendee")),
                }
            )
        attendees: list[dict[str, Any]] = []
        recorded = self.executor.map(
            lambda chime_attendee: self._record_provisioned(
                meeting,
                users_by_external_id[chime_attendee["ExternalUserId"]],
                chime_attendee,
                pointers.get(users_by_external_id[chime_attendee["ExternalUserId"]]),
            ),
            created,
        )
        for view, error in recorded:
            if view is not None:
                attendees.append(view)
            if error is not None:
                errors.append(error)
        return {"attendees": attendees, "errors": errors}

    @staticmethod
    def _eligible_for_provisioning(
        meeting: MeetingRecord,
        wanted: list[tuple[str, Capabilities | None]],
        errors: list[dict[str, str]],
    ) -> dict[str, Capabilities | None]:
        eligible: dict[str, Capabilities | None] = {}
        for user_id, capabilities in wanted:
            problem = capabilities_problem(capabilities, meeting.features) if capabilities else None
            if user_id in eligible:
                problem = "listed more than once"
            if problem:
                errors.append(_item_error(user_id, InvalidRequestError(problem)))
            else:
                eligible[user_id] = capabilities
        return eligible

    def _record_provisioned(
        self,
        meeting: MeetingRecord,
        user_id: str,
        chime_attendee: dict[str, Any],
        previous: UserPointerRecord | None,
    ) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
        """(the attendee's view, None) or (None, the item's error)."""
        if previous is not None and previous.attendeeId == chime_attendee["AttendeeId"]:
            existing = self.store.get_attendee(meeting.meetingId, previous.attendeeId)
            if existing is not None:
                return attendee_view(existing), None
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
            return None, _item_error(user_id, ended)
        return attendee_view(attendee), None

    def _provision_not_written(
        self,
        attendee: AttendeeRecord,
        chime_attendee: dict[str, Any],
        pointer_before: str | None,
        failure: Exception,
    ) -> tuple[dict[str, Any] | None, dict[str, str] | None] | None:
        """The item's answer after its write failed; None when the write committed all the
        same (its answer was lost) and the attendee is to be confirmed like a written one."""
        meeting_id, user_id = attendee.meetingId, attendee.userId
        if isinstance(failure, TransactionRejectedError | TransactionConflictError):
            current = self.store.get_pointer(meeting_id, user_id)
            if current is not None and current.attendeeId == attendee.attendeeId:
                return attendee_view(attendee), None  # an identical request recorded it
            if isinstance(failure, TransactionConflictError):
                # Nothing written; the Chime attendee is kept for the retry (see _record_join).
                return None, _item_error(user_id, failure)
            self._undo_attendee(meeting_id, chime_attendee, keep=pointer_before)
            if current is not None and current.barred:
                return None, _item_error(user_id, AttendeeRemovedError())
            return None, _item_error(user_id, ConflictError("changed concurrently, retry"))
        # Any other failure (an outage, or a write DynamoDB refused): undo the Chime attendee
        # unless the write committed all the same, and report this item only.
        if self._undo_unless_recorded(meeting_id, chime_attendee, pointer_before):
            return None
        if not isinstance(failure, DomainError):
            logger.exception("provisioned attendee not recorded")
            failure = DomainError()
        return None, _item_error(user_id, failure)

    # --- remove, capabilities ----------------------------------------------------------------

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
    ) -> dict[str, Any]:
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
            self.chime.update_attendee_capabilities(
                meeting_id, attendee_id, chime_capabilities(capabilities)
            )
        except ChimeResourceGoneError as gone:
            if self.chime.get_meeting(meeting_id) is None:
                self._mark_gone(meeting)
                raise MeetingEndedError() from gone
            raise AttendeeNotFoundError() from gone
        try:
            updated = self.store.set_capabilities(meeting_id, attendee_id, capabilities)
        except TransactionRejectedError as rejected:
            raise AttendeeNotFoundError("the attendee was removed") from rejected
        return {"attendee": attendee_view(updated)}


def _chime_request_fingerprint(user_id: str, spec: NewMeeting) -> str:
    """What the Chime create call depends on, and who asks: two callers never share a Chime
    meeting, so an undo (the cap refused the caller, another meeting took the room) only
    ever deletes the caller's own meeting, never one another caller is handed. The same
    caller repeating the request lands on the same Chime meeting."""
    request = {"spec": dataclasses.asdict(spec), "caller": user_id}
    return json.dumps(request, sort_keys=True, default=str)


def _capability_member(capabilities: Capabilities | None) -> dict[str, Any]:
    return {} if capabilities is None else {"Capabilities": chime_capabilities(capabilities)}


def _item_error(user_id: str, error: DomainError) -> dict[str, str]:
    return {"userId": user_id, "code": error.code, "message": error.message}


def build_meeting_service(settings: Settings, executor: Executor) -> MeetingService:
    """The service as a Lambda container runs it: clients created lazily on first use."""
    from meetings.adapters.chime import ChimeGateway  # noqa: PLC0415 - moves to wiring.py
    from meetings.adapters.table.store import MeetingTable  # noqa: PLC0415 - moves to wiring.py

    store = MeetingTable(
        settings.table_name,
        reconcile_interval_seconds=settings.reconcile_interval_seconds,
        retention_days=settings.retention_days,
        end_settle_seconds=settings.end_settle_seconds,
    )
    return MeetingService(store=store, chime=ChimeGateway(), settings=settings, executor=executor)
