"""The template against what the local stack would otherwise assemble from the shared
constants (`meetings.deployment`): every difference, named, stops the start-up."""

from __future__ import annotations

import json
from typing import Any, Final

from meetings import deployment
from meetings.domain.webhooks import Lane

from local.event_delivery import rate_seconds
from local.template.model import DeployedTemplate, TemplateError

# The deployed resources the local stack stands in for, by the variable that names them.
RESOURCE_VARIABLES: Final = (
    "TABLE_NAME",
    "EVENT_BUS_NAME",
    "RECORDINGS_BUCKET",
    "ACCOUNT_ID",
    "WEBHOOK_KEY_ID",
    "WEBHOOK_DELIVERY_QUEUE_URL",
    "WEBHOOK_RETRY_QUEUE_URL",
)
# Functions fed by SQS queues, and how many: the deliverer reads one queue per lane.
QUEUE_FED: Final = {"events": 1, "webhook_fanout": 1, "webhook_delivery": len(Lane)}


class TemplateMismatchError(TemplateError):
    """The template and the shared constants disagree (every difference is listed)."""


def differences(template: DeployedTemplate) -> list[str]:
    found = [*_functions(template), *_routes(template)]
    if found:
        return found  # the rest is read through the functions
    return [
        *_environment(template),
        *_event_sources(template),
        *_rules(template),
        *_schedule(template),
        *_table(template),
    ]


def check(template: DeployedTemplate) -> None:
    found = differences(template)
    if found:
        raise TemplateMismatchError(
            "the synthesized template differs from meetings.deployment:\n- " + "\n- ".join(found)
        )


def _functions(template: DeployedTemplate) -> list[str]:
    missing = sorted(set(deployment.HANDLERS) - set(template.functions))
    return [
        f"function {name} ({deployment.HANDLERS[name]}) is not in the template" for name in missing
    ]


def _routes(template: DeployedTemplate) -> list[str]:
    expected = {
        f"{method} {path}": "JWT" if needs_token else "NONE"
        for method, path, needs_token in deployment.API_ROUTES
    }
    found = []
    for key in sorted(set(expected) | set(template.routes)):
        if key not in template.routes:
            found.append(f"route {key} is in API_ROUTES but not in the template")
        elif key not in expected:
            found.append(f"route {key} is in the template but not in API_ROUTES")
        elif expected[key] != template.routes[key]:
            found.append(
                f"route {key}: authorization {template.routes[key]} in the template, "
                f"{expected[key]} in API_ROUTES"
            )
    return found


def _environment(template: DeployedTemplate) -> list[str]:
    return [
        f"function {name}: environment variable {variable} is not set by the template"
        for name, spec in sorted(template.functions.items())
        for variable in RESOURCE_VARIABLES
        if variable not in spec.environment
    ]


def _event_sources(template: DeployedTemplate) -> list[str]:
    found = []
    for function, expected in QUEUE_FED.items():
        sources = template.queues_of(function)
        if len(sources) != expected:
            found.append(
                f"function {function}: {len(sources)} SQS event sources, expected {expected}"
            )
    streams = [s for s in template.stream_sources if s.function == "publisher"]
    table = template.the_one("AWS::DynamoDB::Table")
    if [s.table_logical_id for s in streams] != [table]:
        found.append("function publisher: no event source on the table's stream")
    return found


def _rules(template: DeployedTemplate) -> list[str]:
    domain_source = template.functions["webhook_fanout"].environment.get(
        "DOMAIN_EVENT_SOURCE", deployment.DEFAULT_DOMAIN_EVENT_SOURCE
    )
    expected: dict[str, tuple[bool, dict[str, Any]]] = {
        "events": (True, dict(deployment.CHIME_EVENT_PATTERN)),
        "webhook_fanout": (False, deployment.webhook_event_pattern(str(domain_source))),
    }
    found = []
    for function, (default_bus, pattern) in expected.items():
        queue = template.queue_of(function).queue_logical_id
        rules = [r for r in template.rules if queue in r.target_queue_logical_ids]
        if len(rules) != 1:
            found.append(f"{len(rules)} rules feed the {function} queue {queue}, expected 1")
            continue
        rule = rules[0]
        if (rule.bus_logical_id is None) != default_bus:
            found.append(f"rule {rule.logical_id} is on the wrong bus")
        if _normal(rule.pattern) != _normal(pattern):
            found.append(
                f"rule {rule.logical_id}: pattern {dict(rule.pattern)} in the template, "
                f"{pattern} in meetings.deployment"
            )
    return found


def _normal(pattern: Any) -> Any:
    if isinstance(pattern, dict):
        return {key: _normal(value) for key, value in pattern.items()}
    if isinstance(pattern, list):
        return sorted(map(str, pattern))
    return pattern


def _schedule(template: DeployedTemplate) -> list[str]:
    if [s.function for s in template.schedules] != ["cleanup"]:
        return ["expected one schedule, invoking the cleanup function"]
    try:
        rate_seconds(template.schedules[0].expression)
    except ValueError as error:
        return [f"schedule: {error}"]
    return []


def _table(template: DeployedTemplate) -> list[str]:
    props = template.of_type("AWS::DynamoDB::Table")[template.the_one("AWS::DynamoDB::Table")]
    local = deployment.table_definition("local")
    found = []
    for key in ("KeySchema", "AttributeDefinitions"):
        if _normal_list(props.get(key)) != _normal_list(local[key]):
            found.append(f"table {key}: {props.get(key)} in the template, {local[key]} locally")
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        deployed = {i["IndexName"]: _normal_list(i["KeySchema"]) for i in props.get(key, [])}
        wanted = {i["IndexName"]: _normal_list(i["KeySchema"]) for i in local[key]}
        if deployed != wanted:
            found.append(
                f"table {key}: {sorted(deployed)} in the template, {sorted(wanted)} locally"
            )
    view = props.get("StreamSpecification", {}).get("StreamViewType")
    if view != deployment.STREAM_VIEW_TYPE:
        found.append(f"table stream view {view}, expected {deployment.STREAM_VIEW_TYPE}")
    return found


def _normal_list(items: Any) -> list[str]:
    return sorted(json.dumps(item, sort_keys=True) for item in items or [])
