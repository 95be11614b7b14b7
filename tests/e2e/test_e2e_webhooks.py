"""Webhooks over the local stack, end to end: loopback receivers registered through the API,
a meeting's lifecycle, and every delivery verified with the Standard Webhooks library — in
Python and in Node, as customers' receivers do. A receiver that fails its first attempts gets
the event on a retry (same `webhook-id`); one answering 410 is disabled, and the others get
`webhook.disabled`. Only loopback receives traffic."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks.webhooks
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
    of each webhook-id then 200, `/gone` 410."""

    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def status_for(self, path: str, webhook_id: str) -> int:
        if path == "/gone":
            return 410
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


@pytest.fixture
def world_time(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> float:
    """The receivers live in the stack's world (its clock may have been advanced by other
    tests): the library's timestamp check reads the world's time. Returns the offset (s)."""
    offset = local_stack.world.offset_seconds()

    class WorldDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + timedelta(seconds=offset)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", WorldDatetime)
    return offset


def _register(api: Api, admin: str, url: str, types: list[str]) -> tuple[str, str]:
    answer = api.request("POST", "/webhooks", token=admin, body={"url": url, "eventTypes": types})
    assert answer.status == 201, answer.body
    return answer.json["webhook"]["webhookId"], answer.json["secret"]


def _node_verifies(deliveries: list[dict[str, Any]], offset_seconds: float) -> list[str]:
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
    payload = {"worldOffsetMs": int(offset_seconds * 1000), "deliveries": deliveries}
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
    world_time: float,
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
    assert set(_node_verifies(deliveries, world_time)) == lifecycle


def test_ping_rotation_and_redelivery(
    api: Api,
    unique: Callable[[str], str],
    wait: Callable[..., Any],
    receiver: tuple[Receiver, str],
    world_time: float,
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
