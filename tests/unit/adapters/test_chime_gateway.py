"""The Chime adapter pinned with botocore's Stubber: request shapes and error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError
from botocore.stub import Stubber
from meetings.adapters import aws_clients
from meetings.adapters.chime import ChimeGateway
from meetings.domain.errors import (
    AccountMeetingLimitError,
    ChimeResourceGoneError,
    DomainError,
    InvalidRequestError,
    MeetingFullError,
    ThrottledError,
    UpstreamError,
    UpstreamUnavailableError,
)


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "chime-sdk-meetings",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


MEETING = {"MeetingId": "11111111-1111-1111-1111-111111111111", "MediaRegion": "us-east-1"}
ATTENDEE = {"AttendeeId": "a-1", "ExternalUserId": "alice", "JoinToken": "secret-token"}


def test_client_config_bounds_every_call() -> None:
    config: Any = aws_clients.client_config()
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_create_meeting_with_attendees_is_one_call(client: Any, stubber: Stubber) -> None:
    stubber.add_response(
        "create_meeting_with_attendees",
        {"Meeting": MEETING, "Attendees": [ATTENDEE], "Errors": []},
        {
            "ClientRequestToken": "room-abc",
            "ExternalMeetingId": "room-1",
            "MediaRegion": "us-east-1",
            "MeetingFeatures": {"Attendee": {"MaxCount": 5}},
            "Tags": [{"Key": "team", "Value": "sales"}],
            "Attendees": [{"ExternalUserId": "alice"}],
        },
    )
    meeting, attendees, errors = ChimeGateway(client).create_meeting(
        client_request_token="room-abc",
        external_meeting_id="room-1",
        media_region="us-east-1",
        meeting_features={"Attendee": {"MaxCount": 5}},
        tags={"team": "sales"},
        attendees=[{"ExternalUserId": "alice"}],
    )
    assert (meeting, attendees, errors) == (MEETING, [ATTENDEE], [])


def test_not_found_means_gone_for_reads_and_deletes(client: Any, stubber: Stubber) -> None:
    for method in ("get_meeting", "delete_meeting", "delete_attendee"):
        stubber.add_client_error(method, "NotFoundException", "The meeting has ended", 404)
    gateway = ChimeGateway(client)
    assert gateway.get_meeting("m") is None
    assert gateway.delete_meeting("m") is False
    assert gateway.delete_attendee("m", "a") is False


@pytest.mark.parametrize(
    ("operation", "code", "status", "expected", "retry_after"),
    [
        ("create_attendee", "ThrottlingException", 429, ThrottledError, 1),
        ("create_attendee", "ServiceUnavailableException", 503, UpstreamUnavailableError, 7),
        ("create_attendee", "ServiceFailureException", 500, UpstreamError, None),
        ("create_attendee", "LimitExceededException", 400, MeetingFullError, None),
        ("create_attendee", "NotFoundException", 404, ChimeResourceGoneError, None),
        ("create_attendee", "BadRequestException", 400, InvalidRequestError, None),
        ("create_attendee", "ForbiddenException", 403, UpstreamError, None),
        ("create_attendee", "UnauthorizedException", 401, UpstreamError, None),
        ("create_attendee", "UnprocessableEntityException", 422, UpstreamError, None),
        ("create_meeting", "LimitExceededException", 400, AccountMeetingLimitError, 60),
    ],
)
def test_every_chime_error_is_a_domain_error(
    client: Any,
    stubber: Stubber,
    operation: str,
    code: str,
    status: int,
    expected: type[DomainError],
    retry_after: int | None,
) -> None:
    headers = {"retry-after": "7"} if code == "ServiceUnavailableException" else {}
    stubber.add_client_error(operation, code, "no", status, response_meta={"HTTPHeaders": headers})
    gateway = ChimeGateway(client)
    with pytest.raises(expected) as raised:
        if operation == "create_meeting":
            gateway.create_meeting(
                client_request_token="tok-1",
                external_meeting_id="room-1",
                media_region="us-east-1",
                meeting_features={},
                tags={},
            )
        else:
            gateway.create_attendee("m", "alice")
    assert raised.value.status != 500
    assert raised.value.retry_after == retry_after


def test_connection_failures_are_unavailable(client: Any) -> None:
    def refuse(**_: Any) -> None:
        raise ConnectTimeoutError(endpoint_url="https://chime.invalid")

    client.meta.events.register("before-send.chime-sdk-meetings.GetMeeting", refuse)
    with pytest.raises(UpstreamUnavailableError) as raised:
        ChimeGateway(client).get_meeting("m")
    assert raised.value.retry_after == 1
