"""The request path under DynamoDB's transaction conflicts and forced interleavings.

Real DynamoDB cancels a transaction that overlaps another one on an item
(`TransactionCanceledException`, reason `TransactionConflict`) and refuses a plain write to an
item inside an in-flight transaction (`TransactionConflictException`); moto never does. These
tests make the service's own DynamoDB client answer so, through a botocore `before-call` hook
(the call never reaches moto), and force the orders in which a join, an end and a removal
interleave by running one request inside a hook of another.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from meetings import wiring
from meetings.adapters.table import codec
from meetings.domain.validation import request_token_for_room
from meetings.service.creating import NewMeeting, chime_request_fingerprint

from local.chime import ChimeEmulator
from tests.integration.conftest import ApiAnswer, Caller

HOST = Caller(sub="host-1")
BOB = Caller(sub="bob")


@dataclass
class FakeHttp:
    status_code: int = 400
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hooks:
    """Hooks on the service's DynamoDB client: `cancel(operation, when)` makes matching calls
    fail as DynamoDB's conflicts do; `calls` records every call's parameters."""

    client: Any
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stopped: bool = False

    def stop(self) -> None:
        """Failures injected with `fail` stop."""
        self.stopped = True

    def record(self) -> None:
        def remember(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.calls.append((model.name, json.loads(params["body"] or b"{}")))

        self.client.meta.events.register("before-call.dynamodb", remember)

    def fail(
        self,
        operation: str,
        when: Callable[[dict[str, Any]], bool],
        answer: Callable[[dict[str, Any]], dict[str, Any]],
        times: int | None,
    ) -> list[dict[str, Any]]:
        """The next `times` (None: every) `operation` calls matching `when` get `answer`."""
        failed: list[dict[str, Any]] = []

        def refuse(params: dict[str, Any], **_: Any) -> Any:
            request = json.loads(params["body"] or b"{}")
            exhausted = times is not None and len(failed) >= times
            if self.stopped or exhausted or not when(request):
                return None
            failed.append(request)
            return FakeHttp(), answer(request)

        self.client.meta.events.register(f"before-call.dynamodb.{operation}", refuse)
        return failed

    def after(
        self, operation: str, when: Callable[[dict[str, Any]], bool], action: Callable[[], None]
    ) -> None:
        """Run `action` once, right after the first successful matching call."""
        done: list[bool] = []

        def then(http_response: Any, model: Any, context: Any, **_: Any) -> None:
            request = context.get("_hook_request")
            if done or http_response.status_code >= 300 or request is None or not when(request):
                return
            done.append(True)
            action()

        def keep(params: dict[str, Any], context: Any, **_: Any) -> None:
            context["_hook_request"] = json.loads(params["body"] or b"{}")

        self.client.meta.events.register(f"before-call.dynamodb.{operation}", keep)
        self.client.meta.events.register(f"after-call.dynamodb.{operation}", then)

    def before(
        self, operation: str, when: Callable[[dict[str, Any]], bool], action: Callable[[], None]
    ) -> None:
        """Run `action` once, right before the first matching call is sent."""
        done: list[bool] = []

        def first(params: dict[str, Any], **_: Any) -> None:
            if not done and when(json.loads(params["body"] or b"{}")):
                done.append(True)
                action()

        self.client.meta.events.register(f"before-call.dynamodb.{operation}", first)


@pytest.fixture
def hooks(backend: Any) -> Iterator[Hooks]:
    yield Hooks(wiring.container().meeting_store.client)


def _is_attendee_put(action: dict[str, Any]) -> bool:
    put = action.get("Put") or {}
    return str(put.get("Item", {}).get("sk", {}).get("S", "")).startswith(codec.ATTENDEE_SK_PREFIX)


def _writes_an_attendee(request: dict[str, Any]) -> bool:
    return any(_is_attendee_put(action) for action in request.get("TransactItems", []))


def _conflict_cancellation(request: dict[str, Any]) -> dict[str, Any]:
    reasons = [
        {"Code": "TransactionConflict" if _is_attendee_put(action) else "None"}
        for action in request["TransactItems"]
    ]
    return {
        "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
        "CancellationReasons": reasons,
    }


def _is_count(request: dict[str, Any]) -> bool:
    return "ADD #total" in str(request.get("UpdateExpression", ""))


def _conflict_exception(_: dict[str, Any]) -> dict[str, Any]:
    return {"Error": {"Code": "TransactionConflictException", "Message": "in a transaction"}}


def _new_meeting(api: Callable[..., ApiAnswer]) -> str:
    created = api("POST", "/meetings", caller=HOST, body={})
    assert created.status == 201, created.body
    return str(created.body["meeting"]["meetingId"])


def _deleted_attendees(chime: ChimeEmulator) -> list[str]:
    return [
        str(envelope["detail"]["attendeeId"])
        for envelope in chime.events
        if envelope["detail"]["eventType"] == "chime:AttendeeDeleted"
    ]


def _live_attendees(chime_client: Any, meeting_id: str) -> list[dict[str, Any]]:
    return list(chime_client.list_attendees(MeetingId=meeting_id)["Attendees"])


def _item(table: Any, meeting_id: str, sort_key: str) -> dict[str, Any] | None:
    from tests.integration.conftest import TABLE_NAME  # noqa: PLC0415

    answer = table.get_item(
        TableName=TABLE_NAME, Key={"pk": {"S": codec.meeting_pk(meeting_id)}, "sk": {"S": sort_key}}
    )
    item: dict[str, Any] | None = answer.get("Item")
    return item


# --- defect: a transaction conflict was an outage, and deleted the Chime attendee -------------


def test_a_join_whose_transaction_conflicts_is_retried_not_undone(
    api: Callable[..., ApiAnswer], hooks: Hooks, chime: ChimeEmulator, chime_client: Any
) -> None:
    meeting_id = _new_meeting(api)
    cancelled = hooks.fail(
        "TransactWriteItems", _writes_an_attendee, _conflict_cancellation, times=2
    )

    joined = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)

    assert len(cancelled) == 2
    assert joined.status == 201, joined.body
    attendee_id = joined.body["Attendee"]["AttendeeId"]
    assert [a["AttendeeId"] for a in _live_attendees(chime_client, meeting_id)] == [attendee_id]
    assert _deleted_attendees(chime) == []
    meeting = api("GET", f"/meetings/{meeting_id}", caller=HOST).body["meeting"]
    assert meeting["attendees"]["total"] == 1


def test_a_join_that_keeps_conflicting_is_a_409_and_keeps_its_chime_attendee(
    api: Callable[..., ApiAnswer], hooks: Hooks, chime: ChimeEmulator, chime_client: Any
) -> None:
    meeting_id = _new_meeting(api)
    hooks.fail("TransactWriteItems", _writes_an_attendee, _conflict_cancellation, times=None)

    refused = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)

    assert (refused.status, refused.error_code) == (409, "CONFLICT")
    assert refused.headers.get("retry-after") == "1"
    assert _deleted_attendees(chime) == []
    (kept,) = _live_attendees(chime_client, meeting_id)
    # The retry gets the same Chime attendee back (same ExternalUserId) and records it.
    hooks.stop()
    retried = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert retried.status == 201, retried.body
    assert retried.body["Attendee"]["AttendeeId"] == kept["AttendeeId"]
    assert _deleted_attendees(chime) == []


def test_the_join_transaction_touches_only_the_users_own_items(
    api: Callable[..., ApiAnswer], hooks: Hooks
) -> None:
    """Two joins by different users share no item, so they cannot conflict."""
    meeting_id = _new_meeting(api)
    hooks.record()

    assert api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB).status == 201

    (transaction,) = [params for name, params in hooks.calls if name == "TransactWriteItems"]
    touched = {
        next(iter(action.values()))["Key" if "Put" not in action else "Item"]["sk"]["S"]
        for action in transaction["TransactItems"]
    }
    assert codec.MEETING_SK not in touched
    assert touched == {f"{codec.USER_SK_PREFIX}bob"} | {
        sk for sk in touched if sk.startswith(codec.ATTENDEE_SK_PREFIX)
    }
    assert len(touched) == 2


def test_a_lost_attendee_count_is_repaired_when_the_meeting_ends(
    api: Callable[..., ApiAnswer], hooks: Hooks, chime_client: Any
) -> None:
    meeting_id = _new_meeting(api)
    hooks.fail("UpdateItem", _is_count, _conflict_exception, times=None)

    joined = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)

    assert joined.status == 201, joined.body
    assert len(_live_attendees(chime_client, meeting_id)) == 1
    lagging = api("GET", f"/meetings/{meeting_id}", caller=HOST).body["meeting"]
    assert lagging["attendees"]["total"] == 0  # documented: may lag while open
    ended = api("DELETE", f"/meetings/{meeting_id}", caller=HOST)
    assert ended.status == 200, ended.body
    assert ended.body["meeting"]["attendees"]["total"] == 1
    again = api("GET", f"/meetings/{meeting_id}", caller=HOST).body["meeting"]
    assert again["attendees"]["total"] == 1


# --- a join racing the end: either the end closes the attendee, or the join sees ENDED ------


def test_an_end_committed_between_the_join_write_and_its_check_answers_410(
    api: Callable[..., ApiAnswer], hooks: Hooks, backend: Any
) -> None:
    meeting_id = _new_meeting(api)
    ended: list[ApiAnswer] = []
    hooks.after(
        "TransactWriteItems",
        _writes_an_attendee,
        lambda: ended.append(api("DELETE", f"/meetings/{meeting_id}", caller=HOST)),
    )

    joined = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)

    assert ended[0].status == 200, ended[0].body
    assert (joined.status, joined.error_code) == (410, "MEETING_ENDED")
    meeting_ttl = _item(backend, meeting_id, codec.MEETING_SK)["expiresAt"]  # type: ignore[index]
    pointer = _item(backend, meeting_id, f"{codec.USER_SK_PREFIX}bob")
    assert pointer is not None
    attendee = _item(backend, meeting_id, codec.attendee_sk(pointer["attendeeId"]["S"]))
    assert attendee is not None
    assert attendee["expiresAt"] == meeting_ttl
    assert pointer["expiresAt"] == meeting_ttl
    # The end read the partition after the attendee was written: it closed and counted it.
    meeting = api("GET", f"/meetings/{meeting_id}", caller=HOST).body["meeting"]
    assert meeting["attendees"]["total"] == 1


def test_a_join_recorded_while_the_end_runs_is_closed_by_the_end(
    api: Callable[..., ApiAnswer], backend: Any
) -> None:
    """The other order: the join is written and counted after the end began (its reason is
    noted) but before the end marks the meeting ENDED and reads the partition."""
    meeting_id = _new_meeting(api)
    container = wiring.container()
    delete_meeting = container.chime.delete_meeting
    joined: list[ApiAnswer] = []

    def join_then_delete(meeting: str) -> Any:
        joined.append(api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB))
        return delete_meeting(meeting)

    container.chime.delete_meeting = join_then_delete  # type: ignore[method-assign]

    ended = api("DELETE", f"/meetings/{meeting_id}", caller=HOST)

    assert joined[0].status == 201, joined[0].body
    assert ended.status == 200, ended.body
    assert ended.body["meeting"]["attendees"]["total"] == 1
    attendee_id = joined[0].body["Attendee"]["AttendeeId"]
    attendee = _item(backend, meeting_id, codec.attendee_sk(attendee_id))
    meeting_ttl = _item(backend, meeting_id, codec.MEETING_SK)["expiresAt"]  # type: ignore[index]
    assert attendee is not None
    assert attendee["expiresAt"] == meeting_ttl


# --- defect: a removed user kept a live seat ------------------------------------------------


def test_a_join_racing_the_removal_meets_the_bar_and_keeps_no_seat(
    api: Callable[..., ApiAnswer], chime_client: Any
) -> None:
    meeting_id = _new_meeting(api)
    first = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert first.status == 201
    attendee_id = first.body["Attendee"]["AttendeeId"]
    container = wiring.container()
    delete_attendee = container.chime.delete_attendee
    raced: list[ApiAnswer] = []
    racing: list[bool] = []

    def delete_then_join(meeting: str, attendee: str) -> Any:
        answer = delete_attendee(meeting, attendee)
        if not racing:  # bob joins again right after Chime deleted his attendee
            racing.append(True)
            raced.append(api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB))
        return answer

    container.chime.delete_attendee = delete_then_join  # type: ignore[method-assign]

    removed = api("DELETE", f"/meetings/{meeting_id}/attendees/{attendee_id}", caller=HOST)

    assert removed.status == 204, removed.body
    assert (raced[0].status, raced[0].error_code) == (403, "ATTENDEE_REMOVED")
    assert _live_attendees(chime_client, meeting_id) == []
    again = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert (again.status, again.error_code) == (403, "ATTENDEE_REMOVED")
    assert _live_attendees(chime_client, meeting_id) == []


def test_removing_an_attendee_without_a_pointer_bars_the_user(
    api: Callable[..., ApiAnswer], backend: Any, chime_client: Any
) -> None:
    """An attendee only ever seen in events has no pointer: the removal creates a barred one."""
    from tests.integration.conftest import TABLE_NAME  # noqa: PLC0415

    meeting_id = _new_meeting(api)
    first = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    attendee_id = first.body["Attendee"]["AttendeeId"]
    backend.delete_item(
        TableName=TABLE_NAME,
        Key={"pk": {"S": codec.meeting_pk(meeting_id)}, "sk": {"S": codec.user_sk("bob")}},
    )

    removed = api("DELETE", f"/meetings/{meeting_id}/attendees/{attendee_id}", caller=HOST)

    assert removed.status == 204, removed.body
    pointer = _item(backend, meeting_id, codec.user_sk("bob"))
    assert pointer is not None and pointer["barred"] == {"BOOL": True}
    again = api("POST", f"/meetings/{meeting_id}/attendees", caller=BOB)
    assert (again.status, again.error_code) == (403, "ATTENDEE_REMOVED")
    assert _live_attendees(chime_client, meeting_id) == []


# --- defect: an undo deleted a meeting another caller was handed ----------------------------


def test_a_capped_callers_undo_never_ends_another_callers_room_meeting(
    api: Callable[..., ApiAnswer],
    chime: ChimeEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from local.lambda_runtime import forget_cached_state  # noqa: PLC0415

    monkeypatch.setenv("MAX_OPEN_MEETINGS_PER_USER", "1")
    forget_cached_state()
    alice, capped = Caller(sub="alice"), Caller(sub="carol")
    assert api("POST", "/meetings", caller=capped, body={}).status == 201  # carol at the cap
    container = wiring.container()
    create_in_chime = container.chime.create_meeting
    refused: list[ApiAnswer] = []
    racing: list[bool] = []

    def create_then_race(**arguments: Any) -> Any:
        created = create_in_chime(**arguments)
        if not racing:  # carol sends the same room create before alice's record is written
            racing.append(True)
            room = {"externalMeetingId": "xx"}
            refused.append(api("POST", "/meetings", caller=capped, body=room))
        return created

    container.chime.create_meeting = create_then_race  # type: ignore[method-assign]

    answer = api("POST", "/meetings", caller=alice, body={"externalMeetingId": "xx"})

    assert (refused[0].status, refused[0].error_code) == (429, "USER_MEETING_LIMIT")
    assert answer.status == 201, answer.body
    meeting_id = answer.body["meeting"]["meetingId"]
    assert meeting_id in chime.open_meeting_ids()
    assert chime.end_reason(meeting_id) is None


def test_a_callers_repeated_room_create_lands_on_the_same_chime_meeting() -> None:
    spec = NewMeeting(externalMeetingId="x", join=True)
    mine = request_token_for_room("x", 1, chime_request_fingerprint("alice", spec))
    assert mine == request_token_for_room("X", 1, chime_request_fingerprint("alice", spec))
    assert mine != request_token_for_room("x", 1, chime_request_fingerprint("bob", spec))
    unjoined = NewMeeting(externalMeetingId="x")
    assert request_token_for_room(
        "x", 1, chime_request_fingerprint("alice", unjoined)
    ) != request_token_for_room("x", 1, chime_request_fingerprint("bob", unjoined))
