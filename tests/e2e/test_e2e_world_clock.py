"""One world clock for the whole local stack: `/_local/clock/advance` moves Chime, the handlers'
own time (record timestamps, idempotency expiry), the schedule and TTL expiry at once.

Tests read the stack in-process only as an oracle (`local_stack.world`, `local_stack.chime`,
the table through `local_stack.client`); the backend is driven over HTTP."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from meetings import deployment

from local.stack import LocalStack
from tests.localstack_support import events_in

# Slack for the instants a request takes to travel through the stack (never a timing assert:
# it only bounds which clock a timestamp was read from, and the clocks differ by hours).
SLACK_MS = 60_000


def _advance(api: Any, seconds: float) -> int:
    answer = api.request("POST", "/_local/clock/advance", body={"seconds": seconds})
    assert answer.status == 200, answer.body
    now_ms: int = answer.json["nowMs"]
    return now_ms


def _epoch_ms(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


def test_an_advance_moves_the_handlers_clock_with_chimes(
    api: Any, unique: Any, local_stack: LocalStack
) -> None:
    answered = _advance(api, 3600)
    assert abs(answered - local_stack.world.now_ms()) < SLACK_MS, "the answer is the world time"
    assert answered > time.time() * 1000 + 3600_000 - SLACK_MS
    host = api.token(unique("host"))
    created = api.request("POST", "/meetings", token=host, body={})
    assert created.status == 201, created.body
    created_at = _epoch_ms(created.json["meeting"]["createdAt"])
    chime_now, world_now = local_stack.chime.now_ms(), local_stack.world.now_ms()
    assert abs(chime_now - world_now) < SLACK_MS, "the emulator runs on the world clock"
    assert abs(created_at - chime_now) < SLACK_MS, "the handler stamped world time"
    assert created_at > time.time() * 1000 + 3600_000 - SLACK_MS


def test_idempotency_expiry_follows_the_world_clock(
    api: Any, unique: Any, local_stack: LocalStack
) -> None:
    host = api.token(unique("host"))
    key = {"Idempotency-Key": unique("key")}
    table = local_stack.client("dynamodb")

    def records() -> dict[str, int]:
        pages = table.get_paginator("query").paginate(
            TableName=local_stack.config.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "IDEMPOTENCY#create-meeting"}},
        )
        return {
            item["sk"]["S"]: int(item[deployment.TTL_ATTRIBUTE]["N"])
            for page in pages
            for item in page["Items"]
        }

    known = records()
    first = api.request("POST", "/meetings", token=host, body={}, headers=key)
    assert first.status == 201, first.body
    new = {sk: expiry for sk, expiry in records().items() if sk not in known}
    assert len(new) == 1
    expected_expiry = local_stack.world.now() + 86400  # IDEMPOTENCY_TTL_SECONDS' default
    assert abs(next(iter(new.values())) - expected_expiry) < SLACK_MS / 1000
    replay = api.request("POST", "/meetings", token=host, body={}, headers=key)
    assert replay.json["meeting"]["meetingId"] == first.json["meeting"]["meetingId"]

    _advance(api, 86400 + 60)
    again = api.request("POST", "/meetings", token=host, body={}, headers=key)
    replayed = again.status == 201 and (
        again.json["meeting"]["meetingId"] == first.json["meeting"]["meetingId"]
    )
    assert not replayed, "a day later by the world clock the key is forgotten"


def test_the_schedule_catches_up_after_an_advance(
    api: Any, wait: Any, local_stack: LocalStack
) -> None:
    runs = local_stack.cleanup_schedule.runs
    _advance(api, local_stack.cleanup_schedule.period_seconds + 1)
    assert wait(lambda: local_stack.cleanup_schedule.runs > runs, timeout=60), (
        "the cleanup schedule did not run after its period passed on the world clock"
    )


def test_expired_items_are_swept_as_dynamodb_ttl_does(
    api: Any, wait: Any, local_stack: LocalStack
) -> None:
    table, name = local_stack.client("dynamodb"), local_stack.config.table_name
    partition = f"TTLTEST#{uuid.uuid4()}"
    now = int(local_stack.world.now())
    items = {
        "soon": {"N": str(now + 60)},
        "later": {"N": str(now + 86400 * 30)},
        "not-a-number": {"S": str(now + 60)},
    }
    for sort_key, expiry in items.items():
        table.put_item(
            TableName=name,
            Item={"pk": {"S": partition}, "sk": {"S": sort_key}, deployment.TTL_ATTRIBUTE: expiry},
        )

    def remaining() -> set[str]:
        answer = table.query(
            TableName=name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": partition}},
            ConsistentRead=True,
        )
        return {item["sk"]["S"] for item in answer["Items"]}

    assert remaining() == set(items)
    _advance(api, 120)
    assert wait(lambda: remaining() == {"later", "not-a-number"}, timeout=30)
    removes = [
        record
        for record in _stream_records(local_stack)
        if record["eventName"] == "REMOVE" and record["dynamodb"]["Keys"]["pk"]["S"] == partition
    ]
    assert [record["dynamodb"]["Keys"]["sk"]["S"] for record in removes] == ["soon"]


def _stream_records(local_stack: LocalStack) -> list[dict[str, Any]]:
    table = local_stack.client("dynamodb")
    streams = local_stack.client("dynamodbstreams")
    arn = table.describe_table(TableName=local_stack.config.table_name)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not answer["Records"]:
                break
            records.extend(answer["Records"])
            iterator = answer.get("NextShardIterator")
    return records


def test_single_audio_attendee_meeting_ends_by_the_30_minute_rule(
    api: Any, unique: Any, wait: Any, local_stack: LocalStack
) -> None:
    """The issue's black-box observation: one audio attendee, the clock advanced 31 minutes →
    ENDED with single_attendee_30min, once the backend may be sure (past its settle margin,
    after a cleanup run)."""
    host = api.token(unique("host"))
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]
    user = api.token(unique("user"))
    join = api.request("POST", f"/meetings/{meeting_id}/attendees", token=user)
    assert join.status == 201, join.body
    attendee_id = join.json["Attendee"]["AttendeeId"]
    connect = f"/_local/meetings/{meeting_id}/attendees/{attendee_id}/connect"
    assert api.request("POST", connect, body={"audio": True}).status == 200
    _advance(api, 31 * 60)
    assert local_stack.chime.end_reason(meeting_id) == "single_attendee_30min"

    def view() -> dict[str, Any]:
        meeting: dict[str, Any] = api.request("GET", f"/meetings/{meeting_id}", token=host).json[
            "meeting"
        ]
        return meeting

    assert wait(lambda: view()["status"] == "ENDED", timeout=30), view()
    # The settle window is world time, the queue's redelivery real time: a MeetingStarted that
    # overtook the record's write comes back after the visibility timeout, so let it land first.
    assert events_in(local_stack)
    _advance(api, 15 * 60)  # past any settle margin
    summary = api.request("POST", "/_local/cleanup", body={"reconcile": "all"})
    assert summary.status == 200, summary.body
    settled = wait(lambda: view()["endReason"] == "single_attendee_30min", timeout=30)
    final = view()
    assert settled, final
    assert final["status"] == "ENDED" and final["endReason"] == "single_attendee_30min"
