"""EmulatorServer: the emulator on a real HTTP port, speaking rest-json as Chime does.

One port serves both services: a request is routed by the path of whichever model binds it
(their paths are distinct, except `/tags`, where the resource ARN names the owner)."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.model import OperationModel

from local.chime.emulator import OPERATIONS, ChimeEmulator
from local.chime.errors import ChimeError
from local.chime.model import MEETINGS, SERVED, find_route, resource_owner, service_model
from local.chime.protocol import bind_request, serialize_response
from local.chime.validation import validate

logger = logging.getLogger(__name__)
TICK_SECONDS = 1.0
SHUTDOWN_POLL_SECONDS = 0.05


class _ChimeRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    # Headers and body leave in one write: split small writes meet the client's delayed ACK
    # and cost ~40 ms per request.
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _ChimeHTTPServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        request_id = str(uuid.uuid4())
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        headers = dict(self.headers.items())
        found = _route(self.command, url.path, query, headers, body)
        if found is None:
            self._send_json(404, {"message": "No such operation"}, request_id, unknown=True)
            return
        service, operation, labels = found
        if operation.name not in OPERATIONS[service]:
            message = {"message": f"The emulator does not implement {operation.name}"}
            self._send_json(501, message, request_id, unknown=True)
            return
        try:
            self.server.emulator.admit(operation.name)
            params = bind_request(operation, labels, query, headers, body)
            if operation.input_shape is not None:
                validate(operation.input_shape, params)
            emulator = self.server.emulator
            call = emulator.call if service == MEETINGS else emulator.call_media_pipelines
            output = call(operation.name, params)
        except ChimeError as error:
            self._send_error(error, request_id)
            return
        status, headers, payload = serialize_response(operation, output)
        self._send(status, headers, payload, request_id)

    def _send_error(self, error: ChimeError, request_id: str) -> None:
        payload = json.dumps(error.body(request_id)).encode()
        headers = {**error.headers(), "Content-Type": "application/json"}
        self._send(error.status, headers, payload, request_id)

    def _send_json(self, status: int, body: Any, request_id: str, *, unknown: bool) -> None:
        headers = {"Content-Type": "application/json"}
        if unknown:
            headers["x-amzn-ErrorType"] = "UnknownOperationException"
        self._send(status, headers, json.dumps(body).encode(), request_id)

    def _send(self, status: int, headers: dict[str, str], payload: bytes, request_id: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry only ids (never tokens or headers); keep them out of the console.
        logger.debug("%s " + format, self.address_string(), *args)


def _route(
    method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
) -> tuple[str, OperationModel, dict[str, str]] | None:
    """(service, operation, URI labels) of a request. A path both models bind (`/tags`) goes
    to the service owning the resource ARN it names."""
    matches = [
        (service, *found)
        for service in SERVED
        if (found := find_route(method, path, query, service)) is not None
    ]
    if len(matches) > 1:
        service, operation, labels = matches[0]
        try:
            arn = bind_request(operation, labels, query, headers, body).get("ResourceARN")
        except ChimeError:
            arn = None  # the first service answers the malformed request
        owner = resource_owner(arn) if isinstance(arn, str) else service
        return next(match for match in matches if match[0] == owner)
    return matches[0] if matches else None


class _ChimeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Lets a restart bind while the last run's port lingers in TIME_WAIT; a port another
    # process listens on still fails (Linux and macOS refuse two TCP listeners).
    allow_reuse_address = True
    # socketserver's default backlog of 5 resets connections under a burst of clients.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: ChimeEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _ChimeRequestHandler)


class EmulatorServer:
    """Serves a ChimeEmulator on host:port (port 0: an ephemeral port, see endpoint_url)."""

    def __init__(self, emulator: ChimeEmulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        self._address = (host, port)
        self._httpd: _ChimeHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def endpoint_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EmulatorServer:
        """Bind and serve in background threads; raises OSError if the port is taken."""
        if self._httpd is not None:
            raise RuntimeError("the server is already started")
        for service in SERVED:  # load the models now, not on the first request
            service_model(service)
        self._httpd = _ChimeHTTPServer(self._address, self.emulator)
        self._stopping.clear()
        httpd = self._httpd
        self._spawn(
            lambda: httpd.serve_forever(poll_interval=SHUTDOWN_POLL_SECONDS), "chime-emulator-http"
        )
        if self.emulator.config.follow_wall_clock:
            self._spawn(self._tick_until_stopped, "chime-emulator-clock")
        return self

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _tick_until_stopped(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            self.emulator.tick()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self._httpd = None

    def request_stop(self) -> None:
        """Make serve_until_interrupted() return (safe from a signal handler)."""
        self._stopping.set()

    def serve_until_interrupted(self) -> None:
        """Block in the foreground until Ctrl-C or request_stop(), then stop cleanly."""
        try:
            self._stopping.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
