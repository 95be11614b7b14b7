"""Idempotent create (Idempotency-Key): Powertools' idempotency utility on the single table.

Imported only by a create that carries an Idempotency-Key, so the other requests' cold starts
never load the utility.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.base import (
    BaseIdempotencySerializer,
)

from meetings.domain.errors import ConflictError, UpstreamUnavailableError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import (
        BasePersistenceLayer,
    )


def idempotency_config(ttl_seconds: int) -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[caller, key]",
        payload_validation_jmespath="spec",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=ttl_seconds,
        hash_function="sha256",
    )


class _WithoutJoinTokens(BaseIdempotencySerializer):
    """What the idempotency record stores: the first answer minus the host attendee's
    JoinToken (tokens are never persisted; a replay fetches the caller's token from Chime
    again)."""

    def to_dict(self, data: Any) -> dict[str, Any]:
        stored: dict[str, Any] = copy.deepcopy(data)
        attendee = stored.get("attendee")
        if isinstance(attendee, dict):
            attendee.pop("JoinToken", None)
        return stored

    def from_dict(self, data: dict[str, Any]) -> Any:
        return data


def once_per_key(
    create: Callable[..., dict[str, Any]],
    *,
    config: IdempotencyConfig,
    persistence: BasePersistenceLayer,
    key_prefix: str,
) -> Callable[..., dict[str, Any]]:
    """`create(request=...)`, run at most once per (caller, key) while the record lives."""
    wrapped: Callable[..., dict[str, Any]] = idempotent_function(
        create,
        data_keyword_argument="request",
        persistence_store=persistence,
        config=config,
        output_serializer=_WithoutJoinTokens(),
        key_prefix=key_prefix,
    )
    return wrapped


@contextmanager
def as_domain_errors() -> Iterator[None]:
    """Powertools' idempotency failures as the API's errors (409, 503)."""
    try:
        yield
    except IdempotencyValidationError as error:
        raise ConflictError("this Idempotency-Key was used with another request body") from error
    except IdempotencyAlreadyInProgressError as error:
        raise ConflictError(
            "a request with this Idempotency-Key is in progress", retry_after=1
        ) from error
    except IdempotencyPersistenceLayerError as error:
        raise UpstreamUnavailableError(retry_after=1) from error
