"""The local stand-ins of the template's resources, created in moto and bound to their logical
ids (docs/local-stack.md): the table, the recordings bucket, the project's bus, the KMS key,
the queues the rules and event source mappings use, and the rules with the template's
patterns. Queue timings are local (seconds, not minutes): refused events come back quickly."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from meetings import deployment
from meetings.domain.webhook_retries import RetryPolicy
from meetings.settings import Settings

from local.template.binding import BoundTemplate
from local.template.model import TemplateError, target_of

# The delivery lanes' queues (docs/webhooks.md), by the variable that names each.
LANE_QUEUES = {
    "WEBHOOK_DELIVERY_QUEUE_URL": "webhook-deliveries",
    "WEBHOOK_RETRY_QUEUE_URL": "webhook-retries",
}


@dataclass(frozen=True)
class LocalNames:
    table_name: str
    recordings_bucket: str
    bus_name: str
    function_prefix: str
    extra_environment: Mapping[str, str] = field(default_factory=dict)


class LocalResources:
    def __init__(
        self, client: Callable[[str], Any], deployed: BoundTemplate, names: LocalNames
    ) -> None:
        self.client = client
        self.deployed = deployed
        self.names = names

    def create(self) -> dict[str, str]:
        """Every stand-in, bound to its template resource; their URLs and ARNs by role."""
        cfg = self.names
        deployed = self.deployed
        table = self.client("dynamodb").create_table(**deployment.table_definition(cfg.table_name))
        description = table["TableDescription"]
        deployed.bind_table(cfg.table_name, description["TableArn"], description["LatestStreamArn"])
        self.client("dynamodb").update_time_to_live(
            TableName=cfg.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": deployment.TTL_ATTRIBUTE},
        )
        self.client("s3").create_bucket(Bucket=cfg.recordings_bucket)
        deployed.bind_environment_target(
            "RECORDINGS_BUCKET",
            Ref=cfg.recordings_bucket,
            Arn=f"arn:aws:s3:::{cfg.recordings_bucket}",
        )
        events, sqs = self.client("events"), self.client("sqs")
        bus_arn = events.create_event_bus(Name=cfg.bus_name)["EventBusArn"]
        deployed.bind_bus(cfg.bus_name, bus_arn)
        chime_queue = self._queue(sqs, "chime-events")
        deployed.bind_queue(
            deployed.template.queue_of("events").queue_logical_id,
            chime_queue["url"],
            chime_queue["arn"],
        )
        # A local tap on the project's bus (not deployed): what /_local/domain-events shows.
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
        webhooks = self._create_webhook_resources(sqs)
        for name in deployment.HANDLERS:
            deployed.bind_function(name, f"{cfg.function_prefix}-{name}")
        self._create_rules(events)
        return webhooks | {
            "stream_arn": table["TableDescription"]["LatestStreamArn"],
            "chime_queue_url": chime_queue["url"],
            "chime_queue_arn": chime_queue["arn"],
            "domain_queue_url": domain_queue["url"],
            "domain_queue_arn": domain_queue["arn"],
        }

    def _create_rules(self, events: Any) -> None:
        """The template's rules, with its patterns, each on its bus and to its queues."""
        for rule in self.deployed.template.rules:
            bus = {} if rule.bus_logical_id is None else {"EventBusName": self.names.bus_name}
            events.put_rule(Name=rule.logical_id, EventPattern=json.dumps(rule.pattern), **bus)
            targets = [
                {"Id": f"target{n}", "Arn": self.deployed.bindings.attributes.get(queue, {})["Arn"]}
                for n, queue in enumerate(rule.target_queue_logical_ids)
                if self._bound(queue, f"rule {rule.logical_id}")
            ]
            events.put_targets(Rule=rule.logical_id, Targets=targets, **bus)

    def _bound(self, logical_id: str, user: str) -> bool:
        if "Arn" not in self.deployed.bindings.attributes.get(logical_id, {}):
            raise TemplateError(f"{user} targets {logical_id}, which the local stack does not run")
        return True

    def _create_webhook_resources(self, sqs: Any) -> dict[str, str]:
        """As deployed (docs/webhooks.md): the KMS key sealing secrets; the "webhook events"
        queue the rule feeds; the two delivery lanes' queues (each the one its variable
        names), whose maxReceiveCount is the (local, shortened) retry schedule's attempts, and
        their dead-letter queue."""
        deployed = self.deployed
        key = self.client("kms").create_key(Description="webhook secrets")["KeyMetadata"]
        deployed.bind_environment_target("WEBHOOK_KEY_ID", Ref=key["KeyId"], Arn=key["Arn"])
        settings = Settings.from_environ(
            {
                **deployed.literal_environment("webhook_delivery"),
                "TABLE_NAME": self.names.table_name,
                "EVENT_BUS_NAME": self.names.bus_name,
                **self.names.extra_environment,
            }
        )
        policy = RetryPolicy(
            base_seconds=settings.webhook_retry_base_seconds,
            horizon_seconds=settings.webhook_retry_horizon_seconds,
        )
        dead = self._queue(sqs, "webhook-deliveries-dlq")
        lane = {
            # An attempt takes at most 10 s: it must not come back while still in flight.
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead["arn"], "maxReceiveCount": policy.attempts}
            ),
        }
        lanes = {}
        for variable, name in LANE_QUEUES.items():
            lanes[name] = self._queue(sqs, name, **lane)
            deployed.bind_environment_target(
                variable,
                Ref=lanes[name]["url"],
                QueueUrl=lanes[name]["url"],
                Arn=lanes[name]["arn"],
                QueueName=name,
            )
            lane_id = target_of(deployed.function("webhook_delivery").environment[variable])
            dead_id = deployed.template.dead_letter_queue_of(lane_id)
            if dead_id is not None:
                deployed.bind_queue(dead_id, dead["url"], dead["arn"])
        webhook_events = self._queue(sqs, "webhook-events")
        deployed.bind_queue(
            deployed.template.queue_of("webhook_fanout").queue_logical_id,
            webhook_events["url"],
            webhook_events["arn"],
        )
        return {
            "webhook_events_url": webhook_events["url"],
            "webhook_events_arn": webhook_events["arn"],
            "webhook_dead_letters_url": dead["url"],
        }

    def _queue(self, sqs: Any, name: str, **attributes: str) -> dict[str, str]:
        attributes = {"VisibilityTimeout": "2", **attributes}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return {"url": url, "arn": arn["Attributes"]["QueueArn"]}

    def _domain_source(self) -> str:
        environment = {
            **self.deployed.literal_environment("publisher"),
            **self.names.extra_environment,
        }
        return environment.get("DOMAIN_EVENT_SOURCE", deployment.DEFAULT_DOMAIN_EVENT_SOURCE)
