"""The synthesized template as the local stack reads it: what it runs, the start-up check
against meetings.deployment, and the roles' policies resolved to local ARNs. The template is
synthesized once (cdk.out/local, cached by the content hash of what it is made of)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from meetings import deployment

from local.iam.policy import Policy, Request
from local.template.binding import BoundTemplate
from local.template.check import TemplateMismatchError, check, differences
from local.template.model import Bindings, DeployedTemplate, TemplateError, resolve
from local.template.synth import inputs_hash, load_template

ACCOUNT = "123456789012"
LOCAL_TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/meetings-local"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _bound(template: dict[str, Any]) -> BoundTemplate:
    bound = BoundTemplate(template, account=ACCOUNT, region="us-east-1")
    bound.bind_table("meetings-local", LOCAL_TABLE, f"{LOCAL_TABLE}/stream/1")
    return bound


def test_the_template_is_what_the_shared_constants_describe(template: dict[str, Any]) -> None:
    deployed = DeployedTemplate(template)
    assert differences(deployed) == []
    assert set(deployed.functions) == set(deployment.HANDLERS)
    assert {f.handler for f in deployed.functions.values()} == set(deployment.HANDLERS.values())
    assert deployed.functions["api"].memory_mb == 1024
    assert deployed.functions["api"].timeout_seconds == 25
    assert {s.function for s in deployed.queue_sources} == {
        "events",
        "webhook_fanout",
        "webhook_delivery",
    }
    assert all(s.report_batch_item_failures for s in deployed.queue_sources)
    assert [s.expression for s in deployed.schedules] == [deployment.DEFAULT_CLEANUP_SCHEDULE]


def test_the_local_template_trusts_the_local_issuer(template: dict[str, Any]) -> None:
    issuer, audiences = _bound(template).authorizer()
    assert issuer.startswith("https://local.")
    assert len(audiences) == 1


def _mutated(template: dict[str, Any], change: Any) -> list[str]:
    changed = copy.deepcopy(template)
    change(changed["Resources"])
    return differences(DeployedTemplate(changed))


def _of_type(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources.values() if r["Type"] == kind]


def _set_route_auth(resources: dict[str, Any]) -> None:
    route = next(
        p
        for p in _of_type(resources, "AWS::ApiGatewayV2::Route")
        if p["RouteKey"] == "GET /meetings"
    )
    route["AuthorizationType"] = "NONE"


def _drop_route(resources: dict[str, Any]) -> None:
    found = next(
        k for k, r in resources.items() if r["Properties"].get("RouteKey") == "POST /webhooks"
    )
    del resources[found]


def _drop_function(resources: dict[str, Any]) -> None:
    found = next(
        k
        for k, r in resources.items()
        if r["Properties"].get("Handler") == deployment.HANDLERS["cleanup"]
    )
    del resources[found]


def _change_pattern(resources: dict[str, Any]) -> None:
    for rule in _of_type(resources, "AWS::Events::Rule"):
        if rule["EventPattern"]["source"] == ["aws.chime"]:
            rule["EventPattern"]["detail-type"] = ["Chime Meeting State Change"]


def _drop_variable(resources: dict[str, Any]) -> None:
    function = next(
        p
        for p in _of_type(resources, "AWS::Lambda::Function")
        if p.get("Handler") == deployment.HANDLERS["events"]
    )
    del function["Environment"]["Variables"]["TABLE_NAME"]


def _change_schedule(resources: dict[str, Any]) -> None:
    _of_type(resources, "AWS::Scheduler::Schedule")[0]["ScheduleExpression"] = "cron(0 * * * ? *)"


def _drop_index(resources: dict[str, Any]) -> None:
    table = _of_type(resources, "AWS::DynamoDB::Table")[0]
    table["GlobalSecondaryIndexes"] = table["GlobalSecondaryIndexes"][1:]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_set_route_auth, "route GET /meetings: authorization NONE in the template, JWT"),
        (_drop_route, "route POST /webhooks is in API_ROUTES but not in the template"),
        (
            _drop_function,
            "function cleanup (meetings.handlers.cleanup.handler) is not in the template",
        ),
        (_change_pattern, "pattern"),
        (_drop_variable, "function events: environment variable TABLE_NAME is not set"),
        (_change_schedule, "schedule: the local scheduler runs rate(...) expressions only"),
        (_drop_index, "table GlobalSecondaryIndexes"),
    ],
)
def test_a_difference_is_a_start_up_error_that_names_it(
    template: dict[str, Any], change: Any, named: str
) -> None:
    found = _mutated(template, change)
    assert any(named in difference for difference in found), found
    changed = copy.deepcopy(template)
    change(changed["Resources"])
    with pytest.raises(TemplateMismatchError, match=r"differs from meetings\.deployment"):
        check(DeployedTemplate(changed))


def test_an_unknown_handler_is_named(template: dict[str, Any]) -> None:
    changed = copy.deepcopy(template)
    for function in _of_type(changed["Resources"], "AWS::Lambda::Function"):
        if function.get("Handler") == deployment.HANDLERS["api"]:
            function["Handler"] = "meetings.handlers.apii.handler"
    with pytest.raises(TemplateError, match=r"'meetings.handlers.apii.handler'"):
        DeployedTemplate(changed)


def test_references_resolve_to_the_local_resources_by_logical_id() -> None:
    bindings = Bindings(account=ACCOUNT, region="us-east-1")
    bindings.bind("Table1234ABCD", Ref="meetings-local", Arn=LOCAL_TABLE)
    joined = {"Fn::Join": ["", [{"Fn::GetAtt": ["Table1234ABCD", "Arn"]}, "/index/byHost"]]}
    assert resolve(joined, bindings) == f"{LOCAL_TABLE}/index/byHost"
    assert resolve({"Ref": "Table1234ABCD"}, bindings) == "meetings-local"
    partition = {"Fn::Join": [":", ["arn", {"Ref": "AWS::Partition"}, {"Ref": "AWS::AccountId"}]]}
    assert resolve(partition, bindings) == f"arn:aws:{ACCOUNT}"
    assert resolve({"Fn::Sub": "x-${AWS::Region}-${Table1234ABCD.Arn}"}, bindings) == (
        f"x-us-east-1-{LOCAL_TABLE}"
    )
    with pytest.raises(TemplateError, match=r"Queue9\.Arn has no local stand-in"):
        resolve({"Fn::GetAtt": ["Queue9", "Arn"]}, bindings)
    unbound = resolve({"Fn::GetAtt": ["Queue9", "Arn"]}, bindings, strict=False)
    assert unbound == "arn:aws:cloudformation:::unbound/Queue9.Arn"


def test_the_synthesized_roles_resolved_locally(template: dict[str, Any]) -> None:
    bound = _bound(template)
    api = Policy.from_documents(bound.policy_documents("api"))
    events = Policy.from_documents(bound.policy_documents("events"))
    publisher = Policy.from_documents(bound.policy_documents("publisher"))
    assert api.decide(Request("dynamodb:PutItem", LOCAL_TABLE)) == "allow"
    assert api.decide(Request("dynamodb:Query", f"{LOCAL_TABLE}/index/byHost")) == "allow"
    assert api.decide(Request("dynamodb:Query", f"{LOCAL_TABLE}/index/other")) == "implicit-deny"
    assert api.decide(Request("dynamodb:Scan", LOCAL_TABLE)) == "implicit-deny"
    assert events.decide(Request("chime:CreateMeeting", "*")) == "implicit-deny"
    assert events.decide(Request("dynamodb:DeleteItem", LOCAL_TABLE)) == "implicit-deny"
    assert publisher.decide(Request("dynamodb:GetRecords", f"{LOCAL_TABLE}/stream/1")) == "allow"
    meeting = f"arn:aws:chime:us-east-1:{ACCOUNT}:meeting/m1"
    assert api.decide(Request("chime:DeleteMeeting", meeting)) == "allow"
    assert api.decide(Request("chime:DeleteMeeting", meeting.replace(ACCOUNT, "1" * 12))) == (
        "implicit-deny"
    )


def test_the_cache_key_covers_what_the_template_is_made_of(tmp_path: Any) -> None:
    root = tmp_path
    (root / "infra").mkdir()
    (root / "lambdas" / "meetings").mkdir(parents=True)
    for name in ("app.py", "cdk.json", "infra/stack.py"):
        (root / name).write_text("a")
    for name in ("deployment", "settings", "observability"):
        (root / "lambdas" / "meetings" / f"{name}.py").write_text("a")
    package = root / "lambdas" / "meetings"
    before = inputs_hash(root, package)
    assert inputs_hash(root, package) == before
    (root / "infra" / "stack.py").write_text("b")
    changed = inputs_hash(root, package)
    assert changed != before
    (package / "deployment.py").write_text("b")
    assert inputs_hash(root, package) != changed
