"""Reading the synthesized template: what the local stack runs, and resolving CloudFormation's
references to the local resources that stand in for the deployed ones.

References are resolved by logical id. The local stack binds each template resource it runs a
stand-in for (the table, the project's bus, the recordings bucket, the webhook key, the
queues the rules and event source mappings use, the functions) to that stand-in's local
attributes (`Ref`, `Arn`, `QueueUrl`, `StreamArn`, ...); pseudo parameters resolve to the local
account and region. A reference to anything unbound cannot be resolved: as an environment
value that is a startup error naming the variable; inside an IAM policy it becomes an ARN no
local resource has (`arn:aws:cloudformation:::unbound/<logical id>`), so the grant matches
nothing locally, as it would match nothing this stack's code touches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meetings import deployment


class TemplateError(RuntimeError):
    """The template cannot be run locally as it is (the message names what and where)."""


@dataclass
class Bindings:
    """Template logical id → the local stand-in's attributes (`Ref` included)."""

    account: str
    region: str
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)

    def bind(self, logical_id: str, **attributes: str) -> None:
        self.attributes.setdefault(logical_id, {}).update(attributes)

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)


UNBOUND_PREFIX = "arn:aws:cloudformation:::unbound/"


def resolve(value: Any, bindings: Bindings, *, strict: bool = True) -> Any:
    """`value` with every Ref, Fn::GetAtt, Fn::Join and Fn::Sub replaced by local values.
    `strict`: an unbound reference raises TemplateError; otherwise it becomes an ARN no local
    resource has."""
    if isinstance(value, list):
        return [resolve(item, bindings, strict=strict) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        return {key: resolve(item, bindings, strict=strict) for key, item in value.items()}
    ((function, argument),) = value.items()
    return _intrinsic(function, argument, bindings, strict)


def _intrinsic(function: str, argument: Any, bindings: Bindings, strict: bool) -> Any:
    if function == "Ref":
        return _attribute(argument, "Ref", bindings, strict)
    if function == "Fn::GetAtt":
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        return _attribute(logical_id, attribute, bindings, strict)
    if function == "Fn::Join":
        separator, parts = argument
        return separator.join(str(resolve(part, bindings, strict=strict)) for part in parts)
    if function == "Fn::Sub" and isinstance(argument, str):
        return _substitute(argument, bindings, strict)
    if function.startswith("Fn::"):
        raise TemplateError(f"{function} is not resolved by the local stack")
    return {function: resolve(argument, bindings, strict=strict)}


def _attribute(logical_id: str, attribute: str, bindings: Bindings, strict: bool) -> str:
    if attribute == "Ref" and (pseudo := bindings.pseudo(logical_id)) is not None:
        return pseudo
    found = bindings.attributes.get(logical_id, {}).get(attribute)
    if found is not None:
        return found
    if strict:
        raise TemplateError(f"{logical_id}.{attribute} has no local stand-in")
    return f"{UNBOUND_PREFIX}{logical_id}.{attribute}"


def _substitute(text: str, bindings: Bindings, strict: bool) -> str:
    out, rest = [], text
    while "${" in rest:
        before, _, after = rest.partition("${")
        name, _, rest = after.partition("}")
        logical_id, _, attribute = name.partition(".")
        out += [before, _attribute(logical_id, attribute or "Ref", bindings, strict)]
    return "".join([*out, rest])


# --- what the template holds --------------------------------------------------------------
_FUNCTION_NAMES = {handler: name for name, handler in deployment.HANDLERS.items()}


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    logical_id: str
    handler: str
    memory_mb: int
    timeout_seconds: int
    environment: Mapping[str, Any]  # values may be CloudFormation references
    role_logical_id: str


@dataclass(frozen=True)
class QueueSource:
    """An SQS event source mapping."""

    function: str
    queue_logical_id: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class StreamSource:
    function: str
    table_logical_id: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class RuleSpec:
    logical_id: str
    bus_logical_id: str | None  # None: the default bus
    pattern: Mapping[str, Any]
    target_queue_logical_ids: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleSpec:
    expression: str
    function: str
    input: Mapping[str, Any]


@dataclass(frozen=True)
class Authorizer:
    issuer: Any
    audience: tuple[Any, ...]


class DeployedTemplate:
    """The parts of the template the local stack runs, by kind."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        self.resources: Mapping[str, Mapping[str, Any]] = template["Resources"]
        self.functions = self._functions()
        by_logical_id = {spec.logical_id: spec.name for spec in self.functions.values()}
        self.queue_sources: list[QueueSource] = []
        self.stream_sources: list[StreamSource] = []
        for mapping in self.of_type("AWS::Lambda::EventSourceMapping").values():
            self._event_source(mapping, by_logical_id)
        self.rules = [
            self._rule(lid, props) for lid, props in self.of_type("AWS::Events::Rule").items()
        ]
        self.schedules = [
            schedule
            for props in self.of_type("AWS::Scheduler::Schedule").values()
            if (schedule := self._schedule(props, by_logical_id)) is not None
        ]
        self.routes = {
            props["RouteKey"]: props.get("AuthorizationType", "NONE")
            for props in self.of_type("AWS::ApiGatewayV2::Route").values()
        }
        authorizers = list(self.of_type("AWS::ApiGatewayV2::Authorizer").values())
        if len(authorizers) != 1:
            raise TemplateError(f"expected one API authorizer, found {len(authorizers)}")
        jwt = authorizers[0]["JwtConfiguration"]
        self.authorizer = Authorizer(jwt["Issuer"], tuple(jwt.get("Audience", [])))

    def of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    def the_one(self, resource_type: str) -> str:
        found = list(self.of_type(resource_type))
        if len(found) != 1:
            raise TemplateError(f"expected one {resource_type}, found {sorted(found)}")
        return found[0]

    def _functions(self) -> dict[str, FunctionSpec]:
        functions = {}
        for logical_id, props in self.of_type("AWS::Lambda::Function").items():
            handler = props.get("Handler", "")
            if not handler.startswith("meetings."):
                continue  # a construct library's own function (custom resources)
            if handler not in _FUNCTION_NAMES:
                raise TemplateError(
                    f"function {logical_id} has handler {handler!r}, which "
                    "meetings.deployment.HANDLERS does not name"
                )
            name = _FUNCTION_NAMES[handler]
            functions[name] = FunctionSpec(
                name=name,
                logical_id=logical_id,
                handler=handler,
                memory_mb=int(props.get("MemorySize", 128)),
                timeout_seconds=int(props.get("Timeout", 3)),
                environment=props.get("Environment", {}).get("Variables", {}),
                role_logical_id=target_of(props["Role"]),
            )
        return functions

    def _event_source(self, props: Mapping[str, Any], functions: Mapping[str, str]) -> None:
        function = functions.get(target_of(props["FunctionName"]))
        if function is None:
            return
        source = props["EventSourceArn"]["Fn::GetAtt"]
        reports = "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])
        if source[1] == "StreamArn":
            self.stream_sources.append(
                StreamSource(function, source[0], int(props.get("BatchSize", 100)), reports)
            )
        else:
            self.queue_sources.append(
                QueueSource(function, source[0], int(props.get("BatchSize", 10)), reports)
            )

    def _rule(self, logical_id: str, props: Mapping[str, Any]) -> RuleSpec:
        bus = props.get("EventBusName")
        pattern = props["EventPattern"]
        return RuleSpec(
            logical_id=logical_id,
            bus_logical_id=None if bus in (None, "default") else target_of(bus),
            pattern=json.loads(pattern) if isinstance(pattern, str) else pattern,
            target_queue_logical_ids=tuple(target_of(t["Arn"]) for t in props.get("Targets", [])),
        )

    def _schedule(
        self, props: Mapping[str, Any], functions: Mapping[str, str]
    ) -> ScheduleSpec | None:
        """The schedule, if it invokes one of the functions (else the check names it missing)."""
        target = props["Target"]
        function = functions.get(target_of(target["Arn"]))
        if function is None:
            return None
        return ScheduleSpec(
            props["ScheduleExpression"], function, json.loads(target.get("Input", "{}"))
        )

    def queues_of(self, function: str) -> list[QueueSource]:
        return [s for s in self.queue_sources if s.function == function]

    def queue_of(self, function: str) -> QueueSource:
        """The one SQS event source of a function fed by one queue."""
        found = self.queues_of(function)
        if len(found) != 1:
            raise TemplateError(f"the {function} function has {len(found)} SQS event sources")
        return found[0]

    def dead_letter_queue_of(self, queue_logical_id: str) -> str | None:
        policy = self.resources[queue_logical_id].get("Properties", {}).get("RedrivePolicy")
        return target_of(policy["deadLetterTargetArn"]) if policy else None

    def role_policy_documents(self, role_logical_id: str) -> list[Mapping[str, Any]]:
        """Every identity policy document of a role: its inline ones and the AWS::IAM::Policy
        resources attached to it (unresolved). Managed policies are refused: the stack has
        none, and their documents are not in the template."""
        role = self.resources[role_logical_id].get("Properties", {})
        if role.get("ManagedPolicyArns"):
            raise TemplateError(f"{role_logical_id} has managed policies, which are not modelled")
        documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
        for props in self.of_type("AWS::IAM::Policy").values():
            if any(target_of(r) == role_logical_id for r in props.get("Roles", [])):
                documents.append(props["PolicyDocument"])
        return documents


def target_of(reference: Any) -> str:
    """The logical id a Ref or Fn::GetAtt names."""
    if isinstance(reference, dict):
        if "Ref" in reference:
            return str(reference["Ref"])
        if "Fn::GetAtt" in reference:
            return str(reference["Fn::GetAtt"][0])
    raise TemplateError(f"expected a Ref or Fn::GetAtt, found {reference!r}")
