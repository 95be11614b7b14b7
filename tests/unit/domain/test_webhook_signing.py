"""Signatures as a receiver checks them: with the `standardwebhooks` library."""

from __future__ import annotations

import time

import pytest
from meetings.domain.webhook_signing import format_secret, signed_headers
from meetings.domain.webhooks import delivery_body
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

BODY = delivery_body("meeting.created", "2026-12-02T17:00:00.000Z", {"meetingId": "m", "n": "é"})


def test_the_library_verifies_a_signed_delivery() -> None:
    secret = bytes(range(32))
    headers = signed_headers([secret], "evt_1", int(time.time()), BODY)
    assert Webhook(format_secret(secret)).verify(BODY, headers)["type"] == "meeting.created"


def test_during_a_rotation_either_secret_verifies() -> None:
    new, old = b"n" * 32, b"o" * 32
    headers = signed_headers([new, old], "evt_2", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        Webhook(format_secret(secret)).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(format_secret(b"x" * 32)).verify(BODY, headers)


def test_a_changed_body_id_or_timestamp_fails() -> None:
    secret = b"s" * 32
    now = int(time.time())
    headers = signed_headers([secret], "evt_3", now, BODY)
    receiver = Webhook(format_secret(secret))
    with pytest.raises(WebhookVerificationError):
        receiver.verify(BODY.replace("m", "x"), headers)
    with pytest.raises(WebhookVerificationError):
        receiver.verify(BODY, headers | {"webhook-id": "evt_4"})
    with pytest.raises(WebhookVerificationError):
        receiver.verify(BODY, headers | {"webhook-timestamp": str(now + 1)})


def test_secrets_have_the_standard_form() -> None:
    assert format_secret(b"\x00" * 32).startswith("whsec_")
    assert Webhook(format_secret(b"\x01" * 32))  # the library accepts it
