"""A request model's repr names its fields, never their values: Powertools formats a route's
arguments into a DEBUG message on every request."""

from __future__ import annotations

import logging

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, api_gateway
from meetings.handlers.api_models import CreateMeetingBody


def test_a_request_body_renders_no_value() -> None:
    body = CreateMeetingBody.model_validate(
        {"externalMeetingId": "standup-room-7", "tags": {"team": "payments"}}
    )
    shown = repr(body)
    assert shown == "CreateMeetingBody(set=['externalMeetingId', 'tags'])"
    for value in ("standup-room-7", "team", "payments"):
        assert value not in shown


def test_powertools_debug_line_of_a_create_carries_no_body_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolver_log = logging.getLogger(api_gateway.__name__)
    app = APIGatewayHttpResolver()
    body = CreateMeetingBody.model_validate({"externalMeetingId": "standup-room-7"})
    app.append_context(_route_args={"body": body})
    resolver_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG, logger=resolver_log.name):
            api_gateway._registered_api_adapter(app, lambda **_: {})
    finally:
        resolver_log.removeHandler(caplog.handler)
    assert "Calling API Route Handler" in caplog.text
    assert "standup-room-7" not in caplog.text
