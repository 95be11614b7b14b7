"""The local issuer's expiry rule, as API Gateway's JWT authorizer applies it: a token is
accepted up to CLOCK_LEEWAY_SECONDS after its `exp`, and refused after that."""

from __future__ import annotations

import pytest

from local.auth import CLOCK_LEEWAY_SECONDS, LocalIssuer, TokenRejectedError


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer()


def test_a_token_expired_within_the_leeway_is_accepted(issuer: LocalIssuer) -> None:
    # `exp` is whole seconds: one second ago is at most two seconds before now.
    token = issuer.issue("mallory", ttl_seconds=-(CLOCK_LEEWAY_SECONDS - 1))
    assert issuer.verify(token)["sub"] == "mallory"


def test_a_token_expired_beyond_the_leeway_is_refused(issuer: LocalIssuer) -> None:
    token = issuer.issue("mallory", ttl_seconds=-(CLOCK_LEEWAY_SECONDS + 1))
    with pytest.raises(TokenRejectedError, match="expired"):
        issuer.verify(token)
