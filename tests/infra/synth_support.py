"""Synthesizing the stack for tests: one app per configuration, bundling skipped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from aws_cdk import App
from aws_cdk.assertions import Template

from app import build_app
from infra.stack import MeetingsStack

# Fast synths skip the asset build; tests/infra/test_bundling.py runs the real one.
SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}
# A deployment unlike the default in every knob that changes the template.
CUSTOM_CONTEXT: dict[str, Any] = {
    "stage": "prod",
    "region": "eu-central-1",
    "account": "123456789012",
    "defaultMediaRegion": "eu-west-2",
    "corsAllowedOrigins": ["https://app.example.com", "http://localhost:5173"],
    "jwtIssuer": "https://issuer.example.com/",
    "jwtAudience": ["meetings-api"],
    "adminGroup": "operators",
    "recordRetentionDays": 7,
    "logRetentionDays": 90,
    "cleanupSchedule": "rate(5 minutes)",
    "maxOpenMeetingsPerUser": 3,
    "domainEventSource": "acme.meetings",
    "logLevel": "DEBUG",
    "removalPolicy": "destroy",
    "snapStart": False,
    "alarmEmail": "oncall@example.com",
    "apiThrottleRateLimit": 25,
    "apiThrottleBurstLimit": 50,
    "recordingRetentionDays": 400,
    "recordingUrlTtlSeconds": 300,
    "recordingsVisibleToAttendees": True,
    "createServiceLinkedRoles": True,
    "eventsConcurrency": 5,
}

CONSOLE_CONTEXT: dict[str, Any] = {"console": True}


@dataclass(frozen=True)
class Deployment:
    stack: MeetingsStack
    template: Template
    # The template as a dict, read once: each Template.to_json() is a round trip to jsii.
    json: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.json["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    @property
    def outdir(self) -> Path:
        """Where the app wrote the template and its assets."""
        return Path(cast(App, self.stack.node.root).outdir)


def synthesize(outdir: Path, context: dict[str, Any]) -> Deployment:
    app = build_app(outdir=str(outdir), context={**SKIP_BUNDLING, **context}, environ={})
    stack = next(child for child in app.node.children if isinstance(child, MeetingsStack))
    template = Template.from_stack(stack)
    return Deployment(stack=stack, template=template, json=template.to_json())
