"""NextToken values of the list operations: an opaque token naming where the next page starts
(`<label>:<position>`, base64), refused as BadRequest when it was not made here."""

from __future__ import annotations

import base64
import binascii

from local.chime.errors import bad_request


def encode(label: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{label}:{position}".encode()).decode()


def decode(label: str, token: str | None) -> int:
    """The position a token of `label` names (0 without a token)."""
    if token is None:
        return 0
    try:
        found, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if found == label and number.isdigit():
            return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise bad_request("The NextToken is not valid")
