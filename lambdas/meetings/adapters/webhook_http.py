"""The webhook POST, to the address the SSRF check approved (ports: HostResolver,
WebhookSender).

The connection goes to that IP address itself — never to the name, which a second DNS answer
could point elsewhere (DNS rebinding) — while the `Host` header, TLS SNI and certificate check
use the name, so the receiver sees an ordinary request. Redirects are never followed and
nothing is retried here: a 3xx is a failed attempt, and the schedule decides about the next.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Final

import urllib3

from meetings.deployment import WEBHOOK_DELIVERY_TIMEOUT_SECONDS
from meetings.domain.url_safety import IPAddress, Target
from meetings.service.ports import SendOutcome

USER_AGENT: Final = "meetings-backend-webhooks/1"
# What is read of an answer: receivers owe us a status code, not a body.
MAX_ANSWER_BYTES: Final = 4096


class SystemResolver:
    def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return []
        addresses: dict[IPAddress, None] = {}
        for _family, _type, _proto, _name, sockaddr in answers:
            text = str(sockaddr[0]).split("%", 1)[0]
            addresses[ipaddress.ip_address(text)] = None
        return list(addresses)


class PinnedHttpSender:
    def __init__(self, timeout_seconds: float = WEBHOOK_DELIVERY_TIMEOUT_SECONDS) -> None:
        self.timeout = urllib3.Timeout(total=timeout_seconds)

    def _pool(self, target: Target, address: IPAddress) -> urllib3.HTTPConnectionPool:
        host = str(address)
        if target.scheme == "https":
            return urllib3.HTTPSConnectionPool(
                host,
                target.port,
                timeout=self.timeout,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                assert_hostname=target.host,
                server_hostname=target.host,
            )
        return urllib3.HTTPConnectionPool(host, target.port, timeout=self.timeout, retries=False)

    def post(
        self, target: Target, address: IPAddress, headers: dict[str, str], body: str
    ) -> SendOutcome:
        started = time.monotonic()
        request_headers = {
            **headers,
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        pool = self._pool(target, address)
        try:
            answer = pool.urlopen(
                "POST",
                target.path_and_query,
                body=body.encode(),
                headers=request_headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            answer.read(MAX_ANSWER_BYTES)
            answer.release_conn()
        except urllib3.exceptions.HTTPError as error:
            return SendOutcome(None, _elapsed_ms(started), error=_describe(error))
        finally:
            pool.close()
        return SendOutcome(answer.status, _elapsed_ms(started))


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe(error: Exception) -> str:
    """The failure's kind and reason; no URL or header (they may carry what a receiver put
    there), only what urllib3 says went wrong."""
    reason = getattr(error, "reason", None)
    return f"{type(error).__name__}: {reason or error}"
