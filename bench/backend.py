"""The backend in this process, as the integration tests run it: the real handlers, moto
in-process for DynamoDB, and the project's Chime emulator over HTTP on an ephemeral port.

The handlers reach both only through boto3's standard endpoint variables, as in Lambda.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from meetings import deployment

from bench.calls import CallRecorder
from local.apigw import build_event, match_route
from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer
from local.lambda_runtime import LocalLambdaContext, forget_cached_state

TABLE_NAME = "meetings-bench"
REGION = "us-east-1"
# moto answers every AWS URL; the emulator on loopback must pass through untouched.
_MOTO_CONFIG: Any = {"core": {"passthrough": {"urls": [r"http://127\.0\.0\.1:\d+/.*"]}}}

FUNCTION_ENVIRONMENT = {
    "TABLE_NAME": TABLE_NAME,
    "EVENT_BUS_NAME": "meetings-bench-bus",
    "DEFAULT_MEDIA_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_SERVICE_NAME": "meetings",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    "POWERTOOLS_METRICS_NAMESPACE": "ChimeMeetings",
    # The benchmarks create many meetings as one host; the cap's query runs all the same.
    "MAX_OPEN_MEETINGS_PER_USER": "10000",
}


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """The functions print logs and metrics (EMF) to stdout; the report owns this stdout."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # Powertools warns on every invocation that records no metric.
        warnings.simplefilter("ignore", UserWarning)
        yield


@dataclass
class Backend:
    emulator: ChimeEmulator
    dynamodb: Any  # a client of the bench's own, not counted
    recorder: CallRecorder
    _counted: list[Any] = field(default_factory=list)

    def count_clients(self) -> None:
        """Attach the recorder to the clients the functions use (created now if not yet)."""
        from meetings.adapters import aws_clients  # noqa: PLC0415 - after the environment

        for client in (aws_clients.dynamodb_client(), aws_clients.chime_client()):
            if client not in self._counted:
                self.recorder.attach(client)
                self._counted.append(client)

    def api_event(
        self,
        method: str,
        path: str,
        *,
        user: str | None = "alice",
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The event API Gateway hands the function for this request (JWT already checked)."""
        match = match_route(method, path)
        if match is None:
            raise ValueError(f"no route {method} {path}")
        raw = b"" if body is None else json.dumps(body).encode()
        header_list = [("host", "api.bench"), ("content-type", "application/json")]
        header_list += [(name.lower(), value) for name, value in (headers or {}).items()]
        return build_event(
            match=match,
            path=path,
            raw_query="",
            headers=header_list,
            body=raw,
            claims=None if user is None else {"sub": user},
        )

    @staticmethod
    def call_api(event: dict[str, Any]) -> dict[str, Any]:
        from meetings.handlers.api import handler  # noqa: PLC0415 - after the environment

        with quiet_stdout():
            answer: dict[str, Any] = handler(event, LocalLambdaContext("meetings-bench-api"))
        return answer

    def api(
        self,
        method: str,
        path: str,
        *,
        user: str | None = "alice",
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        answer = self.call_api(self.api_event(method, path, user=user, body=body, headers=headers))
        payload = json.loads(answer["body"]) if answer.get("body") else None
        return int(answer["statusCode"]), payload


@contextlib.contextmanager
def in_process_backend(latency_seconds: float = 0.0, *, stream: bool = True) -> Iterator[Backend]:
    """`stream=False` leaves out the table's stream (no figure here reads it; moto keeps every
    stream record in memory, which slows the bulk writes of the cleanup figure)."""
    from moto import mock_aws  # noqa: PLC0415 - only the in-process figures need moto

    saved = dict(os.environ)
    for variable in list(os.environ):
        if variable.startswith("AWS_ENDPOINT_URL") or variable == "AWS_PROFILE":
            del os.environ[variable]
    os.environ.update(FUNCTION_ENVIRONMENT)
    server = EmulatorServer(ChimeEmulator(EmulatorConfig(region=REGION)), port=0)
    server.start()
    os.environ["AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS"] = server.endpoint_url
    try:
        with mock_aws(config=_MOTO_CONFIG):
            dynamodb = boto3.client("dynamodb", region_name=REGION)
            definition = deployment.table_definition(TABLE_NAME)
            if not stream:
                del definition["StreamSpecification"]
            dynamodb.create_table(**definition)
            forget_cached_state()
            recorder = CallRecorder(latency_seconds)
            yield Backend(server.emulator, dynamodb, recorder)
            recorder.detach_all()
    finally:
        forget_cached_state()
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
