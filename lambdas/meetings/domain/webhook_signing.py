"""Standard Webhooks signatures: secrets `whsec_<base64>`, and the three headers a receiver
verifies with the `standardwebhooks` libraries (docs/webhooks.md, "Verifying").

`webhook-signature` is `v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`;
during a rotation's overlap every live secret signs and the signatures are space-separated, so
a receiver holding either secret accepts the delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format's prefix, not a secret
# 32 random bytes: the HMAC-SHA256 block size allows up to 64; 24 is the specification's floor.
SECRET_BYTES: Final = 32


def format_secret(raw: bytes) -> str:
    return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def signature(raw_secret: bytes, message_id: str, timestamp: int, body: str) -> str:
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(raw_secret, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    raw_secrets: Sequence[bytes], message_id: str, timestamp: int, body: str
) -> dict[str, str]:
    """The request's Standard Webhooks headers (one signature per live secret)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message_id, timestamp, body) for secret in raw_secrets
        ),
    }
