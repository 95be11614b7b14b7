"""The request-path use cases: create, list, read, end, join, provision, roster, remove,
capabilities. Authorization happens here (domain.authorization), on the records just read.

Ordering rule for every use case that creates something in Chime: Chime first (it is
idempotent on the token we derive), then one conditional write; if that write fails for any
reason other than "an identical request already recorded it", the Chime side is undone, so
nothing is orphaned and no seat is held by a ghost.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, wait
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.base import (
    BaseIdempotencySerializer,
)

from meetings import deployment
from meetings.adapters.chime import ChimeGateway
from meetings.adapters.store import MeetingStore, RoomClaim, TransactionRejectedError
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
    UpstreamUnavailableError,
    UserMeetingLimitError,
)
from meetings.domain.identity import Identity, external_user_id_for
from meetings.domain.records import (
    AttendeeRecord,
    Capabilities,
    Capability,
    EndReason,
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
from meetings.settings import Settings

Clock = Callable[[], int]
IDEMPOTENCY_PARTITION: Final = "IDEMPOTENCY#create-meeting"
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


class _WithoutJoinTokens(BaseIdempotencySerializer):
    """What the idempotency record stores: the first response minus any JoinToken (tokens are
    never persisted; a replay fetches the caller's token from Chime again)."""

    def to_dict(self, data: Any) -> dict[str, Any]:
        stored: dict[str, Any] = copy.deepcopy(data)
        attendee = (stored.get("body", {}).get("joinInfo") or {}).get("Attendee")
        if isinstance(attendee, dict):
            attendee.pop("JoinToken", None)
        return stored

    def from_dict(self, data: dict[str, Any]) -> Any:
        return data


class MeetingService:
    def __init__(
        self,
        *,
        store: MeetingStore,
        chime: ChimeGateway,
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
        self.idempotency_config = IdempotencyConfig(
            event_key_jmespath="[caller, key]",
            payload_validation_jmespath="spec",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=settings.idempotency_ttl_seconds,
            hash_function="sha256",
        )
        self._idempotency_store = idempotency_store
        self._create_once: Callable[..., dict[str, Any]] | None = None

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
        request = {"caller": user_id, "key": key, "spec": dataclasses.asdict(spec)}
        try:
            answer = self._idempotent_create()(request=request)
        except IdempotencyValidationError as error:
            raise ConflictError(
                "this Idempotency-Key was used with another request body"
            ) from error
        except IdempotencyAlreadyInProgressError as error:
            raise ConflictError(
                "a request with this Idempotency-Key is in progress", retry_after=1
            ) from error
        except IdempotencyPersistenceLayerError as error:
            raise UpstreamUnavailableError(retry_after=1) from error
        return Outcome(created=bool(answer["created"]), body=answer["body"])

    def _idempotent_create(self) -> Callable[..., dict[str, Any]]:
        if self._create_once is None:
            persistence = self._idempotency_store or DynamoDBPersistenceLayer(
                table_name=self.settings.table_name,
                key_attr=deployment.PARTITION_KEY,
                sort_key_attr=deployment.SORT_KEY,
                static_pk_value=IDEMPOTENCY_PARTITION,
                expiry_attr=deployment.TTL_ATTRIBUTE,
                boto3_client=self.store.client,
            )

            def create_from_request(request: dict[str, Any]) -> dict[str, Any]:
                spec = NewMeeting(**request["spec"])
                outcome = self._create(request["caller"], spec, request["key"])
                return {"created": outcome.created, "body": outcome.body}

            self._create_once = idempotent_function(
                create_from_request,
                data_keyword_argument="request",
                persistence_store=persistence,
                config=self.idempotency_config,
                output_serializer=_WithoutJoinTokens(),
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
        self._check_meeting_cap(user_id)
        room_name = f"{GENERATED_ROOM_PREFIX}{uuid.uuid4()}"
        token = request_token_for_key(user_id, key) if key else f"new-{uuid.uuid4().hex}"
        outcome = self._create_in_chime(user_id, spec, room_name, token, claim=None)
        if outcome is None:
            raise ConflictError("the meeting could not be recorded, retry", retry_after=1)
        return outcome

    def _check_meeting_cap(self, user_id: str) -> None:
        cap = self.settings.max_open_meetings_per_user
        if self.store.count_open_hosted(user_id, stop_at=cap) >= cap:
            raise UserMeetingLimitError()

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
            self._check_meeting_cap(user_id)
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
            self.store.create_meeting(record, room=claim, first_attendee=first)
        except TransactionRejectedError as rejected:
            return self._after_rejected_create(record, claim, rejected, chime_attendees)
        except Exception:
            self.chime.delete_meeting(record.meetingId)
            raise
        body: dict[str, Any] = {"meeting": meeting_view(record)}
        if chime_attendees:
            body["joinInfo"] = join_info(record.chimeMeeting, chime_attendees[0])
        return Outcome(created=True, body=body)

    def _after_rejected_create(
        self,
        record: MeetingRecord,
        claim: RoomClaim | None,
        rejected: TransactionRejectedError,
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
        """Chime says NotFound for a meeting our record thinks open: it ended in Chime. The
        reason stays `unknown` so a late chime:MeetingEnded can still fill in the inferred one."""
        self.store.end_meeting(meeting.meetingId, EndReason.UNKNOWN, self.clock())

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
        if all_open:
            start = pagination.decode_token(
                next_token,
                binding,
                now,
                key_names=frozenset(
                    {
                        deployment.PARTITION_KEY,
                        deployment.SORT_KEY,
                        deployment.OPEN_INDEX_PK,
                        deployment.OPEN_INDEX_SK,
                    }
                ),
                fixed={deployment.OPEN_INDEX_PK: "OPEN"},
            )
            records, last = self.store.list_open(status_filter=None, limit=limit, start_key=start)
        else:
            start = pagination.decode_token(
                next_token,
                binding,
                now,
                key_names=frozenset(
                    {
                        deployment.PARTITION_KEY,
                        deployment.SORT_KEY,
                        deployment.HOST_INDEX_PK,
                        deployment.HOST_INDEX_SK,
                    }
                ),
                fixed={deployment.HOST_INDEX_PK: f"HOST#{host}"},
            )
            records, last = self.store.list_hosted(
                host, status_filter=status, limit=limit, start_key=start
            )
        return {
            "meetings": [meeting_view(record) for record in records],
            "nextToken": pagination.encode_token(last, binding, now),
        }

    def roster(
        self, identity: Identity, meeting_id: str, *, limit: int, next_token: str | None
    ) -> dict[str, Any]:
        now = self.clock()
        meeting, pointer = self.store.get_meeting_and_pointer(meeting_id, identity.user_id)
        authorization.visible_meeting(identity, meeting, pointer)
        binding = pagination.query_binding(identity.user_id, roster=meeting_id)
        start = pagination.decode_token(
            next_token,
            binding,
            now,
            key_names=frozenset(
                {deployment.PARTITION_KEY, deployment.SORT_KEY, deployment.ROSTER_INDEX_SK}
            ),
            fixed={deployment.PARTITION_KEY: f"MEETING#{meeting_id}"},
        )
        records, last = self.store.list_roster(meeting_id, limit=limit, start_key=start)
        return {
            "attendees": [
                attendee_view(record)
                for record in records
                if not record.externalUserId.endswith(CONTENT_SHARE_SUFFIX)
            ],
            "nextToken": pagination.encode_token(last, binding, now),
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
        if meeting.status.is_open and self.store.request_end(meeting_id, EndReason.HOST_ENDED):
            if self.chime.delete_meeting(meeting_id):
                self.store.end_meeting(meeting_id, EndReason.HOST_ENDED, self.clock())
            else:
                # Chime had ended it already: the reason it knows stays, else `vanished`.
                self.store.end_meeting(
                    meeting_id, EndReason.VANISHED, self.clock(), honour_requested=False
                )
        ended = self.store.get_meeting(meeting_id)
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
            if rejected.failed_at(0):
                raise MeetingEndedError() from rejected
            if current is not None and current.barred:
                raise AttendeeRemovedError() from rejected
            raise ConflictError("joined concurrently, retry", retry_after=1) from rejected
        except Exception:
            self._undo_attendee(meeting.meetingId, chime_attendee, keep=previous_attendee_id)
            raise
        return Outcome(created=True, body=info)

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
        except TransactionRejectedError:
            self._undo_attendee(meeting.meetingId, chime_attendee, keep=pointer_before)
            return None, _item_error(user_id, ConflictError("changed concurrently, retry"))
        except DomainError as failure:
            self._undo_attendee(meeting.meetingId, chime_attendee, keep=pointer_before)
            return None, _item_error(user_id, failure)
        return attendee_view(attendee), None

    # --- remove, capabilities ----------------------------------------------------------------

    def remove_attendee(self, identity: Identity, meeting_id: str, attendee_id: str) -> None:
        """The attendee itself leaves for good; host/admin removal also bars the user."""
        meeting, attendee = self._visible_attendee(identity, meeting_id, attendee_id)
        if not meeting.status.is_open:
            raise MeetingEndedError()
        bar = authorization.is_manager(identity, meeting) and attendee.userId != identity.user_id
        if attendee.presence is not Presence.REMOVED:
            self.chime.delete_attendee(meeting_id, attendee_id)
        for _ in range(_REMOVE_ATTEMPTS):
            if attendee.presence is Presence.REMOVED:
                if bar:
                    self.store.bar_user(meeting_id, attendee.userId)
                return
            try:
                self.store.remove_attendee(attendee, removed_at_ms=self.clock(), bar_user=bar)
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
    """What the Chime create call depends on (the caller only as the joining attendee)."""
    request = {"spec": dataclasses.asdict(spec), "joiner": user_id if spec.join else None}
    return json.dumps(request, sort_keys=True, default=str)


def _capability_member(capabilities: Capabilities | None) -> dict[str, Any]:
    return {} if capabilities is None else {"Capabilities": chime_capabilities(capabilities)}


def _item_error(user_id: str, error: DomainError) -> dict[str, str]:
    return {"userId": user_id, "code": error.code, "message": error.message}


def build_meeting_service(settings: Settings, executor: Executor) -> MeetingService:
    """The service as a Lambda container runs it: clients created lazily on first use."""
    store = MeetingStore(
        settings.table_name,
        reconcile_interval_seconds=settings.reconcile_interval_seconds,
        retention_days=settings.retention_days,
    )
    return MeetingService(store=store, chime=ChimeGateway(), settings=settings, executor=executor)
