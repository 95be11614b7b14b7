"""The whole backend on one machine: moto, the Chime emulator, the deployed handlers in worker
processes, their event sources, the schedule and the API gateway — run from the synthesized
template (local/template/): its functions (handler, environment, memory, timeout), routes,
authorizer, rule patterns, event source mappings and schedule, each function's AWS calls
authorized by its own role's policies (local/iam/)."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from meetings import deployment
from moto.core.models import DEFAULT_ACCOUNT_ID

from local.activity import reported
from local.auth import LocalIssuer
from local.aws_services import DEFAULT_TRANSACTION_IN_FLIGHT_MS, LocalAwsServices
from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer, EventBridgeSink
from local.chime.clock import WorldClock
from local.chime.config import DEFAULT_MAX_ACTIVE_MEETINGS
from local.chime.pipelines.store import S3ArtifactStore
from local.console_site import ConsoleSite
from local.control import ControlPlane
from local.event_delivery import (
    Chaos,
    RateSchedule,
    SqsBatchPoller,
    StreamPoller,
    TtlSweeper,
    rate_seconds,
)
from local.gateway import CorsPolicy, LocalGateway
from local.iam.guard import IamGuard
from local.iam.roles import LocalRoles
from local.lambda_runtime import HandlerPool
from local.resources import LocalNames, LocalResources
from local.template.binding import BoundTemplate
from local.template.model import TemplateError
from local.template.synth import TEMPLATE_DIR

log = logging.getLogger("local.stack")

# The account moto serves (the emulator's default too): Chime's ARNs and events name the same
# account as the local resources.
ACCOUNT_ID = DEFAULT_ACCOUNT_ID
FUNCTION_PREFIX = "meetings-local"


class PortBusyError(RuntimeError):
    """A port the local stack needs is taken (a one-line message for the console)."""


@dataclass
class LocalStackConfig:
    host: str = "127.0.0.1"
    api_port: int = 3000
    aws_port: int = 5000
    chime_port: int = 8081
    api_workers: int = 4
    events_workers: int = 2
    region: str = "us-east-1"
    table_name: str = "meetings-local"
    recordings_bucket: str = "meetings-local-recordings"
    bus_name: str = "meetings-local"
    cors_origins: tuple[str, ...] = ("*",)
    cleanup_every_seconds: float | None = None  # overrides the template schedule's period
    log_level: str = "INFO"
    # Where the functions' output goes (every worker appends to this file); None: the console.
    worker_log_path: str | None = None
    extra_environment: dict[str, str] = field(default_factory=dict)
    # How long a DynamoDB transaction stays in flight, refusing overlapping writes as DynamoDB
    # does (local/aws_services.py); 0 turns transaction conflicts off.
    transaction_in_flight_ms: float = DEFAULT_TRANSACTION_IN_FLIGHT_MS
    # How often expired items are swept (DynamoDB's TTL), besides right after a clock advance.
    ttl_sweep_every_seconds: float = 5.0
    # Batches of webhook deliveries handled at once on each lane (a poller and a worker
    # each), as Lambda runs several batches of one SQS source side by side: a batch waiting on
    # a slow receiver holds only its own poller, and the retry lane only its own pollers.
    webhook_delivery_workers: int = 1
    # Chime's quota of active meetings per account (adjustable on AWS, as here).
    chime_max_active_meetings: int = DEFAULT_MAX_ACTIVE_MEETINGS
    # Where the synthesized template lives (synthesized there when missing or stale).
    template_dir: str = str(TEMPLATE_DIR)
    # Each function's AWS calls are authorized by its role's policies (local/iam/).
    enforce_iam: bool = True
    # Where the IAM decisions are recorded (one JSON-lines file per function); None: nowhere.
    iam_usage_dir: str | None = None


def check_port_free(host: str, port: int, what: str) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortBusyError(
                f"port {host}:{port} ({what}) is already in use; stop what holds it or choose "
                "another port"
            ) from error


class LocalStack:
    def __init__(self, config: LocalStackConfig | None = None) -> None:
        self.config = config or LocalStackConfig()
        self.issuer = LocalIssuer()
        # One world clock for everything: real time + what /_local/clock/advance added. Chime
        # runs on it, the handlers' worker processes read it as their time, the schedule and
        # the TTL sweeper follow it.
        self.world = WorldClock()
        self.chime = ChimeEmulator(
            EmulatorConfig(
                region=self.config.region,
                account_id=ACCOUNT_ID,
                follow_wall_clock=True,
                max_active_meetings=self.config.chime_max_active_meetings,
            ),
            clock=self.world,
        )
        self.domain_events: list[dict[str, Any]] = []
        self._stoppers: list[Any] = []
        self._pools: dict[str, HandlerPool] = {}
        self.deployed: BoundTemplate

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.config
        for port, what in (
            (cfg.api_port, "API"),
            (cfg.aws_port, "AWS services"),
            (cfg.chime_port, "Chime emulator"),
        ):
            check_port_free(cfg.host, port, what)
        # The template first: a stale one is synthesized, a mismatch stops the start here.
        self.deployed = BoundTemplate.load(
            Path(cfg.template_dir), account=ACCOUNT_ID, region=cfg.region
        )
        issuer, audiences = self.deployed.authorizer()
        if self.issuer.audience not in audiences or issuer != self.issuer.issuer:
            raise TemplateError(
                f"the template's JWT authorizer trusts {issuer} for {audiences}, not the local "
                f"issuer {self.issuer.issuer} ({self.issuer.audience})"
            )
        self._start_moto()
        self._start_chime()
        resources = LocalResources(
            self.client,
            self.deployed,
            LocalNames(
                table_name=cfg.table_name,
                recordings_bucket=cfg.recordings_bucket,
                bus_name=cfg.bus_name,
                function_prefix=FUNCTION_PREFIX,
                extra_environment=cfg.extra_environment,
            ),
        ).create()
        self._start_functions()
        self.webhook_dead_letters_url = resources["webhook_dead_letters_url"]
        self._start_event_sources(resources)
        self._start_gateway()

    def stop(self) -> None:
        for stopper in reversed(self._stoppers):
            try:
                stopper()
            except Exception:
                log.exception("stopping a part of the local stack failed")
        self._stoppers.clear()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- the parts ---------------------------------------------------------------------------
    def _start_moto(self) -> None:
        self._aws = LocalAwsServices(
            self.config.host,
            self.config.aws_port,
            transaction_in_flight_ms=self.config.transaction_in_flight_ms,
        )
        self._aws.start()
        self.aws_url = self._aws.url
        self._stoppers.append(self._aws.stop)
        self.chime.use_artifact_store(S3ArtifactStore(client=self.client("s3")))

    def _start_chime(self) -> None:
        self._chime_server = EmulatorServer(
            self.chime, host=self.config.host, port=self.config.chime_port
        )
        self._chime_server.start()
        self.chime_url = self._chime_server.endpoint_url
        self._stoppers.append(self._chime_server.stop)

    def client(self, service: str) -> Any:
        """A boto3 client to one of moto's services."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.aws_url,
            region_name=self.config.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        )

    def function_environment(self, function: str = "api") -> dict[str, str]:
        """A function's environment as the template sets it (references resolved to the local
        resources), pointed at the local services through boto3's standard endpoint variables;
        webhooks confined to loopback, tracing and metrics off."""
        cfg = self.config
        env = self.deployed.environment(function)
        env |= {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": cfg.region,
            "AWS_REGION": cfg.region,
            "AWS_ENDPOINT_URL_DYNAMODB": self.aws_url,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.aws_url,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": self.aws_url,
            "AWS_ENDPOINT_URL_SQS": self.aws_url,
            "AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS": self.chime_url,
            # One emulator port serves both Chime services (it routes by path).
            "AWS_ENDPOINT_URL_CHIME_SDK_MEDIA_PIPELINES": self.chime_url,
            "AWS_ENDPOINT_URL_S3": self.aws_url,
            "AWS_ENDPOINT_URL_KMS": self.aws_url,
            "WEBHOOK_TARGETS": "loopback",
            "POWERTOOLS_LOG_LEVEL": cfg.log_level,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        env.update(cfg.extra_environment)
        return env

    def _start_functions(self) -> None:
        sizes = {
            "api": self.config.api_workers,
            "events": self.config.events_workers,
            "publisher": 1,
            "cleanup": 1,
            "webhook_fanout": 1,
            # A batch's attempts run side by side in one worker; each lane's pollers have
            # workers of their own, as each Lambda invocation has its own environment.
            "webhook_delivery": len(self.deployed.template.queues_of("webhook_delivery"))
            * self.config.webhook_delivery_workers,
        }
        self.roles = LocalRoles(self.deployed, ACCOUNT_ID, self.config.iam_usage_dir)
        self._stoppers.append(self.roles.close)
        for name, workers in sizes.items():
            spec = self.deployed.function(name)
            pool = HandlerPool(
                spec.handler,
                function_name=f"{FUNCTION_PREFIX}-{name}",
                environment=self.function_environment(name),
                workers=workers,
                timeout_seconds=float(spec.timeout_seconds),
                log_path=self.config.worker_log_path,
                world_offset=self.world.offset,
                memory_mb=spec.memory_mb,
                iam_guard=self._guard(name),
            )
            self._pools[name] = pool
            self._stoppers.append(pool.close)
        for pool in self._pools.values():
            pool.warm_up()

    def _guard(self, name: str) -> IamGuard | None:
        return self.roles.guard(name) if self.config.enforce_iam else None

    def _poller_client(self, function: str) -> Any:
        """An SQS client for an event source mapping: Lambda polls with the function's role."""
        client = self.client("sqs")
        if self.config.enforce_iam:
            self.roles.guard(function).attach(client)
        return client

    def function_pids(self) -> dict[str, list[int]]:
        """Each local Lambda function's worker process ids (`bench/soak.py` samples their RSS)."""
        return {name: pool.worker_pids() for name, pool in self._pools.items()}

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        future: Future[Any] = self._pools[function].submit(event)
        return future.result(timeout=self._pools[function].timeout_seconds + 5)

    def _start_event_sources(self, resources: dict[str, str]) -> None:
        # Chime → the default bus → the rule → SQS, as deployed (moto accepts the `aws.chime`
        # source that real EventBridge keeps for AWS itself).
        self.chime.add_sink(EventBridgeSink(client=self.client("events")))
        template = self.deployed.template
        events_source = template.queue_of("events")
        self.events_poller = SqsBatchPoller(
            sqs=self._poller_client("events"),
            queue_url=resources["chime_queue_url"],
            queue_arn=resources["chime_queue_arn"],
            invoke=self._invoker("events"),
            batch_size=events_source.batch_size,
            report_batch_item_failures=events_source.report_batch_item_failures,
        )
        schedule = template.schedules[0]
        self.cleanup_schedule = RateSchedule(
            period_seconds=self._cleanup_period(schedule.expression),
            invoke=self._invoker(schedule.function),
            payload=dict(schedule.input),
            now=self.world.now,
        )
        stream_source = template.stream_sources[0]
        # Lambda reads the table's stream with the consuming function's role.
        streams = self.client("dynamodbstreams")
        if self.config.enforce_iam:
            self.roles.guard(stream_source.function).attach(streams)
        self.ttl_sweeper = TtlSweeper(
            dynamodb=self.client("dynamodb"),
            table_name=self.config.table_name,
            attribute=deployment.TTL_ATTRIBUTE,
            now=self.world.now,
            every_seconds=self.config.ttl_sweep_every_seconds,
        )
        parts = [
            self.events_poller,
            StreamPoller(
                streams=streams,
                stream_arn=resources["stream_arn"],
                invoke=lambda event: self.invoke(stream_source.function, event),
                batch_size=stream_source.batch_size,
            ),
            SqsBatchPoller(
                sqs=self.client("sqs"),
                queue_url=resources["domain_queue_url"],
                queue_arn=resources["domain_queue_arn"],
                invoke=self._record_domain_events,
            ),
            self.cleanup_schedule,
            self.ttl_sweeper,
            *(
                SqsBatchPoller(
                    sqs=self._poller_client(source.function),
                    queue_url=self.deployed.bindings.attributes[source.queue_logical_id][
                        "QueueUrl"
                    ],
                    queue_arn=self.deployed.bindings.attributes[source.queue_logical_id]["Arn"],
                    invoke=self._invoker(source.function),
                    batch_size=source.batch_size,
                    report_batch_item_failures=source.report_batch_item_failures,
                )
                # The webhook queues' mappings; each delivery lane has pollers of its own: its
                # batches never take the other lane's.
                for source in template.queue_sources
                if source.function != "events"
                for _ in range(
                    self.config.webhook_delivery_workers
                    if source.function == "webhook_delivery"
                    else 1
                )
            ),
        ]
        for part in parts:
            part.start()
            self._stoppers.append(part.stop)

    def _invoker(self, function: str) -> Callable[[dict[str, Any]], Any]:
        """Invokes `function`; the terminal gets a line per invocation of the functions
        whose work a developer watches (local/activity.py)."""
        return reported(function, lambda event: self.invoke(function, event))

    def _cleanup_period(self, expression: str) -> float:
        if self.config.cleanup_every_seconds is not None:
            return self.config.cleanup_every_seconds
        return rate_seconds(expression)

    def _record_domain_events(self, event: dict[str, Any]) -> dict[str, Any]:
        for record in event["Records"]:
            self.domain_events.append(json.loads(record["body"]))
        return {"batchItemFailures": []}

    def advance_clock(self, seconds: float) -> int:
        """Move the world clock ahead: Chime's auto-end rules that came due fire, the schedule
        and the TTL sweeper catch up at once, the handlers read the new time. Returns the new
        world time (epoch ms)."""
        self.chime.advance(seconds)
        self.cleanup_schedule.nudge()
        self.ttl_sweeper.nudge()
        return self.world.now_ms()

    def set_chaos(self, chaos: Chaos) -> None:
        self.events_poller.set_chaos(chaos)

    def _start_gateway(self) -> None:
        control = ControlPlane(
            issuer=self.issuer,
            chime=self.chime,
            set_chaos=self.set_chaos,
            delivery_stats=lambda: dict(self.events_poller.stats),
            lost_events=lambda: list(self.events_poller.lost),
            run_cleanup=self._invoker("cleanup"),
            domain_events=lambda: list(self.domain_events),
            advance_clock=self.advance_clock,
        )
        self.gateway = LocalGateway(
            pool=self._pools["api"],
            issuer=self.issuer,
            control_plane=control,
            cors=CorsPolicy(allowed_origins=self.config.cors_origins),
            host=self.config.host,
            port=self.config.api_port,
            console=ConsoleSite(),
            routes=self.deployed.routes(),
        )
        self.gateway.start()
        self.api_url = self.gateway.url
        self.console_url = f"{self.api_url}/console/"
        self._stoppers.append(self.gateway.stop)
