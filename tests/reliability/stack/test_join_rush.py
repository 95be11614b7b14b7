"""A small join rush over HTTP (the `bench/join_rush.py` scenario at test size): many users
join one meeting at once. Every join must be a 201 (with transaction conflicts modelled by the
local DynamoDB when it does), no 5xx, and no Chime attendee created and deleted again — the
emulator's own record is the oracle. No timing is asserted."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.join_rush import created_then_deleted
from local.stack import LocalStack
from tests.localstack_support import Api

USERS = 60


def test_a_rush_of_joins_all_succeed_and_undo_nothing(
    api: Api, local_stack: LocalStack, pool: ThreadPoolExecutor, unique: Any
) -> None:
    host = api.token(unique("rush-host"))
    created = api.request("POST", "/meetings", token=host, body={})
    assert created.status == 201, created.body
    meeting_id = created.json["meeting"]["meetingId"]
    tokens = [api.token(unique(f"rush-{n}")) for n in range(USERS)]
    # Every worker warm first: the rush is about joins, not cold starts queueing past the
    # gateway's integration timeout.
    reads = list(
        pool.map(lambda _: api.request("GET", f"/meetings/{meeting_id}", token=host), range(12))
    )
    assert {read.status for read in reads} == {200}

    answers = list(
        pool.map(
            lambda token: api.request("POST", f"/meetings/{meeting_id}/attendees", token=token),
            tokens,
        )
    )

    statuses = Counter(answer.status for answer in answers)
    assert statuses == {201: USERS}, [a.body for a in answers if a.status != 201][:3]
    assert created_then_deleted(local_stack, meeting_id) == 0
    attendee_ids = {answer.json["Attendee"]["AttendeeId"] for answer in answers}
    assert len(attendee_ids) == USERS
    meeting = api.request("GET", f"/meetings/{meeting_id}", token=host).json["meeting"]
    assert meeting["attendees"]["total"] == USERS
