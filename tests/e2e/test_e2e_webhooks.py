"""Webhooks over the local stack, end to end: loopback receivers registered through the API,
a meeting's lifecycle, and every delivery verified with the Standard Webhooks library — in
Python and in Node, as customers' receivers do. A receiver that fails its first attempts gets
the event on a retry (same `webhook-id`); one answering 410 is disabled, and the others get
`webhook.disabled`. Receivers verify with their real clocks, also after the world clock moved.
A receiver that holds its connection does not delay another's delivery in the same batch, nor,
once it is failing, in the next batches: its deliveries wait on the retry lane. Only loopback
receives traffic."""

from __future__ import annotations

import json
import select
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from meetings.domain.instants import rfc3339
from meetings.domain.webhooks import Delivery, delivery_body
from standardwebhooks import Webhook

from local.stack import LocalStack
from tests.localstack_support import Api

NODE_RECEIVER = Path(__file__).parent / "webhook_receiver"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1: `/ok` answers 204, `/flaky` 500 to the first two requests
    of each webhook-id then 200, `/gone` 410; `/hold` keeps the delivery of `hold_id` open
    without an answer until `release` is set (`held`: one is being held; `abandoned`: the
    sender gave up on it); `/sick` answers 503 to the first webhook-id it sees, every time,
    and holds every other."""

    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    abandoned: threading.Event = field(default_factory=threading.Event)
    hold_id: str = ""

    def hold(self, connection: socket.socket) -> None:
        self.held.set()
        while not self.release.wait(0.05):
            readable, _, _ = select.select([connection], [], [], 0)
            if readable and connection.recv(1, socket.MSG_PEEK) == b"":
                self.abandoned.set()  # the sender closed the connection: it stopped waiting
                return

    def holds(self, path: str, webhook_id: str) -> bool:
        if path.startswith("/sick"):
            return webhook_id != self._first_id_at(path)
        return path.startswith("/hold") and webhook_id == self.hold_id

    def _first_id_at(self, path: str) -> str:
        with self.lock:
            return next(r.headers.get("webhook-id", "") for r in self.requests if r.path == path)

    def status_for(self, path: str, webhook_id: str) -> int:
        if path == "/gone":
            return 410
        if path.startswith("/sick"):
            return 503
        if path == "/flaky":
            seen = sum(
                1
                for r in self.requests
                if (r.path, r.headers.get("webhook-id")) == (path, webhook_id)
            )
            return 500 if seen <= 2 else 200
        return 204

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
            headers = {name.lower(): value for name, value in self.headers.items()}
            with state.lock:
                state.requests.append(Received(self.path, headers, body))
                status = state.status_for(self.path, headers.get("webhook-id", ""))
            if state.holds(self.path, headers.get("webhook-id", "")):
                state.hold(self.connection)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _register(api: Api, admin: str, url: str, types: list[str]) -> tuple[str, str]:
    answer = api.request("POST", "/webhooks", token=admin, body={"url": url, "eventTypes": types})
    assert answer.status == 201, answer.body
    return answer.json["webhook"]["webhookId"], answer.json["secret"]


def _node_verifies(deliveries: list[dict[str, Any]]) -> list[str]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed")
    if not (NODE_RECEIVER / "node_modules" / "standardwebhooks").exists():
        try:
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=NODE_RECEIVER, check=True, capture_output=True, timeout=300,
            )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as failure:
            pytest.skip(f"npm could not install standardwebhooks: {failure}")
    payload = {"deliveries": deliveries}
    result = subprocess.run(
        ["node", str(NODE_RECEIVER / "verify.js")],
        input=json.dumps(payload), capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    types: list[str] = json.loads(result.stdout)
    return types


def test_a_meeting_lifecycle_reaches_every_receiver_signed_and_in_sequence(
    api: Api,
    unique: Callable[[str], str],
    wait: Callable[..., Any],
    receiver: tuple[Receiver, str],
) -> None:
    state, base = receiver
    admin = api.token(unique("admin"), groups=["admins"])
    _, ok_secret = _register(api, admin, f"{base}/ok", ["*"])
    flaky_id, flaky_secret = _register(api, admin, f"{base}/flaky", ["meeting.ended"])
    gone_id, _ = _register(api, admin, f"{base}/gone", ["meeting.created"])

    host = api.token(unique("host"))
    created = api.request("POST", "/meetings", token=host, body={"join": True}).json
    meeting_id = created["meeting"]["meetingId"]
    attendee_id = created["joinInfo"]["Attendee"]["AttendeeId"]
    media = f"/_local/meetings/{meeting_id}/attendees/{attendee_id}"
    assert api.request("POST", f"{media}/connect", body={"audio": True}).status == 200
    wait(lambda: _types(state.at("/ok"), meeting_id) >= {"attendee.joined"}, timeout=30)
    assert api.request("POST", f"{media}/leave").status == 200
    wait(lambda: "attendee.left" in _types(state.at("/ok"), meeting_id), timeout=30)
    assert api.request("DELETE", f"/meetings/{meeting_id}", token=host).status == 200

    lifecycle = {"meeting.created", "meeting.started", "attendee.joined", "attendee.left",
                 "meeting.ended"}  # fmt: skip
    assert wait(lambda: _types(state.at("/ok"), meeting_id) >= lifecycle, timeout=30)
    # The 410 disabled its subscription; the stream turned that into webhook.disabled.
    assert wait(lambda: _disabled(state.at("/ok"), gone_id), timeout=30)
    gone = api.request("GET", f"/webhooks/{gone_id}", token=admin).json["webhook"]
    assert (gone["enabled"], gone["disabledReason"]) == (False, "gone")

    # The flaky receiver got this meeting's meeting.ended on its third attempt, with one
    # webhook-id (the stack is shared: other tests' meetings end too, and reach it as well).
    def flaky_ours() -> list[Received]:
        return [r for r in state.at("/flaky") if _meeting_of(r) == meeting_id]

    assert wait(lambda: len(flaky_ours()) >= 3, timeout=30)
    flaky = flaky_ours()
    (event_id,) = {r.headers["webhook-id"] for r in flaky}
    log = api.request("GET", f"/webhooks/{flaky_id}/deliveries", token=admin).json["deliveries"]
    attempts = [(d["attempt"], d["statusCode"]) for d in reversed(log) if d["eventId"] == event_id]
    assert attempts == [(1, 500), (2, 500), (3, 200)]

    ours = [r for r in state.at("/ok") if _meeting_of(r) == meeting_id]
    payloads = [Webhook(ok_secret).verify(r.body, r.headers) for r in ours]
    Webhook(flaky_secret).verify(flaky[-1].body, flaky[-1].headers)
    sequences = sorted({p["data"]["sequence"] for p in payloads})
    assert sequences == list(range(1, len(sequences) + 1))  # no gap
    connected = {p["type"]: p["data"]["connected"] for p in payloads if "connected" in p["data"]}
    assert connected == {"attendee.joined": 1, "attendee.left": 0}

    deliveries = [{"secret": ok_secret, "headers": r.headers, "body": r.body} for r in ours]
    deliveries.append({"secret": flaky_secret, "headers": flaky[-1].headers,
                       "body": flaky[-1].body})  # fmt: skip
    assert set(_node_verifies(deliveries)) == lifecycle


def test_ping_rotation_and_redelivery(
    api: Api,
    unique: Callable[[str], str],
    wait: Callable[..., Any],
    receiver: tuple[Receiver, str],
) -> None:
    state, base = receiver
    admin = api.token(unique("admin"), groups=["admins"])
    webhook_id, old_secret = _register(api, admin, f"{base}/ok?hook={unique('p')}", ["*"])
    path = f"/ok?hook={unique('p')}"
    assert api.request("PATCH", f"/webhooks/{webhook_id}", token=admin,
                       body={"url": base + path}).status == 200  # fmt: skip
    rotated = api.request("POST", f"/webhooks/{webhook_id}/rotate-secret", token=admin)
    new_secret = rotated.json["secret"]
    ping = api.request("POST", f"/webhooks/{webhook_id}/ping", token=admin)
    assert ping.status == 202
    [first] = wait(lambda: state.at(path), timeout=30)
    for secret in (old_secret, new_secret):  # both sign during the overlap
        assert Webhook(secret).verify(first.body, first.headers)["type"] == "webhook.ping"
    log = wait(lambda: api.request("GET", f"/webhooks/{webhook_id}/deliveries",
                                   token=admin).json["deliveries"], timeout=30)  # fmt: skip
    again = api.request(
        "POST", f"/webhooks/{webhook_id}/deliveries/{log[0]['deliveryId']}/redeliver", token=admin
    )
    assert again.status == 202
    second = wait(lambda: state.at(path)[1:], timeout=30)[0]
    assert second.headers["webhook-id"] == first.headers["webhook-id"] == ping.json["eventId"]
    assert second.body == first.body
    assert api.request("GET", f"/webhooks/{webhook_id}", token=admin).json["webhook"]["enabled"]


def _meeting_of(received: Received) -> str | None:
    meeting_id = json.loads(received.body)["data"].get("meetingId")
    return meeting_id if isinstance(meeting_id, str) else None


def _types(requests: list[Received], meeting_id: str) -> set[str]:
    return {json.loads(r.body)["type"] for r in requests if _meeting_of(r) == meeting_id}


def _disabled(requests: list[Received], webhook_id: str) -> bool:
    return any(
        json.loads(r.body)["type"] == "webhook.disabled"
        and json.loads(r.body)["data"]["webhookId"] == webhook_id
        for r in requests
    )


def test_receivers_verify_with_their_own_clock_after_the_world_clock_moved(
    api: Api, unique: Callable[[str], str], wait: Callable[..., Any], receiver: tuple[Receiver, str]
) -> None:
    state, base = receiver
    admin = api.token(unique("admin"), groups=["admins"])
    path = f"/ok?hook={unique('clock')}"
    webhook_id, secret = _register(api, admin, base + path, ["webhook.disabled"])
    advanced = api.request("POST", "/_local/clock/advance", body={"seconds": 86_400})
    assert advanced.status == 200, advanced.body
    assert api.request("POST", f"/webhooks/{webhook_id}/ping", token=admin).status == 202
    [ping] = wait(lambda: state.at(path), timeout=30)
    # The stock library, the machine's real clock: webhook-timestamp is the time of sending.
    payload = Webhook(secret).verify(ping.body, ping.headers)
    # The body's timestamp is the event's, in the world's time (a day ahead).
    assert payload["timestamp"] >= rfc3339(int((time.time() + 86_000) * 1000))


def _sqs_record(delivery: Delivery) -> dict[str, Any]:
    """A deliveries-queue message as the function receives it (first receive)."""
    return {
        "messageId": str(uuid.uuid4()), "receiptHandle": str(uuid.uuid4()),
        "body": delivery.to_message(), "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:webhook-deliveries",
    }  # fmt: skip


def test_one_slow_endpoint_does_not_delay_another_in_the_same_batch(
    api: Api,
    unique: Callable[[str], str],
    wait: Callable[..., Any],
    receiver: tuple[Receiver, str],
    local_stack: LocalStack,
) -> None:
    state, base = receiver
    admin = api.token(unique("admin"), groups=["admins"])
    slow_path, fast_path = f"/hold?hook={unique('slow')}", f"/ok?hook={unique('fast')}"
    slow_id, _ = _register(api, admin, base + slow_path, ["webhook.disabled"])
    fast_id, fast_secret = _register(api, admin, base + fast_path, ["webhook.disabled"])
    event_id = state.hold_id = unique("evt")
    now = rfc3339(int(datetime.now(UTC).timestamp() * 1000))
    body = delivery_body("webhook.disabled", now, {"eventId": event_id, "occurredAt": now})
    # One batch, the slow endpoint first: the function itself, as the queue would invoke it.
    batch = {"Records": [_sqs_record(Delivery(hook, event_id, "webhook.disabled", body))
                         for hook in (slow_id, fast_id)]}  # fmt: skip
    with ThreadPoolExecutor(max_workers=1) as pool:
        invocation = pool.submit(local_stack.invoke, "webhook_delivery", batch)
        try:
            assert wait(lambda: state.held.is_set() and state.at(fast_path), timeout=30)
            # The fast one was answered while the slow one is still held open.
            assert not state.abandoned.is_set() and not invocation.done()
        finally:
            state.release.set()
        assert invocation.result(timeout=60) == {"batchItemFailures": []}
    [fast] = state.at(fast_path)
    assert Webhook(fast_secret).verify(fast.body, fast.headers)["data"]["eventId"] == event_id


def test_a_failing_slow_endpoint_does_not_delay_another_across_batches(
    api: Api, unique: Callable[[str], str], wait: Callable[..., Any], receiver: tuple[Receiver, str]
) -> None:
    """One delivery worker per lane (the suite's stack): the sick endpoint's held attempt takes
    the retry lane's only worker, and the healthy endpoint's ping still goes through."""
    state, base = receiver
    state.held, state.release, state.abandoned = (threading.Event() for _ in range(3))
    admin = api.token(unique("admin"), groups=["admins"])
    sick_path, fast_path = f"/sick?hook={unique('sick')}", f"/ok?hook={unique('fast')}"
    sick_id, _ = _register(api, admin, base + sick_path, ["webhook.disabled"])
    fast_id, _ = _register(api, admin, base + fast_path, ["webhook.disabled"])
    try:
        assert api.request("POST", f"/webhooks/{sick_id}/ping", token=admin).status == 202
        wait(lambda: api.request("GET", f"/webhooks/{sick_id}", token=admin)
             .json["webhook"]["failingSince"], timeout=30)  # fmt: skip
        assert api.request("POST", f"/webhooks/{sick_id}/ping", token=admin).status == 202
        assert wait(state.held.is_set, timeout=30)  # the retry lane's worker is stuck on it
        assert api.request("POST", f"/webhooks/{fast_id}/ping", token=admin).status == 202
        assert wait(lambda: state.at(fast_path), timeout=30)
        # The healthy endpoint got its event while the sick one's attempt is still held open.
        assert not state.abandoned.is_set()
    finally:
        state.release.set()
        api.request("DELETE", f"/webhooks/{sick_id}", token=admin)
