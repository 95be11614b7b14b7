"""The HTTP API: the routes of docs/api.md, the JWT authorizer on all but two, throttling, logs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import jsii
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from meetings.deployment import API_ROUTES, CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS

from infra.acknowledgments import acknowledge, acknowledge_scan
from infra.config import MeetingsConfig
from infra.function import LOG_GROUP_KEY_REASON

# (method, path) of every route; only these two answer without a token.
# The routes and CORS headers are shared with the local stack's gateway (meetings.deployment).
PUBLIC_ROUTES: Final = tuple((m, path) for m, path, needs_token in API_ROUTES if not needs_token)
PROTECTED_ROUTES: Final = tuple((m, path) for m, path, needs_token in API_ROUTES if needs_token)
PUBLIC_ROUTE_REASON: Final = (
    "GET /health and GET /openapi.json are public by contract (docs/api.md): uptime "
    "checks and client code generators call them without a token. They return no user data; "
    "every other route uses the JWT authorizer."
)
SYNCHRONOUS_REASON: Final = (
    "API Gateway invokes the api function synchronously: a failure is the HTTP response its "
    "caller gets (and the Api5xxRate alarm counts). A Lambda dead-letter queue catches only "
    "failed asynchronous invocations, which this function never has."
)
STAGE_THROTTLE_REASON: Final = (
    "The stage's throttling (apiThrottleRateLimit, apiThrottleBurstLimit) bounds the api's "
    "load; a reservation would be taken from the account's pool for good and would refuse "
    "bursts the stage admits. The api's Chime calls are the ones users wait for: the "
    "background functions' reservations keep Chime's rate for them."
)
# One JSON line per request. Context variables only: no header, so no Authorization value.
ACCESS_LOG_FIELDS: Final = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "userId": "$context.authorizer.claims.sub",
    "userAgent": "$context.identity.userAgent",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)
        self._format = apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS))

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return self._format


class MeetingsApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: MeetingsConfig,
        handler: lambda_.Alias,
        authorizer: apigwv2.IHttpRouteAuthorizer,
        browser_origins: Sequence[str] = (),
    ) -> None:
        """`browser_origins`: origins the stack serves a page from (the console's), allowed
        by CORS besides the configured `corsAllowedOrigins`."""
        super().__init__(scope, construct_id)
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=config.stack_name,
            description="Amazon Chime SDK meetings API (v1)",
            cors_preflight=_cors(config, browser_origins),
            # Every route needs a token unless it opts out, so a new route is closed by default.
            default_authorizer=authorizer,
            create_default_stage=False,
        )
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=config.log_retention,
            removal_policy=config.stateful_removal_policy,
        )
        acknowledge_scan(self.access_logs, "CKV_AWS_158", LOG_GROUP_KEY_REASON)
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.api_throttle_rate_limit,
                burst_limit=config.api_throttle_burst_limit,
            ),
            access_log_settings=_AccessLogSettings(self.access_logs),
        )
        acknowledge_scan(handler.version.lambda_, "CKV_AWS_116", SYNCHRONOUS_REASON)
        acknowledge_scan(handler.version.lambda_, "CKV_AWS_115", STAGE_THROTTLE_REASON)
        integration = integrations.HttpLambdaIntegration(
            "ApiFunction",
            handler,
            payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
        )
        for method, path in PUBLIC_ROUTES:
            for route in self.http_api.add_routes(
                path=path,
                methods=[apigwv2.HttpMethod(method)],
                integration=integration,
                authorizer=apigwv2.HttpNoneAuthorizer(),
            ):
                acknowledge(route, "AwsSolutions-APIG4", PUBLIC_ROUTE_REASON)
        for method, path in PROTECTED_ROUTES:
            self.http_api.add_routes(
                path=path, methods=[apigwv2.HttpMethod(method)], integration=integration
            )

    @property
    def url(self) -> str:
        return self.stage.url


def _cors(
    config: MeetingsConfig, browser_origins: Sequence[str]
) -> apigwv2.CorsPreflightOptions | None:
    origins = list(config.cors_allowed_origins)
    if "*" not in origins:
        origins.extend(browser_origins)
    if not origins:
        return None  # no browser client configured: no CORS headers at all
    methods = sorted({method for method, _ in PUBLIC_ROUTES + PROTECTED_ROUTES})
    return apigwv2.CorsPreflightOptions(
        allow_origins=origins,
        allow_headers=list(CORS_ALLOWED_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        allow_methods=[apigwv2.CorsHttpMethod(method) for method in methods],
        max_age=Duration.hours(1),
    )
