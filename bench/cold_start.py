"""Figure 1 — cold start: a fresh interpreter importing a handler module and serving its first
event, against the floor of `import boto3` plus creating the clients that handler created.

Each run is a new process on precompiled bytecode (the asset ships `.pyc`; see
environments.compiled_code_copy), for Python 3.11 and 3.13, with the X-Ray SDK off and on.
The first event is served against moto in server mode and the Chime emulator on ephemeral
loopback ports, reached through boto3's endpoint variables as in the local stack. One more
run per handler under `-X importtime` gives the import breakdown (not timed: the flag slows
every import); for the api with X-Ray off also the modules it imports beyond the floor's, and
the "contract floor": the floor plus the least a handler keeping the API's contract does to
serve the same event, with none of the project's code: Logger and Metrics decorators,
Powertools' validated HTTP resolver and one route with a pydantic body, no AWS call.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final

import boto3
from meetings import deployment

from bench.backend import FUNCTION_ENVIRONMENT, REGION, TABLE_NAME
from bench.environments import compiled_code_copy, interpreters
from bench.stats import Figure, Sample
from local.apigw import build_event, match_route
from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer

PROBE: Final = Path(__file__).with_name("cold_probe.py")
HANDLER_ORDER: Final = ("api", "events", "publisher", "cleanup")  # api first: it makes a meeting
GOAL_RATIO: Final = 1.5
TRACE_ID: Final = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
TOP_IMPORTS: Final = 8


@contextmanager
def stand_ins() -> Iterator[dict[str, str]]:
    """moto (server mode) and the emulator on ephemeral ports; yields the endpoint variables."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    chime = EmulatorServer(ChimeEmulator(EmulatorConfig(region=REGION)), port=0)
    chime.start()
    try:
        host, port = moto.get_host_and_port()
        url = f"http://{host}:{port}"
        client_args: Any = {
            "endpoint_url": url,
            "region_name": REGION,
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
        }
        boto3.client("dynamodb", **client_args).create_table(
            **deployment.table_definition(TABLE_NAME)
        )
        boto3.client("events", **client_args).create_event_bus(
            Name=FUNCTION_ENVIRONMENT["EVENT_BUS_NAME"]
        )
        yield {
            "AWS_ENDPOINT_URL_DYNAMODB": url,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": url,
            "AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS": chime.endpoint_url,
            "_table_client_url": url,
        }
    finally:
        chime.stop()
        moto.stop()


def _api_event() -> dict[str, Any]:
    match = match_route("POST", "/meetings")
    assert match is not None
    return build_event(
        match=match,
        path="/meetings",
        raw_query="",
        headers=[("host", "api.bench"), ("content-type", "application/json")],
        body=b"{}",
        claims={"sub": "alice"},
    )


def _any_meeting_item(url: str) -> dict[str, Any]:
    client = boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    items = client.scan(TableName=TABLE_NAME)["Items"]
    meetings = [item for item in items if item[deployment.SORT_KEY]["S"] == "MEETING"]
    if not meetings:
        raise RuntimeError("the api cold start created no meeting")
    return meetings[0]


def first_event(handler: str, meeting_item: dict[str, Any] | None) -> dict[str, Any]:
    """The event each function serves first: create a meeting, one Chime event of it, the
    stream record of it, a scheduled run."""
    if handler == "api":
        return _api_event()
    if handler == "cleanup":
        return {}
    assert meeting_item is not None
    meeting_id = meeting_item["meetingId"]["S"]
    if handler == "events":
        detail = {
            "version": "0",
            "eventType": "chime:MeetingStarted",
            "timestamp": time.time_ns() // 1_000_000,
            "meetingId": meeting_id,
            "externalMeetingId": meeting_item["externalMeetingId"]["S"],
            "mediaRegion": REGION,
        }
        envelope = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "source": deployment.CHIME_EVENT_SOURCE,
            "detail-type": deployment.CHIME_EVENT_DETAIL_TYPE,
            "detail": detail,
        }
        record = {"messageId": str(uuid.uuid4()), "body": json.dumps(envelope), "attributes": {}}
        return {"Records": [record | {"eventSource": "aws:sqs", "receiptHandle": "r"}]}
    keys = {name: meeting_item[name] for name in (deployment.PARTITION_KEY, deployment.SORT_KEY)}
    return {
        "Records": [
            {
                "eventID": "1",
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "awsRegion": REGION,
                "dynamodb": {
                    "Keys": keys,
                    "NewImage": meeting_item,
                    "SequenceNumber": str(uuid.uuid4().int)[:21],
                    "StreamViewType": deployment.STREAM_VIEW_TYPE,
                },
            }
        ]
    }


def probe(
    python: str,
    mode: str,
    spec: dict[str, Any],
    environment: dict[str, str],
    workdir: Path,
    *,
    importtime: bool = False,
) -> dict[str, Any]:
    spec_path = workdir / f"spec-{uuid.uuid4().hex}.json"
    result_path = workdir / f"result-{uuid.uuid4().hex}.json"
    spec_path.write_text(json.dumps(spec | {"result": str(result_path)}))
    command = [python, *(["-X", "importtime"] if importtime else []), str(PROBE), mode]
    finished = subprocess.run(
        [*command, str(spec_path)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if finished.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"cold start probe failed:\n{finished.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    if importtime:
        result["importtime"] = finished.stderr
    return result


def _own_times(importtime_log: str) -> dict[str, float]:
    """Module → its own import time (ms), from `-X importtime` output."""
    times: dict[str, float] = {}
    for line in importtime_log.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        if own.strip().isdigit():  # not the header line
            times[name.strip()] = int(own) / 1000
    return times


def _ranked(totals: dict[str, float], top: int) -> list[tuple[str, float]]:
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:top]
    return [(package, round(ms, 1)) for package, ms in ranked]


def import_breakdown(importtime_log: str, top: int = TOP_IMPORTS) -> list[tuple[str, float]]:
    """Import time (ms, the modules' own time) summed per top-level package, largest first,
    from `-X importtime` output."""
    totals: dict[str, float] = {}
    for name, ms in _own_times(importtime_log).items():
        package = name.split(".")[0]
        totals[package] = totals.get(package, 0.0) + ms
    return _ranked(totals, top)


# Packages broken down one level further in the profile: where inside them the time goes.
_SPLIT: Final = frozenset({"aws_lambda_powertools", "meetings"})


def beyond_floor(
    handler_log: str, floor_log: str, top: int = 2 * TOP_IMPORTS
) -> list[tuple[str, float]]:
    """The handler's imports that the floor does not import: own time (ms) per package (ours
    and Powertools' per subpackage), largest first, with their total as the first entry."""
    floor = _own_times(floor_log)
    totals: dict[str, float] = {}
    for name, ms in _own_times(handler_log).items():
        if name in floor:
            continue
        parts = name.split(".")
        package = ".".join(parts[:2] if parts[0] in _SPLIT else parts[:1])
        totals[package] = totals.get(package, 0.0) + ms
    return [("(total)", round(sum(totals.values()), 1)), *_ranked(totals, top)]


def _contract_probe(
    python: str,
    spec: dict[str, Any],
    floor_spec: dict[str, Any],
    environment: dict[str, str],
    workdir: Path,
) -> dict[str, Any]:
    """The contract floor serving the handler's own first event: it must succeed, or it would
    time an error path."""
    result = probe(python, "contract", floor_spec | {"event": spec["event"]}, environment, workdir)
    if result["answer"]["statusCode"] != HTTPStatus.CREATED:
        raise RuntimeError(f"the contract floor answered {result['answer']}")
    return result


def _environment(endpoints: dict[str, str], code: Path, *, tracing: bool) -> dict[str, str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PYTHONPATH": str(code),
        "PYTHONDONTWRITEBYTECODE": "1",  # run on the shipped bytecode, never write more
        **FUNCTION_ENVIRONMENT,
        **{k: v for k, v in endpoints.items() if not k.startswith("_")},
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "POWERTOOLS_METRICS_DISABLED": "false",
    }
    # What Lambda sets in every function's environment; with active tracing also a trace id.
    # Segments would go to UDP 2000, where no daemon listens here.
    environment |= {
        "LAMBDA_TASK_ROOT": str(code),
        "AWS_LAMBDA_FUNCTION_NAME": "meetings-cold-start",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    if tracing:
        environment["_X_AMZN_TRACE_ID"] = TRACE_ID
    return environment


def measure(runs: int = 5, handlers: tuple[str, ...] = HANDLER_ORDER) -> list[Figure]:
    figures: list[Figure] = []
    with stand_ins() as endpoints, tempfile.TemporaryDirectory(prefix="cold-") as scratch:
        workdir = Path(scratch)
        for version, python in interpreters().items():
            code = compiled_code_copy(python, workdir / f"code-{version}")
            figures += _measure_interpreter(
                version, python, code, endpoints, workdir, runs, handlers
            )
    return figures


def _measure_interpreter(
    version: str,
    python: str,
    code: Path,
    endpoints: dict[str, str],
    workdir: Path,
    runs: int,
    handlers: tuple[str, ...],
) -> list[Figure]:
    figures = []
    meeting_item: dict[str, Any] | None = None
    for name in handlers:
        spec = {"handler": deployment.HANDLERS[name], "event": first_event(name, meeting_item)}
        for tracing in (False, True):
            environment = _environment(endpoints, code, tracing=tracing)
            # Handler, floor (and for the api without X-Ray the contract floor) alternate, so
            # that a machine busy with other work slows each of them alike.
            results = [probe(python, "handler", spec, environment, workdir)]
            floor_spec = {"clients": results[0]["clients"]}
            contract_runs = name == "api" and not tracing
            floors, contracts = [], []
            for run in range(runs):
                if run:
                    results.append(probe(python, "handler", spec, environment, workdir))
                floors.append(probe(python, "floor", floor_spec, environment, workdir))
                if contract_runs:
                    contracts.append(
                        _contract_probe(python, spec, floor_spec, environment, workdir)
                    )
            if name == "api" and meeting_item is None:
                meeting_item = _any_meeting_item(endpoints["_table_client_url"])
            notes: dict[str, Any] = {
                "clients": results[0]["clients"],
                "import ms (median)": Sample.of([r["import_ms"] for r in results]).median,
                "floor import boto3 ms (median)": Sample.of(
                    [f["import_ms"] for f in floors]
                ).median,
                "status": (results[0].get("answer") or {}).get("statusCode"),
            }
            timed = probe(python, "handler", spec, environment, workdir, importtime=True)
            notes["import breakdown ms"] = import_breakdown(timed["importtime"])
            if contract_runs:
                # What the contract alone costs (the validated Powertools resolver serving the
                # event, pydantic), against the same floor: the part no laziness of ours removes.
                contract = Sample.of([c["total_ms"] for c in contracts])
                notes["contract floor ms (median), ratio"] = (
                    round(contract.median, 1),
                    round(contract.median / Sample.of([f["total_ms"] for f in floors]).median, 2),
                )
                floor_spec_log = probe(
                    python, "floor", floor_spec, environment, workdir, importtime=True
                )
                notes["imports beyond the floor, own ms"] = beyond_floor(
                    timed["importtime"], floor_spec_log["importtime"]
                )
            measured = Sample.of([r["total_ms"] for r in results])
            floor = Sample.of([f["total_ms"] for f in floors])
            tracing_label = "X-Ray on" if tracing else "X-Ray off"
            figures.append(
                Figure(
                    f"cold start, {name} handler, Python {version}, {tracing_label}",
                    measured,
                    floor,
                    " ms",
                    goal="" if tracing else f"ratio <= {GOAL_RATIO}",
                    met=None if tracing else measured.median / floor.median <= GOAL_RATIO,
                    notes=notes,
                )
            )
    return figures
