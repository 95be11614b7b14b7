"""Who is calling, from the JWT claims API Gateway's authorizer has already verified."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from meetings.domain.errors import InvalidRequestError, UnauthorizedError
from meetings.domain.validation import is_valid_chime_external_id, user_id_problem

# Derived ExternalUserIds: lowercase hex, so Chime's case-insensitive matching cannot merge two.
DERIVED_USER_ID_PREFIX: Final = "u#"
_DERIVED_DIGEST_CHARS: Final = 40


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    groups: frozenset[str]
    is_admin: bool


def parse_groups(raw: Any) -> frozenset[str]:
    """`cognito:groups` as a list, or as payload v2 flattens it: `"[admins users]"`."""
    if raw is None:
        return frozenset()
    if isinstance(raw, list | tuple | set | frozenset):
        return frozenset(str(group) for group in raw if str(group))
    text = str(raw).strip()
    if text.startswith("[") and '"' in text:
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, list):
            return parse_groups(decoded)
    return frozenset(group for group in re.split(r"[\s,]+", text.strip("[]")) if group)


def identity_from_claims(claims: Mapping[str, Any] | None, admin_group: str) -> Identity:
    """The caller; UnauthorizedError when there are no claims or no `sub` (no authorizer ran),
    InvalidRequestError (400) when `sub` is over the user-id limits (validation.user_id_problem)."""
    if not claims:
        raise UnauthorizedError()
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not user_id.strip():
        raise UnauthorizedError()
    problem = user_id_problem(user_id)
    if problem:
        # A valid token whose subject this API cannot store (table keys are bounded).
        raise InvalidRequestError(
            f"the token's subject {problem}",
            details=[{"location": "token", "field": "sub", "problem": problem}],
        )
    groups = parse_groups(claims.get("cognito:groups"))
    return Identity(user_id=user_id, groups=groups, is_admin=admin_group in groups)


def external_user_id_for(user_id: str) -> str:
    """The ExternalUserId Chime gets for a user: the id itself when Chime accepts it as is and
    it cannot collide with another id by case, else a stable digest of it."""
    if is_valid_chime_external_id(user_id) and user_id == user_id.casefold():
        return user_id
    digest = hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:_DERIVED_DIGEST_CHARS]
    return f"{DERIVED_USER_ID_PREFIX}{digest}"
