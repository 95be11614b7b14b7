"""The HTTP API: routes, who may call them, CORS, throttling and access logs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cfn_render import render
from synth_support import Deployment

from infra.api import PROTECTED_ROUTES, PUBLIC_ROUTES

API_DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# The first routes of API v1, written out here so a route lost shows up as a diff.
API_V1_ROUTES = {
    "GET /health",
    "GET /openapi.json",
    "POST /meetings",
    "GET /meetings",
    "GET /meetings/{meetingId}",
    "DELETE /meetings/{meetingId}",
    "POST /meetings/{meetingId}/attendees",
    "POST /meetings/{meetingId}/attendees/batch",
    "GET /meetings/{meetingId}/attendees",
    "GET /meetings/{meetingId}/attendees/{attendeeId}",
    "DELETE /meetings/{meetingId}/attendees/{attendeeId}",
    "PUT /meetings/{meetingId}/attendees/{attendeeId}/capabilities",
}
OPEN_ROUTES = {"GET /health", "GET /openapi.json"}


def routes(stack: Deployment) -> dict[str, dict[str, Any]]:
    return {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in stack.of_type("AWS::ApiGatewayV2::Route").values()
    }


def only_props(stack: Deployment, resource_type: str) -> dict[str, Any]:
    (resource,) = stack.of_type(resource_type).values()
    props: dict[str, Any] = resource["Properties"]
    return props


def documented_routes() -> set[str]:
    """`METHOD /path` of every row of docs/api.md's route tables (`| GET / PATCH | /x |`)."""
    found = set()
    for methods, path in re.findall(
        r"^\| ([A-Z]+(?: / [A-Z]+)*) \| (/\S*) \|", API_DOCS.read_text(), re.M
    ):
        found.update(f"{method} {path}" for method in methods.split(" / "))
    return found


def declared_routes() -> set[str]:
    return {f"{method} {path}" for method, path in PUBLIC_ROUTES + PROTECTED_ROUTES}


def test_the_routes_are_the_declared_and_documented_ones(default: Deployment) -> None:
    """The stack makes exactly the shared route table's routes; none of v1's is lost, and
    every route deployed is in docs/api.md."""
    assert set(routes(default)) == declared_routes()
    assert declared_routes() >= API_V1_ROUTES
    assert declared_routes() <= documented_routes()


def test_only_health_and_openapi_are_open(default: Deployment, custom: Deployment) -> None:
    for stack in (default, custom):
        authorizer = next(iter(stack.of_type("AWS::ApiGatewayV2::Authorizer")))
        for key, route in routes(stack).items():
            if key in OPEN_ROUTES:
                assert route["AuthorizationType"] == "NONE", key
                assert "AuthorizerId" not in route
            else:
                assert route["AuthorizationType"] == "JWT", key
                assert render(route["AuthorizerId"]) == authorizer, key


def test_every_route_invokes_the_api_alias_with_payload_v2(default: Deployment) -> None:
    integration = only_props(default, "AWS::ApiGatewayV2::Integration")
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "2.0"
    assert render(integration["IntegrationUri"]) == default.logical_id(default.stack.api_alias)
    (integration_id,) = default.of_type("AWS::ApiGatewayV2::Integration")
    for route in routes(default).values():
        assert render(route["Target"]) == f"integrations/{integration_id}"


def test_the_authorizer_trusts_the_user_pool_by_default(default: Deployment) -> None:
    authorizer = only_props(default, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    pool = default.logical_id(default.stack.identity.user_pool)
    client = default.logical_id(default.stack.identity.client)
    issuer = render(authorizer["JwtConfiguration"]["Issuer"])
    assert issuer == f"https://cognito-idp.us-east-1.<AWS::URLSuffix>/{pool}"
    assert [render(a) for a in authorizer["JwtConfiguration"]["Audience"]] == [client]


def test_the_authorizer_trusts_a_configured_issuer(custom: Deployment) -> None:
    authorizer = only_props(custom, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["JwtConfiguration"] == {
        "Issuer": "https://issuer.example.com/",
        "Audience": ["meetings-api"],
    }


def test_the_stage_is_throttled(default: Deployment, custom: Deployment) -> None:
    for stack, rate, burst in ((default, 100, 200), (custom, 25, 50)):
        stage = only_props(stack, "AWS::ApiGatewayV2::Stage")
        assert stage["StageName"] == "$default"
        assert stage["AutoDeploy"] is True
        assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == rate
        assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == burst


def test_access_logs_are_json_lines_without_headers(default: Deployment) -> None:
    stage = only_props(default, "AWS::ApiGatewayV2::Stage")
    settings = stage["AccessLogSettings"]
    log_group = default.logical_id(default.stack.api.access_logs)
    assert render(settings["DestinationArn"]) == f"{log_group}.Arn"
    fields = json.loads(settings["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["status"] == "$context.status"
    assert not any("header" in value.lower() for value in fields.values())
    retention = default.resources[log_group]["Properties"]["RetentionInDays"]
    assert retention == 30


def test_no_cors_without_configured_origins(default: Deployment) -> None:
    assert "CorsConfiguration" not in only_props(default, "AWS::ApiGatewayV2::Api")


def test_cors_follows_the_config_and_api_v1(custom: Deployment) -> None:
    cors = only_props(custom, "AWS::ApiGatewayV2::Api")["CorsConfiguration"]
    assert cors["AllowOrigins"] == ["https://app.example.com", "http://localhost:5173"]
    assert cors["AllowHeaders"] == ["Authorization", "Content-Type", "Idempotency-Key"]
    assert cors["ExposeHeaders"] == ["Retry-After"]
    assert set(cors["AllowMethods"]) == {route.split()[0] for route in declared_routes()}
    assert {"GET", "POST", "PUT", "DELETE"} <= set(cors["AllowMethods"])
