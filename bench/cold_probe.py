"""One cold start, run as a script in a fresh interpreter (no bench imports: they would be
measured). `python cold_probe.py handler <spec.json>` imports the handler module and serves
its first event; `python cold_probe.py floor <spec.json>` imports boto3 and creates the
clients the handler created; `python cold_probe.py contract <spec.json>` does what the floor does
and then serves the spec's event the way the api's contract requires and nothing more: a
handler wrapped in Powertools' Logger and Metrics decorators, an
`APIGatewayHttpResolver(enable_validation=True)` and one route of the event's method and path
whose body is a pydantic model, validated and answered without any AWS call. Writes its
timings as JSON to the spec's `result` path."""

import time

STARTED = time.perf_counter()

import importlib  # noqa: E402 - the clock starts before any import
import json  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


class ProbeContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name = "meetings-cold-start"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:111122223333:function:meetings-cold-start"
    memory_limit_in_mb = 1024
    aws_request_id = "00000000-0000-4000-8000-000000000001"
    log_group_name = "/aws/lambda/meetings-cold-start"
    log_stream_name = "probe"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def serve_first_event(spec: dict[str, Any]) -> dict[str, Any]:
    module_name, _, function_name = spec["handler"].rpartition(".")
    module = importlib.import_module(module_name)
    imported = time.perf_counter()
    answer = getattr(module, function_name)(spec["event"], ProbeContext())
    served = time.perf_counter()
    clients = importlib.import_module("meetings.adapters.aws_clients")
    created = {
        "chime-sdk-meetings": clients.chime_client.cache_info().currsize,
        "dynamodb": clients.dynamodb_client.cache_info().currsize,
        "events": clients.events_client.cache_info().currsize,
    }
    return {
        "import_ms": (imported - STARTED) * 1000,
        "total_ms": (served - STARTED) * 1000,
        "clients": sorted(name for name, count in created.items() if count),
        "answer": answer if isinstance(answer, dict) else None,
    }


def create_clients(spec: dict[str, Any]) -> dict[str, Any]:
    import boto3  # noqa: PLC0415 - the floor's own import is what it measures

    imported = time.perf_counter()
    # The adapters' own client configuration (it imports only boto3 and botocore).
    config = importlib.import_module("meetings.adapters.aws_clients").client_config()
    session = boto3.session.Session()
    for service in spec["clients"]:
        session.client(service, config=config)
    return {
        "import_ms": (imported - STARTED) * 1000,
        "total_ms": (time.perf_counter() - STARTED) * 1000,
        "clients": spec["clients"],
    }


def contract_floor(spec: dict[str, Any]) -> dict[str, Any]:
    result = create_clients(spec)
    from aws_lambda_powertools import Logger, Metrics  # noqa: PLC0415 - measured, like the floor's
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver  # noqa: PLC0415
    from pydantic import BaseModel, ConfigDict  # noqa: PLC0415

    class Body(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str | None = None

    app = APIGatewayHttpResolver(enable_validation=True)
    event = spec["event"]

    @app.route(event["rawPath"], method=event["requestContext"]["http"]["method"])
    def route(body: Body) -> tuple[dict[str, Any], int]:
        return {"name": body.name}, 201

    logger = Logger(service="contract")
    metrics = Metrics(namespace="Contract", service="contract")

    @logger.inject_lambda_context
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    answer = handler(event, ProbeContext())
    return result | {
        "total_ms": (time.perf_counter() - STARTED) * 1000,
        "answer": {"statusCode": answer["statusCode"], "body": answer["body"]},
    }


def main() -> None:
    mode, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as file:
        spec = json.load(file)
    modes = {"handler": serve_first_event, "floor": create_clients, "contract": contract_floor}
    result = modes[mode](spec)
    with open(spec["result"], "w") as file:
        json.dump(result, file)


main()
