"""Errors as Chime answers them: a modeled error shape, its status code and body `Code`."""

from __future__ import annotations

from typing import Final

from local.chime.model import error_status

# The body's `Code` is the service's ErrorCode value, which is not the shape name: the
# current model types it as a plain string, earlier ones listed these values.
_BODY_CODES: Final[dict[str, str]] = {
    "BadRequestException": "BadRequest",
    "ConflictException": "Conflict",
    "ForbiddenException": "Forbidden",
    "LimitExceededException": "ResourceLimitExceeded",
    "NotFoundException": "NotFound",
    "ResourceNotFoundException": "NotFound",
    "ServiceFailureException": "ServiceFailure",
    "ServiceUnavailableException": "ServiceUnavailable",
    "ThrottlingException": "Throttling",
    "ThrottledClientException": "Throttling",
    "UnauthorizedClientException": "Unauthorized",
    "TooManyTagsException": "ResourceLimitExceeded",
    "UnauthorizedException": "Unauthorized",
    "UnprocessableEntityException": "Unprocessable",
}

MEETING_ENDED: Final = "The meeting has ended"


class ChimeError(Exception):
    """A failure the emulator answers with one of the model's error shapes."""

    def __init__(
        self,
        error: str,
        message: str,
        *,
        retry_after_seconds: int | None = None,
        resource_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = error_status(error)  # also rejects names the model does not know
        self.error = error
        self.message = message
        self.retry_after_seconds = retry_after_seconds
        self.resource_name = resource_name

    @property
    def code(self) -> str:
        return _BODY_CODES.get(self.error, self.error.removesuffix("Exception"))

    def body(self, request_id: str) -> dict[str, str]:
        body = {"Code": self.code, "Message": self.message, "RequestId": request_id}
        if self.resource_name is not None:
            body["ResourceName"] = self.resource_name
        return body

    def headers(self) -> dict[str, str]:
        headers = {"x-amzn-ErrorType": self.error}
        if self.retry_after_seconds is not None:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


class ChimeNotFoundError(ChimeError, LookupError):
    """NotFound; also a LookupError, for callers of the Python API."""

    def __init__(self, message: str) -> None:
        super().__init__("NotFoundException", message)


class ChimeRejectedError(ChimeError, ValueError):
    """A request Chime refuses (BadRequest, LimitExceeded); also a ValueError, for callers of
    the Python API."""


def bad_request(message: str) -> ChimeError:
    return ChimeRejectedError("BadRequestException", message)


def limit_exceeded(message: str) -> ChimeError:
    return ChimeRejectedError("LimitExceededException", message)


def not_found(message: str) -> ChimeError:
    return ChimeNotFoundError(message)
