"""Opaque `nextToken`s: base64url JSON, bound to the caller and the query that produced them.

No secret signs them: instead a token is accepted only if it was made for this caller and this
exact query, is recent, and its key lies inside the partition that query reads. A forged token
can therefore at most start a listing somewhere the caller may read anyway; anything else —
foreign, stale, malformed — is a 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Final

from meetings.domain.errors import InvalidRequestError

TOKEN_VERSION: Final = 1
TOKEN_LIFETIME_MS: Final = 24 * 3600 * 1000
MAX_TOKEN_CHARS: Final = 2048


def query_binding(caller: str, **query: str | int | None) -> str:
    """A digest of who asked what: two listings share tokens only if both are equal."""
    canonical = json.dumps({"caller": caller, "query": query}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def encode_token(last_key: Mapping[str, str] | None, binding: str, now_ms: int) -> str | None:
    if not last_key:
        return None
    payload = {"v": TOKEN_VERSION, "b": binding, "t": now_ms, "k": dict(last_key)}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def invalid_token() -> InvalidRequestError:
    return InvalidRequestError(
        "nextToken is not valid for this query",
        details=[{"field": "nextToken", "problem": "forged, foreign or expired"}],
    )


def decode_token(
    token: str | None,
    binding: str,
    now_ms: int,
    *,
    key_names: frozenset[str],
    fixed: Mapping[str, str],
) -> dict[str, str] | None:
    """The start key a token carries, or InvalidRequestError.

    key_names: exactly the attributes of a start key of this query; fixed: those whose value
    the query determines (its partition)."""
    if token is None:
        return None
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise invalid_token()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise invalid_token() from error
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        raise invalid_token()
    if payload.get("b") != binding:
        raise invalid_token()
    issued = payload.get("t")
    if not isinstance(issued, int) or not 0 <= now_ms - issued <= TOKEN_LIFETIME_MS:
        raise invalid_token()
    key = payload.get("k")
    if not isinstance(key, dict) or set(key) != key_names:
        raise invalid_token()
    if not all(isinstance(value, str) and value for value in key.values()):
        raise invalid_token()
    if any(key.get(name) != value for name, value in fixed.items()):
        raise invalid_token()
    return {str(name): str(value) for name, value in key.items()}
