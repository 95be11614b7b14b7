"""The deployed console (context flag `console`): a private bucket behind CloudFront with
origin access control and security headers, a PKCE app client on the hosted UI, the API's
CORS and authorizer opened to it, and the config.json the page reads."""

from __future__ import annotations

import json
import re
from typing import Any

from cfn_render import render, render_all
from synth_support import Deployment

DEPLOYMENT_TYPE = "Custom::CDKBucketDeployment"
CONSOLE_TYPES = (
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::Cognito::UserPoolDomain",
    DEPLOYMENT_TYPE,
)


def only(stack: Deployment, resource_type: str) -> tuple[str, dict[str, Any]]:
    (logical_id, resource), *others = stack.of_type(resource_type).items()
    assert not others, resource_type
    return logical_id, resource["Properties"]


def console_origin(stack: Deployment) -> str:
    distribution, _ = only(stack, "AWS::CloudFront::Distribution")
    return f"https://{distribution}.DomainName"


def hosted_ui(stack: Deployment) -> str:
    domain, _ = only(stack, "AWS::Cognito::UserPoolDomain")
    return f"https://{domain}.auth.us-east-1.amazoncognito.com"


def test_without_the_flag_there_is_no_console(default: Deployment) -> None:
    assert default.stack.console is None
    for resource_type in CONSOLE_TYPES:
        assert not default.of_type(resource_type), resource_type
    assert len(default.of_type("AWS::Cognito::UserPoolClient")) == 1
    assert not [logical_id for logical_id in default.resources if logical_id.startswith("Console")]


def test_the_api_client_never_signs_in_through_the_hosted_ui(default: Deployment) -> None:
    client = default.resources[default.logical_id(default.stack.identity.client)]["Properties"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is False
    assert "CallbackURLs" not in client


def test_the_bucket_is_private_and_read_by_cloudfront_only(console: Deployment) -> None:
    assert console.stack.console is not None
    bucket_id = console.logical_id(console.stack.console.bucket)
    bucket = console.resources[bucket_id]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    logs = bucket["LoggingConfiguration"]
    assert render(logs["DestinationBucketName"]) == console.logical_id(
        console.stack.media.access_logs
    )

    (policy,) = [
        props["PolicyDocument"]["Statement"]
        for props in (r["Properties"] for r in console.of_type("AWS::S3::BucketPolicy").values())
        if render(props["Bucket"]) == bucket_id
    ]
    denies_plain_http = {
        "Effect": "Deny",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert any(denies_plain_http.items() <= statement.items() for statement in policy)
    (read,) = [s for s in policy if s["Effect"] == "Allow"]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    distribution_id, distribution = only(console, "AWS::CloudFront::Distribution")
    source = render(read["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert source.endswith(f":distribution/{distribution_id}")

    config = distribution["DistributionConfig"]
    (origin,) = config["Origins"]
    oac_id, oac = only(console, "AWS::CloudFront::OriginAccessControl")
    assert render(origin["OriginAccessControlId"]) == f"{oac_id}.Id"
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert render(config["Logging"]["Bucket"]) == (
        f"{console.logical_id(console.stack.console.request_logs)}.RegionalDomainName"
    )


def test_every_response_carries_the_security_headers(console: Deployment) -> None:
    policy_id, policy = only(console, "AWS::CloudFront::ResponseHeadersPolicy")
    _, distribution = only(console, "AWS::CloudFront::Distribution")
    behavior = distribution["DistributionConfig"]["DefaultCacheBehavior"]
    assert render(behavior["ResponseHeadersPolicyId"]) == policy_id
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert all(header["Override"] for header in headers.values())
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 365 * 86400
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert "ContentTypeOptions" in headers  # X-Content-Type-Options: nosniff
    csp = render(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["connect-src"].split() == [
        "'self'",
        "https://*.execute-api.us-east-1.<AWS::URLSuffix>",
        hosted_ui(console),
    ]
    assert not re.search(r"'unsafe-|\*(?!\.execute-api)", csp), csp


def test_the_console_client_is_a_public_pkce_client(console: Deployment) -> None:
    assert console.stack.console is not None
    client_id = console.logical_id(console.stack.console.client)
    client = console.resources[client_id]["Properties"]
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthScopes"] == ["openid"]
    # No password, SRP or custom sign-in with this client: the hosted UI only.
    assert client["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    page = f"{console_origin(console)}/"
    assert render_all(client["CallbackURLs"]) == [page]
    assert render_all(client["LogoutURLs"]) == [page]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    _, authorizer = only(console, "AWS::ApiGatewayV2::Authorizer")
    audience = render_all(authorizer["JwtConfiguration"]["Audience"])
    assert audience == sorted([console.logical_id(console.stack.identity.client), client_id])


def test_the_api_allows_the_console_origin_and_only_it(console: Deployment) -> None:
    _, api = only(console, "AWS::ApiGatewayV2::Api")
    cors = api["CorsConfiguration"]
    assert render_all(cors["AllowOrigins"]) == [console_origin(console)]
    assert "Authorization" in cors["AllowHeaders"]


def test_the_page_is_deployed_with_its_config(console: Deployment) -> None:
    _, deployment = only(console, DEPLOYMENT_TYPE)
    assert deployment["Prune"] is True
    assert render(deployment["DestinationBucketName"]) == console.logical_id(
        console.stack.console.bucket  # type: ignore[union-attr]
    )
    keys = [key.removesuffix(".zip") for key in deployment["SourceObjectKeys"]]
    assets = [console.outdir / f"asset.{key}" for key in keys]
    page, config_source = assets
    assert (page / "index.html").is_file()
    assert not (page / "config.json").exists()
    text = (config_source / "config.json").read_text()
    for marker, value in deployment["SourceMarkers"][1].items():
        text = text.replace(marker, render(value))
    api_id, _ = only(console, "AWS::ApiGatewayV2::Api")
    client = console.logical_id(console.stack.console.client)  # type: ignore[union-attr]
    assert json.loads(text) == {
        "apiUrl": f"https://{api_id}.execute-api.us-east-1.<AWS::URLSuffix>/",
        "auth": {
            "kind": "cognito",
            "authorizeUrl": f"{hosted_ui(console)}/oauth2/authorize",
            "tokenUrl": f"{hosted_ui(console)}/oauth2/token",
            "logoutUrl": f"{hosted_ui(console)}/logout",
            "clientId": client,
            "redirectUri": f"{console_origin(console)}/",
            "scope": "openid",
        },
        "simulation": False,
    }
