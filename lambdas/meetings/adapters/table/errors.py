"""DynamoDB's errors as the ports' contract errors (service/ports.py).

A failed condition is a TransactionRejectedError; a write cancelled by another transaction in
flight on one of its items is a TransactionConflictError; throttling and outages that outlived
botocore's retries are a 503 (UpstreamUnavailableError). Every repository maps through
`dynamodb_errors`, so "was this a failed condition?" has one answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from meetings.domain.errors import UpstreamUnavailableError
from meetings.service.ports import TransactionConflictError, TransactionRejectedError

CONDITION_FAILED: Final = "ConditionalCheckFailed"
_TRANSACTION_CONFLICT: Final = "TransactionConflict"
_UNAVAILABLE_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        "TransactionInProgressException",
    }
)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(error: ClientError) -> list[str]:
    """One code per item of a cancelled transaction ("None" where that item was fine)."""
    response: Any = error.response
    return [reason.get("Code", "None") for reason in response.get("CancellationReasons", [])]


def failed_condition(error: ClientError) -> bool:
    """Whether DynamoDB refused the write because one of its conditions did not hold."""
    code = _code(error)
    if code == "ConditionalCheckFailedException":
        return True
    return code == "TransactionCanceledException" and CONDITION_FAILED in cancellation_reasons(
        error
    )


def _conflicted(error: ClientError) -> bool:
    """Whether another transaction in flight on one of the items got in the way."""
    code = _code(error)
    if code == "TransactionConflictException":
        return True
    return code == "TransactionCanceledException" and _TRANSACTION_CONFLICT in (
        cancellation_reasons(error)
    )


def _server_side(error: ClientError) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return int(status) >= HTTPStatus.INTERNAL_SERVER_ERROR


@contextmanager
def dynamodb_errors() -> Iterator[None]:
    """Conditions → rejection; conflicts → TransactionConflictError; throttling and outages
    that outlived botocore's retries → 503."""
    try:
        yield
    except ClientError as error:
        if failed_condition(error):
            reasons = cancellation_reasons(error) or [CONDITION_FAILED]
            raise TransactionRejectedError(reasons) from error
        if _conflicted(error):
            raise TransactionConflictError() from error
        if _code(error) == "TransactionCanceledException":
            raise UpstreamUnavailableError(retry_after=1) from error
        # Any server-side failure (also an unreadable 5xx from a proxy in front) is an outage.
        if _code(error) in _UNAVAILABLE_CODES or _server_side(error):
            raise UpstreamUnavailableError(retry_after=1) from error
        raise
    except BotoCoreError as error:
        raise UpstreamUnavailableError(retry_after=1) from error
