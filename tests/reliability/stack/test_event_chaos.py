"""A bad day of EventBridge: meetings with random attendees, media and auto-ends, whose Chime
events are dropped, duplicated and reordered (10% each, window 5) on the way to the events
function; then a forced reconciliation. The emulator is the truth; the events that actually
reached the function (recorded in-process, as an oracle) say what the backend could know.

Checked for every meeting: status; nobody connected once ended; the end reason wherever the
applied events make it inferable (MeetingEnded and every presence event of the meeting
applied), `host_ended` for host ends, and — when MeetingEnded was lost but every presence
event arrived — `vanished` or the reason the timeline predicts (Chime and the backend share the
world clock, so a predicted end lies in the backend's past). Where chaos lost a presence event
as well, no reason is demanded: the events that arrived may honestly predict another rule (a
lost second join reads as one talker), which the backend cannot know.

An inferred reason is stated once, by the cleanup, past the settle window (docs/events.md,
"Settlement"): mismatches are counted before reconciliation (inferred reasons still read
`unknown` there) and after reconciliation and settlement (the world clock advanced past the
window, the cleanup run); after it there must be none. A failure names each wrong meeting with
Chime's reason, the one read back and the events that never reached the function."""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from typing import Any

import pytest

from local.stack import LocalStack
from tests.localstack_support import Api, settle_end_reasons, wait_until

PRESENCE = {"chime:MeetingStarted", "chime:AttendeeJoined", "chime:AttendeeLeft",
            "chime:AttendeeDropped", "chime:AttendeeDeleted"}  # fmt: skip
CHAOS = {"dropRate": 0.1, "duplicateRate": 0.1, "reorderWindow": 5, "seed": 20261125}


def _event_key(detail: dict[str, Any]) -> str:
    # EventBridge gives each event its own envelope id on the way: the detail identifies it.
    return json.dumps(detail, sort_keys=True)


class AppliedEvents:
    """Wraps the events poller's invoke: which Chime events the function accepted."""

    def __init__(self, stack: LocalStack) -> None:
        self.poller = stack.events_poller
        self.original = self.poller.invoke
        self.by_meeting: dict[str, set[str]] = defaultdict(set)
        self.ids: set[str] = set()
        self.poller.invoke = self._invoke

    def _invoke(self, event: dict[str, Any]) -> Any:
        result = self.original(event) or {}
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        for record in event["Records"]:
            if record["messageId"] not in failed:
                envelope = json.loads(record["body"])
                detail = envelope["detail"]
                self.ids.add(_event_key(detail))
                self.by_meeting[detail["meetingId"]].add(detail["eventType"])
        return result

    def restore(self) -> None:
        self.poller.invoke = self.original


def _simulate(api: Api, rng: random.Random, tag: str, index: int) -> dict[str, Any]:
    host = api.token(f"{tag}-host{index}")
    meeting_id = api.request("POST", "/meetings", token=host, body={}).json["meeting"]["meetingId"]
    for seat in range(rng.choice([0, 0, 1, 1, 2, 3])):
        token = api.token(f"{tag}-m{index}-u{seat}")
        attendee = api.request("POST", f"/meetings/{meeting_id}/attendees", token=token).json
        media = f"/_local/meetings/{meeting_id}/attendees/{attendee['Attendee']['AttendeeId']}"
        api.request("POST", f"{media}/connect", body={"audio": True, "video": rng.random() < 0.3})
        if rng.random() < 0.3:
            api.request("POST", f"{media}/{rng.choice(['leave', 'drop'])}", body={})
    if rng.random() < 0.1:
        api.request("DELETE", f"/meetings/{meeting_id}", token=host)
    return {"id": meeting_id, "host": host}


def _quiet(api: Api, stack: LocalStack) -> None:
    """Until the Chime queue is empty and deliveries stopped moving."""
    sqs = stack.client("sqs")

    def pending() -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.events_poller.queue_url, AttributeNames=names
        )["Attributes"]
        return sum(int(attributes[name]) for name in names)

    last = -1

    def settled() -> bool:
        nonlocal last
        delivered = api.request("GET", "/_local/chaos").json["deliveries"]["delivered"]
        still = pending() == 0 and delivered == last
        last = delivered
        return still

    wait_until(settled, timeout=180, every=3.0)


class Mismatches(dict[str, int]):
    """Counts per kind, with a line of evidence per wrong reason (for the failure message)."""

    def __init__(self) -> None:
        super().__init__()
        self.evidence: list[str] = []

    def count(self, kind: str, wrong: bool = True) -> None:
        self[kind] = self.get(kind, 0) + int(wrong)


def _mismatches(
    api: Api, stack: LocalStack, meetings: list[dict[str, Any]], applied: AppliedEvents
) -> Mismatches:
    found = Mismatches()
    open_in_chime = stack.chime.open_meeting_ids()
    emitted: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for envelope in stack.chime.events:
        emitted[envelope["detail"]["meetingId"]].append(envelope)
    for meeting in meetings:
        view = api.request("GET", f"/meetings/{meeting['id']}", token=meeting["host"]).json
        view = view["meeting"]
        if meeting["id"] in open_in_chime:
            found.count("status", view["status"] == "ENDED")
            continue
        if view["status"] != "ENDED":
            found.count("status")
            continue
        found.count("connected", view["attendees"]["connected"] != 0)
        truth = stack.chime.end_reason(meeting["id"])
        expected = _expected_reason(truth, applied, emitted[meeting["id"]])
        if expected is None:
            found.count("uninferable (not checked)")
            continue
        found.count("reason", view["endReason"] not in expected)
        if view["endReason"] not in expected:
            unapplied = [
                e["detail"]["eventType"]
                for e in emitted[meeting["id"]]
                if _event_key(e["detail"]) not in applied.ids
            ]
            found.evidence.append(
                f"{meeting['id']}: Chime {truth}, read {view['endReason']},"
                f" expected {sorted(expected)}, not applied {unapplied}"
            )
    return found


def _expected_reason(
    truth: str | None, applied: AppliedEvents, emitted: list[dict[str, Any]]
) -> set[str] | None:
    """The reasons the record may honestly show; None when the applied events cannot tell."""
    if truth == "deleted":
        return {"host_ended"}
    applied_ids = {e["id"] for e in emitted if _event_key(e["detail"]) in applied.ids}
    timeline = [e for e in emitted if e["detail"]["eventType"] in PRESENCE]
    if not all(e["id"] in applied_ids for e in timeline):
        return None
    ended = [e for e in emitted if e["detail"]["eventType"] == "chime:MeetingEnded"]
    if not ended or ended[0]["id"] not in applied_ids:
        return {"vanished"} | ({truth} if truth else set())
    return {truth} if truth else None


def run_chaos(api: Api, stack: LocalStack, count: int, tag: str) -> tuple[Mismatches, ...]:
    applied = AppliedEvents(stack)
    try:
        assert api.request("POST", "/_local/chaos", body=CHAOS).status == 200
        rng = random.Random(CHAOS["seed"])
        meetings = [_simulate(api, rng, tag, index) for index in range(count)]
        time.sleep(3)  # first events that overtook their record's write come back
        api.request("POST", "/_local/clock/advance", body={"seconds": 86_401})
        _quiet(api, stack)
        before = _mismatches(api, stack, meetings, applied)
        for _ in range(10):
            summary = api.request("POST", "/_local/cleanup", body={"reconcile": "all"}).json
            if summary.get("complete", True):
                break
        _quiet(api, stack)
        settle_end_reasons(api, stack)
        after = _mismatches(api, stack, meetings, applied)
        stats = api.request("GET", "/_local/chaos").json["deliveries"]
    finally:
        api.request("POST", "/_local/chaos", body={})
        applied.restore()
    print(f"chaos {count} meetings: deliveries {stats}; before {before}; after {after}")
    return before, after


def _no_mismatch(found: Mismatches) -> bool:
    return all(n == 0 for kind, n in found.items() if not kind.startswith("uninferable"))


def _report(found: Mismatches) -> str:
    return f"{dict(found)}; " + "; ".join(found.evidence)


def test_event_chaos_small(api: Api, local_stack: LocalStack, unique: Any) -> None:
    _, after = run_chaos(api, local_stack, 25, unique("chaos"))
    assert _no_mismatch(after), _report(after)


@pytest.mark.slow
def test_event_chaos_200_meetings(api: Api, local_stack: LocalStack, unique: Any) -> None:
    _, after = run_chaos(api, local_stack, 200, unique("chaos200"))
    assert _no_mismatch(after), _report(after)
