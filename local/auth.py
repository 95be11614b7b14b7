"""The local JWT issuer and the check API Gateway's JWT authorizer makes.

Tokens are RS256-signed with a key made at start-up (nothing to configure, nothing to leak).
The check mirrors the deployed authorizer: signature against the issuer's key, `iss`,
`aud` (or Cognito's `client_id` for access tokens), `exp` and `nbf` with at most 2 s of leeway.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_ISSUER = "https://local.meetings.invalid/issuer"
DEFAULT_AUDIENCE = "local-app-client"
CLOCK_LEEWAY_SECONDS = 2
MAX_TTL_SECONDS = 7 * 24 * 3600


class TokenRejectedError(Exception):
    """The authorizer refuses the token; the message is what API Gateway would describe."""


@dataclass
class LocalIssuer:
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    key_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    _private_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        repr=False,
    )

    def issue(
        self,
        sub: str,
        *,
        groups: list[str] | None = None,
        ttl_seconds: int = 3600,
        audience: str | None = None,
        issuer: str | None = None,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": sub,
            "iss": issuer or self.issuer,
            "aud": audience or self.audience,
            "iat": now,
            "exp": now + ttl_seconds,
            "token_use": "id",
            "jti": uuid.uuid4().hex,
        }
        if groups:
            claims["cognito:groups"] = list(groups)
        claims.update(extra_claims or {})
        return jwt.encode(
            claims, self._private_key, algorithm="RS256", headers={"kid": self.key_id}
        )

    def jwks(self) -> dict[str, Any]:
        """The public key set, as an OIDC issuer publishes it."""
        public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(
            self._private_key.public_key(), as_dict=True
        )
        return {"keys": [{**public_jwk, "kid": self.key_id, "alg": "RS256", "use": "sig"}]}

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or TokenRejectedError with the reason the authorizer would give."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenRejectedError("the token is malformed") from error
        if header.get("alg") != "RS256" or header.get("kid") != self.key_id:
            raise TokenRejectedError("the token's signing key or algorithm is not the issuer's")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._private_key.public_key(),
                algorithms=["RS256"],
                issuer=self.issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenRejectedError("the token has expired") from error
        except jwt.InvalidIssuerError as error:
            raise TokenRejectedError("the token's issuer is not accepted") from error
        except jwt.PyJWTError as error:
            raise TokenRejectedError("the token is invalid") from error
        self._check_audience(claims)
        return claims

    def _check_audience(self, claims: dict[str, Any]) -> None:
        # API Gateway accepts a token whose `aud` (ID tokens) or `client_id` (Cognito access
        # tokens) names a configured audience.
        audience = claims.get("aud", claims.get("client_id"))
        audiences = audience if isinstance(audience, list) else [audience]
        if self.audience not in audiences:
            raise TokenRejectedError("the token's audience is not accepted")
