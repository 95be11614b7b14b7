"""The webhook POST against a loopback server: it goes to the address given (never a second
lookup of the name), carries the name in `Host`, and never follows a redirect."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from meetings.adapters.webhook_http import PinnedHttpSender, SystemResolver
from meetings.domain.url_safety import TargetPolicy, parse_target

LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.fixture
def server() -> Iterator[tuple[int, list[tuple[str, dict[str, str], bytes]]]]:
    seen: list[tuple[str, dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if self.path.startswith("/moved"):
                self.send_response(307)
                self.send_header("location", "/elsewhere")
            else:
                self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], seen
    httpd.shutdown()
    httpd.server_close()


def test_the_post_goes_to_the_checked_address_with_the_name_as_host(
    server: tuple[int, list[tuple[str, dict[str, str], bytes]]],
) -> None:
    port, seen = server
    # The name would resolve nowhere: only the pinned address is used.
    target = parse_target(f"http://localhost:{port}/in?x=1", TargetPolicy.LOOPBACK)
    outcome = PinnedHttpSender().post(target, LOOPBACK, {"webhook-id": "evt"}, '{"a":1}')
    assert (outcome.status_code, outcome.delivered) == (204, True)
    [(path, headers, body)] = seen
    assert (path, headers["host"], headers["webhook-id"], body) == (
        "/in?x=1",
        f"localhost:{port}",
        "evt",
        b'{"a":1}',
    )


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    server: tuple[int, list[tuple[str, dict[str, str], bytes]]],
) -> None:
    port, seen = server
    target = parse_target(f"http://127.0.0.1:{port}/moved", TargetPolicy.LOOPBACK)
    outcome = PinnedHttpSender().post(target, LOOPBACK, {}, "{}")
    assert (outcome.status_code, outcome.delivered) == (307, False)
    assert [path for path, _, _ in seen] == ["/moved"]


def test_no_answer_is_an_error_not_an_exception() -> None:
    with HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    target = parse_target(f"http://127.0.0.1:{port}/", TargetPolicy.LOOPBACK)
    outcome = PinnedHttpSender(timeout_seconds=2).post(target, LOOPBACK, {}, "{}")
    assert outcome.status_code is None and outcome.error


def test_the_resolver_answers_the_addresses_of_a_name() -> None:
    # localhost comes from the hosts file: no DNS query leaves the machine.
    answers = SystemResolver().resolve("localhost", 80)
    assert answers and all(address.is_loopback for address in answers)


def test_tls_goes_to_the_address_with_the_name_for_sni_and_the_certificate() -> None:
    # Builds the connection object only: nothing connects.
    target = parse_target("https://hooks.example.com/in")
    pool = PinnedHttpSender()._pool(target, ipaddress.ip_address("93.184.215.14"))
    connection = pool._new_conn()
    assert (connection.host, connection.server_hostname, connection.assert_hostname) == (
        "93.184.215.14",
        "hooks.example.com",
        "hooks.example.com",
    )
    assert pool.cert_reqs == "CERT_REQUIRED"
