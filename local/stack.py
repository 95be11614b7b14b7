"""The whole backend on one machine: moto, the Chime emulator, the deployed handlers in worker
processes, their event sources, the schedule and the API gateway — wired as the CDK stack
wires them in AWS (same table definition, same rule pattern, same schedule expression)."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import boto3
from meetings import deployment
from meetings.domain.webhook_retries import RetryPolicy
from meetings.settings import Settings
from moto.core.models import DEFAULT_ACCOUNT_ID

from local.auth import LocalIssuer
from local.aws_services import DEFAULT_TRANSACTION_IN_FLIGHT_MS, LocalAwsServices
from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer, EventBridgeSink
from local.chime.clock import WorldClock
from local.chime.pipelines.store import S3ArtifactStore
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
from local.lambda_runtime import HandlerPool

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
    cleanup_schedule: str = deployment.DEFAULT_CLEANUP_SCHEDULE
    cleanup_every_seconds: float | None = None  # overrides the schedule's period
    log_level: str = "INFO"
    # Where the functions' output goes (every worker appends to this file); None: the console.
    worker_log_path: str | None = None
    extra_environment: dict[str, str] = field(default_factory=dict)
    # How long a DynamoDB transaction stays in flight, refusing overlapping writes as DynamoDB
    # does (local/aws_services.py); 0 turns transaction conflicts off.
    transaction_in_flight_ms: float = DEFAULT_TRANSACTION_IN_FLIGHT_MS
    # How often expired items are swept (DynamoDB's TTL), besides right after a clock advance.
    ttl_sweep_every_seconds: float = 5.0
    # Batches of webhook deliveries handled at once (a poller and a worker each), as Lambda
    # runs several batches of one SQS source side by side: a batch waiting on a slow receiver
    # holds only its own poller.
    webhook_delivery_workers: int = 1


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
                region=self.config.region, account_id=ACCOUNT_ID, follow_wall_clock=True
            ),
            clock=self.world,
        )
        self.domain_events: list[dict[str, Any]] = []
        self._stoppers: list[Any] = []
        self._pools: dict[str, HandlerPool] = {}
        self._webhook_env: dict[str, str] = {}

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.config
        for port, what in (
            (cfg.api_port, "API"),
            (cfg.aws_port, "AWS services"),
            (cfg.chime_port, "Chime emulator"),
        ):
            check_port_free(cfg.host, port, what)
        self._start_moto()
        self._start_chime()
        resources = self._create_resources()
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

    def _create_resources(self) -> dict[str, str]:
        cfg = self.config
        table = self.client("dynamodb").create_table(**deployment.table_definition(cfg.table_name))
        self.client("dynamodb").update_time_to_live(
            TableName=cfg.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": deployment.TTL_ATTRIBUTE},
        )
        self.client("s3").create_bucket(Bucket=cfg.recordings_bucket)
        events, sqs = self.client("events"), self.client("sqs")
        events.create_event_bus(Name=cfg.bus_name)
        chime_queue = self._queue(sqs, "chime-events")
        events.put_rule(
            Name="chime-meeting-state-change",
            EventPattern=json.dumps(deployment.CHIME_EVENT_PATTERN),
        )
        events.put_targets(
            Rule="chime-meeting-state-change",
            Targets=[{"Id": "events-queue", "Arn": chime_queue["arn"]}],
        )
        domain_queue = self._queue(sqs, "domain-events")
        events.put_rule(
            Name="domain-events",
            EventBusName=cfg.bus_name,
            EventPattern=json.dumps({"source": [self._domain_source()]}),
        )
        events.put_targets(
            Rule="domain-events",
            EventBusName=cfg.bus_name,
            Targets=[{"Id": "log", "Arn": domain_queue["arn"]}],
        )
        webhooks = self._create_webhook_resources(events, sqs)
        return webhooks | {
            "stream_arn": table["TableDescription"]["LatestStreamArn"],
            "chime_queue_url": chime_queue["url"],
            "chime_queue_arn": chime_queue["arn"],
            "domain_queue_url": domain_queue["url"],
            "domain_queue_arn": domain_queue["arn"],
        }

    def _create_webhook_resources(self, events: Any, sqs: Any) -> dict[str, str]:
        """As deployed (docs/webhooks.md): the KMS key sealing secrets; the bus → rule →
        "webhook events" queue; the deliveries queue, whose maxReceiveCount is the retry
        schedule's attempts, and its dead-letter queue."""
        key = self.client("kms").create_key(Description="webhook secrets")["KeyMetadata"]
        self._webhook_env = {"WEBHOOK_KEY_ID": key["KeyId"], "WEBHOOK_TARGETS": "loopback"}
        settings = Settings.from_environ(self.function_environment())
        policy = RetryPolicy(
            base_seconds=settings.webhook_retry_base_seconds,
            horizon_seconds=settings.webhook_retry_horizon_seconds,
        )
        dead = self._queue(sqs, "webhook-deliveries-dlq")
        deliveries = self._queue(
            sqs,
            "webhook-deliveries",
            # An attempt takes at most 10 s: it must not come back while still in flight.
            VisibilityTimeout="60",
            RedrivePolicy=json.dumps(
                {"deadLetterTargetArn": dead["arn"], "maxReceiveCount": policy.attempts}
            ),
        )
        self._webhook_env["WEBHOOK_DELIVERY_QUEUE_URL"] = deliveries["url"]
        webhook_events = self._queue(sqs, "webhook-events")
        pattern = deployment.webhook_event_pattern(self._domain_source())
        bus = self.config.bus_name
        events.put_rule(Name="webhooks", EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule="webhooks",
            EventBusName=bus,
            Targets=[{"Id": "webhook-events", "Arn": webhook_events["arn"]}],
        )
        return {
            "webhook_events_url": webhook_events["url"],
            "webhook_events_arn": webhook_events["arn"],
            "webhook_deliveries_url": deliveries["url"],
            "webhook_deliveries_arn": deliveries["arn"],
            "webhook_dead_letters_url": dead["url"],
        }

    def _queue(self, sqs: Any, name: str, **attributes: str) -> dict[str, str]:
        attributes = {"VisibilityTimeout": "2", **attributes}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return {"url": url, "arn": arn["Attributes"]["QueueArn"]}

    def _domain_source(self) -> str:
        return self.config.extra_environment.get(
            "DOMAIN_EVENT_SOURCE", deployment.DEFAULT_DOMAIN_EVENT_SOURCE
        )

    def function_environment(self) -> dict[str, str]:
        """The environment the CDK stack gives the functions, pointed at the local services
        through boto3's standard endpoint variables."""
        cfg = self.config
        env = {
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
            "TABLE_NAME": cfg.table_name,
            "RECORDINGS_BUCKET": cfg.recordings_bucket,
            "ACCOUNT_ID": ACCOUNT_ID,
            "EVENT_BUS_NAME": cfg.bus_name,
            "DEFAULT_MEDIA_REGION": cfg.region,
            "POWERTOOLS_SERVICE_NAME": "meetings",
            "POWERTOOLS_LOG_LEVEL": cfg.log_level,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        env.update(self._webhook_env)
        env.update(cfg.extra_environment)
        return env

    def _start_functions(self) -> None:
        env = self.function_environment()
        sizes = {
            "api": self.config.api_workers,
            "events": self.config.events_workers,
            "publisher": 1,
            "cleanup": 1,
            "webhook_fanout": 1,
            # A batch's attempts run side by side in one worker.
            "webhook_delivery": self.config.webhook_delivery_workers,
        }
        for name, workers in sizes.items():
            pool = HandlerPool(
                deployment.HANDLERS[name],
                function_name=f"{FUNCTION_PREFIX}-{name}",
                environment=env,
                workers=workers,
                timeout_seconds=29.0 if name == "api" else 60.0,
                log_path=self.config.worker_log_path,
                world_offset=self.world.offset,
            )
            self._pools[name] = pool
            self._stoppers.append(pool.close)
        for pool in self._pools.values():
            pool.warm_up()

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
        self.events_poller = SqsBatchPoller(
            sqs=self.client("sqs"),
            queue_url=resources["chime_queue_url"],
            queue_arn=resources["chime_queue_arn"],
            invoke=lambda event: self.invoke("events", event),
        )
        streams = self.client("dynamodbstreams")
        self.cleanup_schedule = RateSchedule(
            period_seconds=self._cleanup_period(),
            invoke=lambda event: self.invoke("cleanup", event),
            payload={},
            now=self.world.now,
        )
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
                invoke=lambda event: self.invoke("publisher", event),
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
                    sqs=self.client("sqs"),
                    queue_url=resources[f"webhook_{queue}_url"],
                    queue_arn=resources[f"webhook_{queue}_arn"],
                    invoke=self._invoker(function),
                )
                for queue, function, pollers in (
                    ("events", "webhook_fanout", 1),
                    ("deliveries", "webhook_delivery", self.config.webhook_delivery_workers),
                )
                for _ in range(pollers)
            ),
        ]
        for part in parts:
            part.start()
            self._stoppers.append(part.stop)

    def _invoker(self, function: str) -> Callable[[dict[str, Any]], Any]:
        return lambda event: self.invoke(function, event)

    def _cleanup_period(self) -> float:
        if self.config.cleanup_every_seconds is not None:
            return self.config.cleanup_every_seconds
        return rate_seconds(self.config.cleanup_schedule)

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
            run_cleanup=lambda body: self.invoke("cleanup", body),
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
        )
        self.gateway.start()
        self.api_url = self.gateway.url
        self._stoppers.append(self.gateway.stop)
