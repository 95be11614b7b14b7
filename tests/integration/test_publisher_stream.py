"""The publisher on the table's real change stream (moto's DynamoDB Streams), publishing to an
EventBridge bus whose rule forwards to an SQS queue: each domain event once, with stable ids."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.integration.conftest import REGION, TABLE_NAME, Caller, lambda_context
from tests.integration.test_events_lifecycle import (
    apply_events,
    chime_events,
    open_meeting,
    settle_ends,
)

__all__ = ["chime_events"]
Api = Callable[..., Any]


@pytest.fixture
def bus_queue(backend: Any, aws_env: dict[str, str]) -> Callable[[], list[dict[str, Any]]]:
    events, sqs = (
        boto3.client("events", region_name=REGION),
        boto3.client("sqs", region_name=REGION),
    )
    bus = aws_env["EVENT_BUS_NAME"]
    events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName="domain-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="all", EventBusName=bus, EventPattern=json.dumps({"source": ["meetings.backend"]})
    )
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])

    def drain() -> list[dict[str, Any]]:
        received = []
        while True:
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                return received
            for message in messages:
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    return drain


class StreamTap:
    """The table's change stream in Lambda's event shape (NEW_AND_OLD_IMAGES).

    moto's DynamoDB Streams leaves out TransactWriteItems, which this service uses for most
    writes; so the tap diffs the table between steps instead, one record per changed item."""

    def __init__(self, dynamodb: Any) -> None:
        self.dynamodb = dynamodb
        self.sequence = 0
        self.records: list[dict[str, Any]] = []
        self.items = self._items()

    def _items(self) -> dict[tuple[str, str], dict[str, Any]]:
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=TABLE_NAME)
        return {(i["pk"]["S"], i["sk"]["S"]): i for page in pages for i in page["Items"]}

    def step(self) -> None:
        current = self._items()
        for key in sorted(current.keys() | self.items.keys()):
            old, new = self.items.get(key), current.get(key)
            if old == new:
                continue
            self.sequence += 1
            change: dict[str, Any] = {
                "Keys": {"pk": {"S": key[0]}, "sk": {"S": key[1]}},
                "SequenceNumber": f"{self.sequence:021d}",
                "SizeBytes": 100,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            }
            if old is not None:
                change["OldImage"] = old
            if new is not None:
                change["NewImage"] = new
            name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
            self.records.append(
                {
                    "eventID": str(self.sequence),
                    "eventName": name,
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": REGION,
                    "dynamodb": change,
                    "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE_NAME}"
                    "/stream/x",
                }
            )
        self.items = current


def publish(records: list[dict[str, Any]]) -> dict[str, Any]:
    from meetings.handlers.publisher import handler  # noqa: PLC0415

    answer: dict[str, Any] = handler({"Records": records}, lambda_context())
    return answer


def test_domain_events_are_published_once_with_stable_ids(
    api: Api,
    chime: Any,
    chime_events: list[dict[str, Any]],
    backend: Any,
    bus_queue: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tap = StreamTap(backend)
    meeting_id, (bob,) = open_meeting(api, Caller("bob"))
    tap.step()
    for action in (chime.connect, chime.leave):
        action(meeting_id, bob)
        apply_events(chime_events)
        chime_events.clear()
        tap.step()
    chime.advance(301)
    apply_events(chime_events)
    tap.step()
    settle_ends(monkeypatch)
    tap.step()
    records = tap.records
    assert publish(records) == {"batchItemFailures": []}
    first = bus_queue()
    kinds = sorted(event["detail-type"] for event in first)
    assert kinds == [
        "attendee.joined",
        "attendee.left",
        "meeting.created",
        "meeting.end_settled",
        "meeting.ended",
        "meeting.started",
    ]
    ended = next(event["detail"] for event in first if event["detail-type"] == "meeting.ended")
    assert (ended["endReason"], ended["endReasonFinal"]) == ("unknown", False)
    settled = next(e["detail"] for e in first if e["detail-type"] == "meeting.end_settled")
    assert (settled["endReason"], settled["peakConnected"], settled["attendeeCount"]) == (
        "no_audio_5min",
        1,
        1,
    )
    joined = next(event["detail"] for event in first if event["detail-type"] == "attendee.joined")
    assert (joined["userId"], joined["hostUserId"], joined["attendeeId"]) == ("bob", "alice", bob)
    # A retried batch yields the very same ids: nothing new for a deduplicating consumer.
    publish(records)
    again = bus_queue()
    assert sorted(e["detail"]["eventId"] for e in again) == sorted(
        e["detail"]["eventId"] for e in first
    )


def test_refused_entries_fail_the_record_and_those_after_it(
    api: Api, backend: Any, bus_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meetings.adapters import bus  # noqa: PLC0415
    from meetings.service.ports import PublishFailedError  # noqa: PLC0415

    tap = StreamTap(backend)
    open_meeting(api)
    tap.step()
    records = tap.records
    original = bus.EventBusPublisher.publish

    def refuse(self: Any, events: Any) -> None:
        raise PublishFailedError([{"ErrorCode": "InternalFailure"}])

    monkeypatch.setattr(bus.EventBusPublisher, "publish", refuse)
    answer = publish(records)
    meeting_records = [r for r in records if r["dynamodb"]["Keys"]["sk"]["S"] == "MEETING"]
    first_failed = records.index(meeting_records[0])
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == [
        r["dynamodb"]["SequenceNumber"] for r in records[first_failed:]
    ]
    monkeypatch.setattr(bus.EventBusPublisher, "publish", original)
    assert publish(records) == {"batchItemFailures": []}
