"""The local API Gateway: HTTP on loopback → the deployed api handler, as the HTTP API does it.

Each request is matched against the deployed routes, its bearer JWT checked as the JWT
authorizer checks it, turned into the payload 2.0 event and handed to a worker process
running the real handler. Paths under `/_local/` go to the local control plane instead
(never deployed), and `/console/` to the meetings console's files (local/console_site.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from meetings.deployment import CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS

from local import activity, apigw
from local.auth import LocalIssuer, TokenRejectedError
from local.console_site import ConsoleSite
from local.lambda_runtime import HandlerPool

log = logging.getLogger("local.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
LOCAL_PREFIX = "/_local/"
# (status, JSON body) for a control-plane request: method, path, parsed JSON body.
ControlPlane = Callable[[str, str, Any], tuple[int, Any]]


@dataclass(frozen=True)
class CorsPolicy:
    allowed_origins: Sequence[str] = ("*",)
    max_age_seconds: int = 600

    def allow_origin(self, origin: str | None) -> str | None:
        if not origin:
            return None
        if "*" in self.allowed_origins:
            return "*"
        return origin if origin in self.allowed_origins else None

    def preflight_headers(self, origin: str) -> list[tuple[str, str]]:
        return [
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", "GET,POST,PUT,DELETE,OPTIONS"),
            ("access-control-allow-headers", ",".join(CORS_ALLOWED_HEADERS).lower()),
            ("access-control-max-age", str(self.max_age_seconds)),
        ]

    def response_headers(self, origin: str) -> list[tuple[str, str]]:
        return [
            ("access-control-allow-origin", origin),
            ("access-control-expose-headers", ",".join(CORS_EXPOSED_HEADERS).lower()),
        ]


class LocalGateway:
    """The HTTP server; `start()` runs it on a background thread."""

    def __init__(
        self,
        *,
        pool: HandlerPool,
        issuer: LocalIssuer,
        control_plane: ControlPlane,
        cors: CorsPolicy | None = None,
        host: str = "127.0.0.1",
        port: int = 3000,
        console: ConsoleSite | None = None,
        routes: tuple[apigw.Route, ...] = apigw.ROUTES,
    ) -> None:
        """`routes`: the HTTP API's routes (the local stack passes the template's)."""
        self.pool = pool
        self.console = console
        self.routes = routes
        self.issuer = issuer
        self.control_plane = control_plane
        self.cors = cors or CorsPolicy()
        self._server = _GatewayHTTPServer((host, port), _handler_class(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-gateway", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- one request ---------------------------------------------------------------------
    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> apigw.HttpResponse:
        """The response; one activity line for the terminal (method, path, status, time,
        the caller's `sub` from a verified token)."""
        started = time.perf_counter()
        path = urlsplit(target).path
        response, caller = self._respond(method, target, headers, body)
        elapsed_ms = (time.perf_counter() - started) * 1000
        activity.report_request(method, path, response.status, elapsed_ms, caller)
        return response

    def _respond(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[apigw.HttpResponse, str | None]:
        url = urlsplit(target)
        if self.console is not None and self.console.serves(url.path):
            return self.console.respond(method, url.path), None
        origin = _header(headers, "origin")
        if method == "OPTIONS" and origin and _header(headers, "access-control-request-method"):
            return self._preflight(origin), None
        caller = None
        if url.path.startswith(LOCAL_PREFIX):
            response = self._control(method, url.path, body)
        else:
            response, caller = self._invoke(method, url.path, url.query, headers, body)
        allowed = self.cors.allow_origin(origin)
        if allowed:
            response.headers.extend(self.cors.response_headers(allowed))
        return response, caller

    def _preflight(self, origin: str) -> apigw.HttpResponse:
        allowed = self.cors.allow_origin(origin)
        headers = self.cors.preflight_headers(allowed) if allowed else []
        return apigw.HttpResponse(204, headers, b"")

    def _control(self, method: str, path: str, body: bytes) -> apigw.HttpResponse:
        try:
            payload = json.loads(body) if body else {}
        except json.JSONDecodeError:
            return _json_response(400, {"message": "the body is not JSON"})
        try:
            status, answer = self.control_plane(method, path, payload)
        except Exception:
            log.exception("local control route failed: %s %s", method, path)
            return _json_response(500, {"message": "the local control route failed"})
        return _json_response(status, answer)

    def _invoke(
        self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[apigw.HttpResponse, str | None]:
        """The function's response and the caller's `sub` (None: no verified token)."""
        match = apigw.match_route(method, path, self.routes)
        if match is None:
            return apigw.to_http_response(apigw.gateway_response(404)), None
        if len(body) > MAX_BODY_BYTES:
            return apigw.to_http_response(apigw.gateway_response(413)), None
        claims = None
        if match.route.needs_token:
            try:
                claims = self.issuer.verify(_bearer_token(headers))
            except TokenRejectedError as rejection:
                challenge = f'Bearer scope="" error="invalid_token" error_description="{rejection}"'
                response = apigw.gateway_response(401, {"www-authenticate": challenge})
                return apigw.to_http_response(response), None
        event = apigw.build_event(
            match=match, path=path, raw_query=query, headers=headers, body=body, claims=claims
        )
        caller = claims.get("sub") if claims else None
        return self._call_function(event), str(caller) if caller is not None else None

    def _call_function(self, event: dict[str, Any]) -> apigw.HttpResponse:
        future = self.pool.submit(event)
        try:
            result = future.result(timeout=self.pool.timeout_seconds + 1)
        except FutureTimeout:
            return apigw.to_http_response(apigw.gateway_response(503))
        except Exception:
            # An unhandled error in the function: API Gateway answers 500 with its own body.
            log.exception("the api function failed")
            return apigw.to_http_response(apigw.gateway_response(500))
        return apigw.to_http_response(result)


class _GatewayHTTPServer(ThreadingHTTPServer):
    # socketserver's default backlog of 5 resets connections under a burst of clients.
    request_queue_size = 128
    daemon_threads = True
    # A restart may bind while the last run's port lingers in TIME_WAIT.
    allow_reuse_address = True


def _bearer_token(headers: list[tuple[str, str]]) -> str:
    value = _header(headers, "authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejectedError("no bearer token")
    return token.strip()


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def _json_response(status: int, payload: Any) -> apigw.HttpResponse:
    body = b"" if status == 204 else json.dumps(payload).encode()
    return apigw.HttpResponse(status, [("content-type", "application/json")], body)


def _handler_class(gateway: LocalGateway) -> type[BaseHTTPRequestHandler]:
    class GatewayRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "LocalApiGateway"
        # Headers and body leave in one write, without Nagle: split small writes meet the
        # client's delayed ACK and cost ~40 ms per request.
        wbufsize = -1
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            response = gateway.handle(self.command, self.path, list(self.headers.items()), body)
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve  # noqa: N815

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, CONNECT, PROPFIND, ...) is routed like the rest: no
            # route has it, so API Gateway's own 404 answers it, never http.server's HTML 501.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            # What http.server refuses before routing (a malformed request line, oversized
            # headers): a JSON body in API Gateway's shape instead of an HTML page.
            body = json.dumps({"message": apigw.GATEWAY_MESSAGES.get(code, message or "Error")})
            self.send_response(code, message)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.send_header("connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body.encode())
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            # Request lines only (method, path, status): never headers, which carry tokens.
            log.debug(format, *args)

    return GatewayRequestHandler
