"""Amazon Chime SDK Meetings behind a small port; every failure becomes a domain error.

The client comes from `aws_clients` (timeouts, bounded standard retries) unless one is
injected. botocore has already retried throttling and transient 5xx answers by the time an
error reaches this module, so what is left is reported to the client, never raised as a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from meetings.adapters import aws_clients
from meetings.domain.errors import (
    AccountMeetingLimitError,
    ChimeResourceGoneError,
    ConflictError,
    DomainError,
    InvalidRequestError,
    MeetingFullError,
    ThrottledError,
    UpstreamError,
    UpstreamUnavailableError,
)
from meetings.domain.records import Capabilities, Capability
from meetings.domain.transcription import TranscriptionSettings

if TYPE_CHECKING:
    from mypy_boto3_chime_sdk_meetings import ChimeSDKMeetingsClient

# Seconds a client should wait when Chime gives no Retry-After of its own.
DEFAULT_RETRY_AFTER_SECONDS = 1
# Active meetings free up only when meetings end: ask for a longer pause.
ACCOUNT_LIMIT_RETRY_AFTER_SECONDS = 60

_NOT_FOUND_CODES = frozenset({"NotFoundException", "NotFound", "ResourceNotFoundException"})
_BAD_REQUEST_CODES = frozenset({"BadRequestException", "BadRequest", "TooManyTagsException"})
_THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
_UNAVAILABLE_CODES = frozenset({"ServiceUnavailableException", "ServiceUnavailable"})
_LIMIT_CODES = frozenset({"LimitExceededException", "LimitExceeded"})
_CONFLICT_CODES = frozenset({"ConflictException", "Conflict"})


def _retry_after(error: ClientError) -> int:
    response: Any = error.response
    raw = response.get("RetryAfterSeconds")
    if raw is None:
        raw = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("retry-after")
    try:
        return max(1, int(str(raw)))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_SECONDS


def domain_error_for(error: ClientError, operation: str) -> DomainError:  # noqa: PLR0911
    """What a Chime error means to our client (docs/api.md's error table)."""
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "") or code
    if code in _NOT_FOUND_CODES:
        return ChimeResourceGoneError(message)
    if code in _THROTTLING_CODES:
        return ThrottledError(retry_after=_retry_after(error))
    if code in _UNAVAILABLE_CODES:
        return UpstreamUnavailableError(retry_after=_retry_after(error))
    if code in _LIMIT_CODES:
        # Which limit depends on the call: a meeting's seats, or the account's meetings.
        if operation in {"CreateAttendee", "BatchCreateAttendee"}:
            return MeetingFullError()
        return AccountMeetingLimitError(retry_after=ACCOUNT_LIMIT_RETRY_AFTER_SECONDS)
    if code in _BAD_REQUEST_CODES:
        return InvalidRequestError(f"rejected by Chime: {message}")
    if code in _CONFLICT_CODES:
        return ConflictError(f"rejected by Chime: {message}")
    # ServiceFailure after retries, ForbiddenError/UnauthorizedError (our IAM), anything unexpected.
    return UpstreamError(f"Chime {operation} failed: {code or 'unknown error'}")


@contextmanager
def _translated(operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        raise domain_error_for(error, operation) from error
    except BotoCoreError as error:
        # Connect/read timeouts and connection failures that outlived the retries.
        raise UpstreamUnavailableError(retry_after=DEFAULT_RETRY_AFTER_SECONDS) from error


class ChimeGateway:
    """The Chime calls the service makes. Answers are Chime's own shapes (PascalCase dicts)."""

    def __init__(self, client: ChimeSDKMeetingsClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> ChimeSDKMeetingsClient:
        if self._client is None:
            self._client = aws_clients.chime_client()
        return self._client

    def create_meeting(
        self,
        *,
        client_request_token: str,
        external_meeting_id: str,
        media_region: str,
        meeting_features: dict[str, Any],
        tags: dict[str, str],
        attendees: list[Any] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """CreateMeeting, or CreateMeetingWithAttendees when attendees are given (one call).

        Returns (Meeting, Attendees, Errors).
        """
        arguments: dict[str, Any] = {
            "ClientRequestToken": client_request_token,
            "ExternalMeetingId": external_meeting_id,
            "MediaRegion": media_region,
            "MeetingFeatures": meeting_features,
        }
        if tags:
            arguments["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
        if attendees:
            with _translated("CreateMeetingWithAttendees"):
                answer: Any = self.client.create_meeting_with_attendees(
                    **arguments, Attendees=attendees
                )
            return answer["Meeting"], answer.get("Attendees", []), answer.get("Errors", [])
        with _translated("CreateMeeting"):
            answer = self.client.create_meeting(**arguments)
        return answer["Meeting"], [], []

    def get_meeting(self, meeting_id: str) -> dict[str, Any] | None:
        """The Chime Meeting object, or None when Chime says the meeting is gone."""
        try:
            with _translated("GetMeeting"):
                answer: Any = self.client.get_meeting(MeetingId=meeting_id)
        except ChimeResourceGoneError:
            return None
        meeting: dict[str, Any] = answer["Meeting"]
        return meeting

    def delete_meeting(self, meeting_id: str) -> bool:
        """End the meeting in Chime. True if this call ended it, False if it was already gone."""
        try:
            with _translated("DeleteMeeting"):
                self.client.delete_meeting(MeetingId=meeting_id)
        except ChimeResourceGoneError:
            return False
        return True

    def create_attendee(self, meeting_id: str, external_user_id: str) -> dict[str, Any]:
        """CreateAttendee, idempotent on ExternalUserId. ChimeResourceGoneError: meeting ended."""
        arguments: dict[str, Any] = {"MeetingId": meeting_id, "ExternalUserId": external_user_id}
        with _translated("CreateAttendee"):
            answer: Any = self.client.create_attendee(**arguments)
        attendee: dict[str, Any] = answer["Attendee"]
        return attendee

    def batch_create_attendees(
        self, meeting_id: str, attendees: list[tuple[str, Capabilities | None]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """BatchCreateAttendee (1-100) of (ExternalUserId, capabilities or Chime's default).
        Returns (Attendees, Errors)."""
        requests = [
            {"ExternalUserId": external_user_id, **_capability_member(capabilities)}
            for external_user_id, capabilities in attendees
        ]
        with _translated("BatchCreateAttendee"):
            answer: Any = self.client.batch_create_attendee(
                MeetingId=meeting_id,
                Attendees=requests,  # type: ignore[arg-type]
            )
        return answer.get("Attendees", []), answer.get("Errors", [])

    def delete_attendee(self, meeting_id: str, attendee_id: str) -> bool:
        """DeleteAttendee. True if this call deleted it, False if it (or its meeting) was gone."""
        try:
            with _translated("DeleteAttendee"):
                self.client.delete_attendee(MeetingId=meeting_id, AttendeeId=attendee_id)
        except ChimeResourceGoneError:
            return False
        return True

    def update_attendee_capabilities(
        self, meeting_id: str, attendee_id: str, capabilities: Capabilities
    ) -> dict[str, Any]:
        with _translated("UpdateAttendeeCapabilities"):
            answer: Any = self.client.update_attendee_capabilities(
                MeetingId=meeting_id,
                AttendeeId=attendee_id,
                Capabilities=chime_capabilities(capabilities),  # type: ignore[arg-type]
            )
        attendee: dict[str, Any] = answer["Attendee"]
        return attendee

    def update_capabilities_except(
        self, meeting_id: str, excluded_attendee_ids: list[str], capabilities: Capabilities
    ) -> None:
        with _translated("BatchUpdateAttendeeCapabilitiesExcept"):
            self.client.batch_update_attendee_capabilities_except(
                MeetingId=meeting_id,
                ExcludedAttendeeIds=[{"AttendeeId": a} for a in excluded_attendee_ids],
                Capabilities=chime_capabilities(capabilities),  # type: ignore[arg-type]
            )

    def start_transcription(self, meeting_id: str, settings: TranscriptionSettings) -> None:
        with _translated("StartMeetingTranscription"):
            self.client.start_meeting_transcription(
                MeetingId=meeting_id,
                TranscriptionConfiguration={
                    "EngineTranscribeSettings": engine_transcribe_settings(settings)  # type: ignore[typeddict-item]
                },
            )

    def stop_transcription(self, meeting_id: str) -> bool:
        try:
            with _translated("StopMeetingTranscription"):
                self.client.stop_meeting_transcription(MeetingId=meeting_id)
        except ChimeResourceGoneError:
            return False
        return True

    @staticmethod
    def capabilities_of(chime_attendee: dict[str, Any]) -> Capabilities:
        """An attendee's capabilities as Chime answered them (absent: Chime's default)."""
        raw: dict[str, str] = chime_attendee.get("Capabilities") or {}
        return Capabilities(
            audio=Capability(raw.get("Audio", Capability.SEND_RECEIVE)),
            video=Capability(raw.get("Video", Capability.SEND_RECEIVE)),
            content=Capability(raw.get("Content", Capability.SEND_RECEIVE)),
        )


def chime_capabilities(capabilities: Capabilities) -> dict[str, str]:
    """Capabilities as Chime's requests spell them."""
    return {
        "Audio": str(capabilities.audio),
        "Video": str(capabilities.video),
        "Content": str(capabilities.content),
    }


def _capability_member(capabilities: Capabilities | None) -> dict[str, Any]:
    return {} if capabilities is None else {"Capabilities": chime_capabilities(capabilities)}


# The API's transcription settings → Chime's EngineTranscribeSettings members.
_ENGINE_MEMBERS: dict[str, str] = {
    "languageCode": "LanguageCode",
    "preferredLanguage": "PreferredLanguage",
    "region": "Region",
    "partialResultsStability": "PartialResultsStability",
    "contentIdentificationType": "ContentIdentificationType",
    "contentRedactionType": "ContentRedactionType",
    "piiEntityTypes": "PiiEntityTypes",
    "vocabularyName": "VocabularyName",
    "vocabularyFilterName": "VocabularyFilterName",
    "vocabularyFilterMethod": "VocabularyFilterMethod",
    "languageModelName": "LanguageModelName",
}


def engine_transcribe_settings(settings: TranscriptionSettings) -> dict[str, Any]:
    engine: dict[str, Any] = {
        member: getattr(settings, name)
        for name, member in _ENGINE_MEMBERS.items()
        if getattr(settings, name) is not None
    }
    if settings.identifyLanguage:
        engine["IdentifyLanguage"] = True
        engine["LanguageOptions"] = ",".join(settings.languageOptions)
    if settings.partialResultsStability is not None:
        engine["EnablePartialResultsStabilization"] = True
    return engine
