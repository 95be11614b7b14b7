"""Injected faults, the request-rate quota, concurrency, and the EventBridge sink."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from meetings.deployment import CHIME_EVENT_PATTERN
from moto.server import ThreadedMotoServer

from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer, EventBridgeSink
from tests.emulator.conftest import add_attendee, create_meeting, event_types


def test_a_fault_fails_the_next_n_calls_then_clears(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    chime.inject_fault(operation="CreateAttendee", error="ThrottlingException", count=2)
    for user in ("u1", "u2"):
        with pytest.raises(chime_client.exceptions.ThrottlingException) as caught:
            add_attendee(chime_client, meeting["MeetingId"], user)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    chime_client.get_meeting(MeetingId=meeting["MeetingId"])  # other operations unaffected
    assert add_attendee(chime_client, meeting["MeetingId"], "u3")["ExternalUserId"] == "u3"
    assert event_types(chime).count("AttendeeAdded") == 1


def test_service_unavailable_carries_retry_after(chime_client: Any, chime: ChimeEmulator) -> None:
    chime.inject_fault("GetMeeting", "ServiceUnavailableException", retry_after_seconds=7)
    with pytest.raises(chime_client.exceptions.ServiceUnavailableException) as caught:
        chime_client.get_meeting(MeetingId="00000000-0000-0000-0000-000000000000")
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert response["RetryAfterSeconds"] == "7"
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "7"


def test_the_star_fault_hits_every_operation_until_cleared(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    chime.inject_fault("*", "ServiceFailureException", count=None)
    for call in (
        lambda: create_meeting(chime_client),
        lambda: chime_client.list_tags_for_resource(ResourceARN="arn:x"),
    ):
        with pytest.raises(chime_client.exceptions.ServiceFailureException):
            call()
    chime.clear_faults()
    create_meeting(chime_client)


def test_an_operations_own_fault_wins_over_star_and_a_new_one_replaces_it(
    chime_client: Any, chime: ChimeEmulator
) -> None:
    chime.inject_fault("*", "ServiceFailureException", count=None)
    chime.inject_fault("CreateMeeting", "ForbiddenException", count=5)
    chime.inject_fault("CreateMeeting", "UnauthorizedException", count=1)
    with pytest.raises(chime_client.exceptions.UnauthorizedException):
        create_meeting(chime_client)
    with pytest.raises(chime_client.exceptions.ServiceFailureException):
        create_meeting(chime_client)


def test_latency_only_faults_delay_but_succeed(
    chime_client: Any, chime: ChimeEmulator, meeting: dict[str, Any]
) -> None:
    chime.inject_fault("GetMeeting", error=None, latency_ms=20, count=1)
    assert chime_client.get_meeting(MeetingId=meeting["MeetingId"])["Meeting"] == meeting


@pytest.mark.parametrize(
    ("arguments", "phrase"),
    [
        ({"operation": "NoSuchOperation"}, "unknown operation"),
        ({"error": "NoSuchException"}, "unknown error"),
        ({"count": 0}, "count"),
        ({"error": None}, "an error or a positive latency"),
    ],
)
def test_bad_fault_requests_are_refused(
    chime: ChimeEmulator, arguments: dict[str, Any], phrase: str
) -> None:
    with pytest.raises(ValueError, match=phrase):
        chime.inject_fault(**arguments)


@pytest.fixture
def server_with(
    make_chime_client: Callable[[str], Any],
) -> Iterator[Callable[..., tuple[ChimeEmulator, Any]]]:
    servers: list[EmulatorServer] = []

    def start(**config: Any) -> tuple[ChimeEmulator, Any]:
        server = EmulatorServer(ChimeEmulator(EmulatorConfig(**config))).start()
        servers.append(server)
        return server.emulator, make_chime_client(server.endpoint_url)

    yield start
    for server in servers:
        server.stop()


def test_no_rate_quota_unless_configured(chime_client: Any) -> None:
    for _ in range(30):
        with pytest.raises(chime_client.exceptions.NotFoundException):
            chime_client.get_meeting(MeetingId="00000000-0000-0000-0000-000000000000")


def test_a_configured_rate_quota_throttles_past_n_per_second(
    server_with: Callable[..., tuple[ChimeEmulator, Any]],
) -> None:
    chime, client = server_with(rate_limit_per_second=5)
    outcomes = []
    for n in range(8):
        try:
            create_meeting(client, ExternalMeetingId=f"room-{n}")
            outcomes.append("ok")
        except client.exceptions.ThrottlingException:
            outcomes.append("throttled")
    assert outcomes.count("ok") >= 5
    assert "throttled" in outcomes
    assert len(chime.open_meeting_ids()) == outcomes.count("ok")


def test_100_concurrent_create_attendee_calls(
    chime_server: EmulatorServer,
    chime: ChimeEmulator,
    make_chime_client: Callable[[str], Any],
    meeting: dict[str, Any],
) -> None:
    local = threading.local()

    def create(n: int) -> str:
        if not hasattr(local, "client"):
            local.client = make_chime_client(chime_server.endpoint_url)
        # Every user twice: idempotency must hold under concurrency too.
        return str(add_attendee(local.client, meeting["MeetingId"], f"user-{n % 50}")["AttendeeId"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(create, range(100)))
    assert len(set(ids)) == 50
    assert all(ids[n] == ids[n + 50] for n in range(50))
    assert event_types(chime).count("AttendeeAdded") == 50
    client = make_chime_client(chime_server.endpoint_url)
    listed = client.list_attendees(MeetingId=meeting["MeetingId"], MaxResults=100)["Attendees"]
    assert len(listed) == 50


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def chime_queue() -> Iterator[tuple[str, Any, str]]:
    """moto's EventBridge with the Chime rule (the deployed pattern) routing to an SQS queue:
    yields the endpoint, an SQS client and the queue URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    sqs = _client("sqs", endpoint)
    queue_url = sqs.create_queue(QueueName="chime-events")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    events = _client("events", endpoint)
    events.put_rule(Name="chime", EventPattern=json.dumps(CHIME_EVENT_PATTERN))
    events.put_targets(
        Rule="chime", Targets=[{"Id": "queue", "Arn": attributes["Attributes"]["QueueArn"]}]
    )
    yield endpoint, sqs, queue_url
    server.stop()


def _drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    delivered: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        if not answer.get("Messages"):
            return delivered
        delivered += [json.loads(message["Body"]) for message in answer["Messages"]]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]}
                for n, message in enumerate(answer["Messages"])
            ],
        )


def test_events_reach_eventbridge_in_batches_of_at_most_10(
    chime_queue: tuple[str, Any, str],
) -> None:
    endpoint, sqs, queue_url = chime_queue
    events = _client("events", endpoint)
    batch_sizes: list[int] = []
    events.meta.events.register(
        "provide-client-params.events.PutEvents",
        lambda params, **_: batch_sizes.append(len(params["Entries"])),
    )
    chime = ChimeEmulator()
    chime.add_sink(EventBridgeSink(client=events))
    with EmulatorServer(chime) as server:
        client = _client("chime-sdk-meetings", server.endpoint_url)
        meeting = create_meeting(client)
        client.batch_create_attendee(
            MeetingId=meeting["MeetingId"],
            Attendees=[{"ExternalUserId": f"user-{n}"} for n in range(12)],
        )
    assert batch_sizes == [1, 10, 2]
    delivered = _drain(sqs, queue_url)
    assert len(delivered) == 13
    assert {d["detail"]["meetingId"] for d in delivered} == {meeting["MeetingId"]}
    assert {(d["source"], d["detail-type"]) for d in delivered} == {
        ("aws.chime", "Chime Meeting State Change")
    }


def test_a_sink_built_from_config_sends_to_the_endpoint(
    chime_queue: tuple[str, Any, str],
) -> None:
    endpoint, sqs, queue_url = chime_queue
    chime = ChimeEmulator(EmulatorConfig(eventbridge_endpoint_url=endpoint))
    with EmulatorServer(chime) as server:
        meeting = create_meeting(_client("chime-sdk-meetings", server.endpoint_url))
    delivered = _drain(sqs, queue_url)
    assert [d["detail"]["eventType"] for d in delivered] == ["chime:MeetingStarted"]
    assert delivered[0]["detail"]["meetingId"] == meeting["MeetingId"]
