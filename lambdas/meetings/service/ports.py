"""What the use cases need from the outside world, as Protocols, with the errors and values
that are part of those contracts.

Services import this module (and `domain/`), never an adapter: the table, Chime and the bus
are reached through these interfaces, and the adapters (`meetings.adapters`) implement them
and raise/return the types defined here. A port says nothing of the table's layout: page
tokens and cursors are opaque to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from meetings.domain.errors import ConflictError
from meetings.domain.records import (
    AttendeeRecord,
    Capabilities,
    EndNoticer,
    EndReason,
    EndSource,
    MeetingRecord,
    UserPointerRecord,
)

if TYPE_CHECKING:
    # Annotations only: importing the activity plan (and the Chime event parsing under it)
    # would put the events path on the api's cold start.
    from meetings.domain.activity_plan import ActivitySnapshot, ActivityWrite
    from meetings.domain.domain_events import DomainEvent
    from meetings.domain.event_sequence import Stamp
    from meetings.domain.recording import RecordingOptions, RecordingRecord
    from meetings.domain.transcription import TranscriptionRecord, TranscriptionSettings
    from meetings.domain.url_safety import IPAddress, Target
    from meetings.domain.webhooks import Delivery, DeliveryAttempt, WebhookRecord

# The backend's clock: milliseconds since the epoch.
Clock = Callable[[], int]

# --- errors --------------------------------------------------------------------------------


class TransactionRejectedError(Exception):
    """A conditional write or transaction whose condition did not hold.

    `reasons` has one code per transaction item ("None" where that item was fine), or a
    single "ConditionalCheckFailed" for a plain conditional write.
    """

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons

    def failed_at(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


class OpenMeetingLimitError(TransactionRejectedError):
    """A new meeting was refused only because its host already holds the cap of open ones."""


class TransactionConflictError(ConflictError):
    """The table refused a write because another transaction on one of its items was in
    flight. Nothing was written; retrying soon succeeds. The repository retries it (bounded);
    what still conflicts is a 409 CONFLICT with Retry-After, never an outage."""

    def __init__(self, message: str = "a concurrent write got in first, retry") -> None:
        super().__init__(message, retry_after=1)


class ActivityConflictError(Exception):
    """The meeting, its activity or an attendee changed since the snapshot (or a concurrent
    transaction got in the way): read again and derive again."""


class PublishFailedError(Exception):
    """The bus refused some entries: the caller retries them."""

    def __init__(self, failed: list[dict[str, Any]]) -> None:
        codes = sorted({str(entry.get("ErrorCode")) for entry in failed})
        super().__init__(f"EventBridge refused {len(failed)} entries: {', '.join(codes)}")
        self.failed = failed


# --- values --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomClaim:
    """What the room's record says: the meeting holding the name (if any) and the name's
    generation, which a new meeting's claim is conditioned on."""

    roomName: str  # noqa: N815
    generation: int = 0
    meetingId: str | None = None  # noqa: N815


@dataclass(frozen=True, slots=True)
class EndOrigin:
    """Where an end's instant comes from, and when its inferred reason is settled.

    `settles_at`: None for a final reason (host_ended, max_duration); otherwise the backend's
    instant at which the cleanup settles the reason (the meeting reads `unknown` until then)."""

    source: EndSource
    noticed_by: EndNoticer | None = None
    settles_at: int | None = None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page of a listing: `token` is the opaque `nextToken` of the previous page (None:
    the first page), valid only for the caller and query `binding` names, read at `now`."""

    limit: int
    token: str | None
    binding: str
    now: int


@dataclass(frozen=True, slots=True)
class OpenMeeting:
    """A meeting as the cleanup lists it: the record and the due instant it is claimed by."""

    meeting: MeetingRecord
    due: str | None


# A page of the cleanup's listings and the opaque cursor of the next one (None: the last).
CleanupPage = tuple[list[OpenMeeting], dict[str, Any] | None]


# --- the table -----------------------------------------------------------------------------


class MeetingEnding(Protocol):
    """Ending a meeting: what the events use case needs of the meeting repository."""

    def final_end(self, source: EndSource = EndSource.BACKEND) -> EndOrigin:
        """The origin of an end whose reason is final at once (a requested one)."""
        ...

    def pending_end(
        self, source: EndSource, now_ms: int, noticed_by: EndNoticer | None = None
    ) -> EndOrigin:
        """The origin of an end whose reason the cleanup settles one settle window from now."""
        ...

    def end_meeting(
        self,
        meeting_id: str,
        reason: EndReason,
        ended_at_ms: int,
        *,
        origin: EndOrigin | None = None,
        honour_requested: bool = True,
        known: MeetingRecord | None = None,
    ) -> MeetingRecord | None:
        """End an open meeting (idempotent, safe under concurrency); None: no such meeting."""
        ...


class MeetingClosing(MeetingEnding, Protocol):
    """Ending and settling: what the cleanup use case needs of the meeting repository."""

    def request_end(self, meeting_id: str, reason: EndReason) -> MeetingRecord | None:
        """Note the reason the backend is about to end an open meeting with (the first
        request wins); the meeting as it now is, None if it already ended."""
        ...

    def withdraw_end_request(self, meeting_id: str, reason: EndReason) -> None:
        """Take back a request whose DeleteMeeting failed (only while it is still `reason`)."""
        ...

    def settle_end(
        self, seen: MeetingRecord, reason: EndReason, ended_at_ms: int, source: EndSource
    ) -> bool:
        """Make an ended meeting's reason final if it is still as `seen`; False otherwise."""
        ...


class MeetingRepository(MeetingClosing, Protocol):
    """The conditional writes of meetings, attendees, user pointers and rooms.

    Writes whose condition fails raise TransactionRejectedError (OpenMeetingLimitError when
    only the host's cap refused a create); one a concurrent transaction kept cancelling
    raises TransactionConflictError."""

    def create_meeting(
        self,
        meeting: MeetingRecord,
        *,
        room: RoomClaim | None = None,
        first_attendee: tuple[AttendeeRecord, UserPointerRecord] | None = None,
        open_meetings_cap: int | None = None,
    ) -> None: ...

    def add_attendee(
        self,
        attendee: AttendeeRecord,
        pointer: UserPointerRecord,
        *,
        replaces_attendee_id: str | None,
    ) -> None: ...

    def count_attendee(self, meeting_id: str) -> bool: ...

    def close_attendee(self, attendee: AttendeeRecord, now_ms: int) -> None: ...

    def remove_attendee(
        self, attendee: AttendeeRecord, *, removed_at_ms: int, bar_user: bool
    ) -> None: ...

    def bar_user(self, attendee: AttendeeRecord) -> None: ...

    def set_capabilities(
        self, meeting_id: str, attendee_id: str, capabilities: Capabilities
    ) -> AttendeeRecord: ...


class MeetingQueries(Protocol):
    """Consistent reads of meetings, attendees, pointers and rooms, and paged listings.

    A listing answers one page and the opaque token of the next one (None: the last page); a
    token that is not valid for the page's query raises InvalidRequestError."""

    def get_meeting(self, meeting_id: str) -> MeetingRecord | None: ...

    def get_attendee(self, meeting_id: str, attendee_id: str) -> AttendeeRecord | None: ...

    def get_pointer(self, meeting_id: str, user_id: str) -> UserPointerRecord | None: ...

    def get_meeting_and_pointer(
        self, meeting_id: str, user_id: str
    ) -> tuple[MeetingRecord | None, UserPointerRecord | None]: ...

    def get_attendee_context(
        self, meeting_id: str, attendee_id: str, user_id: str
    ) -> tuple[MeetingRecord | None, AttendeeRecord | None, UserPointerRecord | None]: ...

    def get_pointers(
        self, meeting_id: str, user_ids: list[str]
    ) -> dict[str, UserPointerRecord]: ...

    def get_room(self, room_name: str) -> RoomClaim: ...

    def list_hosted(
        self, host_user_id: str, *, status_filter: str | None, page: PageRequest
    ) -> tuple[list[MeetingRecord], str | None]: ...

    def list_open(
        self, *, status_filter: str | None, page: PageRequest
    ) -> tuple[list[MeetingRecord], str | None]: ...

    def list_roster(
        self, meeting_id: str, *, page: PageRequest
    ) -> tuple[list[AttendeeRecord], str | None]: ...


class MeetingStore(MeetingRepository, MeetingQueries, Protocol):
    """Both: what the request-path use cases hold."""


class ActivityStore(Protocol):
    """A meeting's activity log with the meeting and attendees it derives, read and written
    as one snapshot. `write` raises ActivityConflictError when the snapshot is stale."""

    def read(
        self, meeting_id: str, attendee_ids: Sequence[str], *, every_attendee: bool = False
    ) -> ActivitySnapshot | None: ...

    def write(self, change: ActivityWrite) -> None: ...


class CleanupQueries(Protocol):
    """The cleanup's listings of due and open meetings, its claim on one, and its read of an
    ended one. Cursors are opaque."""

    def page(
        self, *, due_by: str | None, limit: int, start_key: dict[str, Any] | None
    ) -> CleanupPage: ...

    def page_open(self, *, limit: int, start_key: dict[str, Any] | None) -> CleanupPage: ...

    def read_ended(self, meeting_id: str) -> ActivitySnapshot | None: ...

    def claim(self, meeting_id: str, seen_due: str | None, next_due: str) -> bool: ...


# --- Chime and the bus ---------------------------------------------------------------------


class ChimeMeetingLookup(Protocol):
    """Whether Chime still has a meeting, and deleting one: what the cleanup needs of Chime.
    Failures are DomainErrors (throttled, unavailable, refused)."""

    def get_meeting(self, meeting_id: str) -> dict[str, Any] | None:
        """The meeting, or None if Chime no longer has it (it ended)."""
        ...

    def delete_meeting(self, meeting_id: str) -> bool:
        """True if this call ended it, False if it had already ended."""
        ...


class ChimeMeetings(ChimeMeetingLookup, Protocol):
    """Chime SDK meetings and attendees. ChimeResourceGoneError: the meeting (or attendee) is
    gone; other failures are DomainErrors (throttled, unavailable, refused)."""

    def create_meeting(
        self,
        *,
        client_request_token: str,
        external_meeting_id: str,
        media_region: str,
        meeting_features: dict[str, Any],
        tags: dict[str, str],
        attendees: list[Any] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]: ...

    def create_attendee(self, meeting_id: str, external_user_id: str) -> dict[str, Any]: ...

    def batch_create_attendees(
        self, meeting_id: str, attendees: list[tuple[str, Capabilities | None]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]: ...

    def delete_attendee(self, meeting_id: str, attendee_id: str) -> bool: ...

    def update_attendee_capabilities(
        self, meeting_id: str, attendee_id: str, capabilities: Capabilities
    ) -> dict[str, Any]: ...

    @staticmethod
    def capabilities_of(chime_attendee: dict[str, Any]) -> Capabilities:
        """An attendee's capabilities as Chime answered them (absent: Chime's default)."""
        ...

    def update_capabilities_except(
        self, meeting_id: str, excluded_attendee_ids: list[str], capabilities: Capabilities
    ) -> None:
        """BatchUpdateAttendeeCapabilitiesExcept: every attendee but the excluded (1-250)."""
        ...


class ChimeTranscription(Protocol):
    """Live transcription of a meeting (Chime answers at once; the outcome comes as events)."""

    def start_transcription(self, meeting_id: str, settings: TranscriptionSettings) -> None: ...

    def stop_transcription(self, meeting_id: str) -> bool:
        """True if a transcription was stopped, False if none ran (or the meeting is gone)."""
        ...


# --- recordings ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapturePipeline:
    pipeline_id: str
    arn: str


class MediaPipelines(Protocol):
    """Chime SDK media pipelines. Failures are DomainErrors (throttled, unavailable, refused)."""

    def create_capture(
        self,
        *,
        meeting_id: str,
        client_request_token: str,
        sink_prefix: str,
        options: RecordingOptions,
    ) -> CapturePipeline:
        """CreateMediaCapturePipeline of the meeting into the recordings bucket under the
        prefix (idempotent on the token)."""
        ...

    def create_concatenation(
        self,
        *,
        client_request_token: str,
        capture_arn: str,
        sink_prefix: str,
        options: RecordingOptions,
    ) -> str:
        """CreateMediaConcatenationPipeline of a capture's chunks; its pipeline id."""
        ...

    def get_status(self, pipeline_id: str) -> str | None:
        """The pipeline's Status (Chime's word), or None when Chime no longer has it."""
        ...

    def delete(self, pipeline_id: str) -> bool:
        """DeleteMediaPipeline. True if this call stopped it, False if it was gone."""
        ...


class ArtifactStore(Protocol):
    """The recordings bucket: listings, time-limited links, and small text objects."""

    def list_objects(self, prefix: str) -> dict[str, int]:
        """Every object under the prefix: key → size in bytes."""
        ...

    def presign_get(self, key: str, expires_in_seconds: int) -> str: ...

    def read_text(self, key: str, max_bytes: int) -> str:
        """The object's text; InvalidRequestError-free: a larger one is cut at max_bytes."""
        ...


class RecordingRepository(Protocol):
    """Recordings in their meeting's partition, the meeting's transcription record and its
    media-on-start options. Conditional writes raise TransactionRejectedError."""

    def list_recordings(self, meeting_id: str) -> list[RecordingRecord]:
        """Every recording of the meeting, newest first (consistent read)."""
        ...

    def get_recording(self, meeting_id: str, recording_id: str) -> RecordingRecord | None: ...

    def list_recordings_page(
        self, meeting_id: str, *, page: PageRequest
    ) -> tuple[list[RecordingRecord], str | None]:
        """One page of a meeting's recordings, newest first, and the token of the next."""
        ...

    def add_recording(self, record: RecordingRecord) -> None:
        """Write a new recording (refused if it exists) and show it on its meeting."""
        ...

    def save_recording(self, record: RecordingRecord, *, seen: RecordingRecord) -> None:
        """Write the recording's new state if it is still as `seen`."""
        ...

    def due_recordings(self, now_ms: int, limit: int) -> list[RecordingRecord]:
        """Recordings not final whose check instant is past, soonest first."""
        ...

    def save_transcription(
        self,
        meeting_id: str,
        record: TranscriptionRecord,
        *,
        seen: TranscriptionRecord | None,
        while_open: bool = False,
    ) -> None:
        """Write the meeting's transcription record if it is still as `seen` (its run, status
        and last event; None: no run yet) — and, with `while_open` (a start), only while the
        meeting has not ended. Else TransactionRejectedError."""
        ...

    def clear_media_on_start(self, meeting_id: str) -> None:
        """Forget the options the meeting's first attendee started (they ran)."""
        ...


class EventBus(Protocol):
    """The project's event bus: puts every event, in order; PublishFailedError at the first
    refusal. A call of at most `max_events_per_call` events goes out or fails as one."""

    @property
    def max_events_per_call(self) -> int: ...

    def publish(self, events: Sequence[DomainEvent]) -> None: ...


class EventSequencer(Protocol):
    """Numbers events per meeting (domain/event_sequence.py): the same numbers every time one
    event id is asked for; None for an event not about a meeting."""

    def stamp(self, event: DomainEvent, now_ms: int) -> Stamp | None: ...


# --- webhooks ------------------------------------------------------------------------------


class WebhookStore(Protocol):
    """Subscriptions and their delivery attempts. `replace` is conditioned on the record's
    version as read (TransactionRejectedError when it changed or is gone)."""

    def create(self, record: WebhookRecord) -> None: ...

    def get(self, webhook_id: str) -> WebhookRecord | None: ...

    def list_page(self, page: PageRequest) -> tuple[list[WebhookRecord], str | None]: ...

    def list_all(self) -> list[WebhookRecord]: ...

    def replace(self, record: WebhookRecord) -> WebhookRecord: ...

    def delete(self, webhook_id: str) -> bool: ...

    def record_attempt(self, attempt: DeliveryAttempt, expires_at: int) -> None: ...

    def attempts_page(
        self, webhook_id: str, page: PageRequest
    ) -> tuple[list[DeliveryAttempt], str | None]: ...

    def get_attempt(self, webhook_id: str, delivery_id: str) -> DeliveryAttempt | None: ...


class SecretCipher(Protocol):
    """Seals webhook secrets at rest (KMS), bound to the webhook they belong to."""

    def seal(self, webhook_id: str, secret: bytes) -> bytes: ...

    def open(self, webhook_id: str, sealed: bytes) -> bytes: ...


class DeliveryQueue(Protocol):
    """The deliveries queues, one per lane (Delivery.lane): one message per event per
    subscription."""

    def enqueue(self, deliveries: Sequence[Delivery], delay_seconds: int = 0) -> None:
        """Each delivery on its lane's queue, visible after `delay_seconds` or the queue's
        longest delay, whichever is shorter."""
        ...

    def retry_after(self, received: Delivery, receipt_handle: str, seconds: int) -> None:
        """Make a message received from `received`'s lane visible again in `seconds`."""
        ...


class HostResolver(Protocol):
    """DNS: every address a host name resolves to (empty: none)."""

    def resolve(self, host: str, port: int) -> list[IPAddress]: ...


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """An HTTP attempt: the status code, or the error that prevented one."""

    status_code: int | None
    latency_ms: int
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender(Protocol):
    """POSTs to the checked address of a target, never following redirects."""

    def post(
        self, target: Target, address: IPAddress, headers: dict[str, str], body: str
    ) -> SendOutcome: ...
