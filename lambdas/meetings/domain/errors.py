"""Domain errors: each one is a row of the error table of docs/api.md ("Errors").

Adapters translate what AWS answers into these; the API handler turns them into the error
envelope in one place. Nothing here knows about HTTP libraries: the status is plain data.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A failure the API reports with its own status and code (never a 500)."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL"
    default_message: ClassVar[str] = "internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.retry_after = retry_after
        self.details = details


class InvalidRequestError(DomainError):
    status = 400
    code = "VALIDATION_ERROR"
    default_message = "the request is not valid"


class UnauthorizedError(DomainError):
    status = 401
    code = "UNAUTHORIZED"
    default_message = "a valid bearer token is required"


class ForbiddenError(DomainError):
    status = 403
    code = "FORBIDDEN"
    default_message = "not allowed"


class AttendeeRemovedError(DomainError):
    status = 403
    code = "ATTENDEE_REMOVED"
    default_message = "you were removed from this meeting"


class MeetingNotFoundError(DomainError):
    status = 404
    code = "MEETING_NOT_FOUND"
    default_message = "meeting not found"


class AttendeeNotFoundError(DomainError):
    status = 404
    code = "ATTENDEE_NOT_FOUND"
    default_message = "attendee not found"


class RecordingNotFoundError(DomainError):
    status = 404
    code = "RECORDING_NOT_FOUND"
    default_message = "recording not found"


class TranscriptionNotFoundError(DomainError):
    status = 404
    code = "TRANSCRIPTION_NOT_FOUND"
    default_message = "no transcription is running"


class TranscriptNotFoundError(DomainError):
    status = 404
    code = "TRANSCRIPT_NOT_FOUND"
    default_message = "no available recording holds a transcript yet"


class MeetingFullError(DomainError):
    status = 409
    code = "MEETING_FULL"
    default_message = "the meeting has reached its attendee limit"


class ConflictError(DomainError):
    status = 409
    code = "CONFLICT"
    default_message = "the request conflicts with another one"


class NoAttendeeExcludedError(DomainError):
    """Mute-all leaves the caller's attendee (and those named) alone; Chime needs at least one
    such attendee, and the meeting has none: a state of the meeting, not a malformed request."""

    status = 409
    code = "NO_ATTENDEE_EXCLUDED"
    default_message = (
        "you have no attendee in this meeting: name who keeps their capabilities in exceptUserIds"
    )


class MeetingEndedError(DomainError):
    status = 410
    code = "MEETING_ENDED"
    default_message = "the meeting has ended"


class ThrottledError(DomainError):
    status = 429
    code = "THROTTLED"
    default_message = "the meeting service is busy, retry later"


class UserMeetingLimitError(DomainError):
    status = 429
    code = "USER_MEETING_LIMIT"
    default_message = "you already host the maximum number of open meetings"


class UpstreamError(DomainError):
    status = 502
    code = "UPSTREAM_ERROR"
    default_message = "the meeting service failed"


class UpstreamUnavailableError(DomainError):
    status = 503
    code = "UPSTREAM_UNAVAILABLE"
    default_message = "a backing service is unavailable, retry later"


class AccountMeetingLimitError(DomainError):
    status = 503
    code = "ACCOUNT_MEETING_LIMIT"
    default_message = "the account's limit of active meetings is reached, retry later"


class ChimeResourceGoneError(DomainError):
    """Chime answered NotFound for a meeting or attendee the caller referred to.

    The service decides what that means (usually: the meeting ended in Chime); if it escapes
    unhandled, the client sees the meeting as gone.
    """

    status = 410
    code = "MEETING_ENDED"
    default_message = "the meeting has ended"
