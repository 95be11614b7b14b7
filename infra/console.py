"""The console, deployed (context flag `console`): the page of console/ on a private bucket
behind CloudFront, signed in through the user pool's hosted UI with the authorization code
grant and PKCE, calling the API across origins.

Built in two steps because the pieces depend on each other: `ConsoleSite` makes the bucket,
the distribution, the hosted-UI domain and the console's app client (whose callback URL is
the distribution's); the stack then trusts that client in the JWT authorizer and allows the
distribution's origin in the API's CORS; `publish` finally uploads the page with the
`config.json` that tells it the API's URL and how to sign in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, cast

from aws_cdk import CfnElement, DefaultStackSynthesizer, Duration, Stack, Token
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct

from infra.acknowledgments import acknowledge, acknowledge_scan
from infra.config import MeetingsConfig
from infra.function import LOG_GROUP_KEY_REASON
from infra.media import private_bucket

CONSOLE_DIRECTORY: Final = Path(__file__).resolve().parent.parent / "console"
# The object the page reads at start to find the API and its sign-in (docs/deploy.md).
CONFIG_OBJECT: Final = "config.json"
# What the page may ask the hosted UI for: the API reads `sub` and `cognito:groups`, both in
# every access token, so OpenID alone is enough.
OAUTH_SCOPES: Final = ("openid",)
HSTS_MAX_AGE: Final = Duration.days(730)
# A signed-in page keeps its session a working day at most; then it signs in again.
REFRESH_TOKEN_VALIDITY: Final = Duration.days(1)

CLOUDFRONT_TLS_REASON: Final = (
    "The console is served on the distribution's own *.cloudfront.net name, whose default "
    "certificate CloudFront offers with TLSv1 too; a minimum of TLSv1.2 needs a custom domain "
    "and an ACM certificate, which the stack does not own. Browsers negotiate TLS 1.2 or 1.3."
)
CLOUDFRONT_WAF_REASON: Final = (
    "The distribution serves static files only (the page and its config.json, no user data); "
    "the API it calls has its own throttling and JWT authorizer. A web ACL is billed per "
    "month and per request and is an operator's choice, not a default of the stack."
)
CLOUDFRONT_GEO_REASON: Final = (
    "The console is for the deployment's users wherever they are, as the API is; a country "
    "restriction is a business decision the operator adds to the distribution."
)
DEPLOYMENT_ROLE_REASON: Final = (
    "CDK's BucketDeployment function (it copies the page into the bucket during a deployment "
    "and runs at no other time) is made by CDK with the AWSLambdaBasicExecutionRole managed "
    "policy for its own log lines; the stack cannot pass it a narrower role without "
    "re-creating CDK's copy of the asset's permissions."
)
DEPLOYMENT_STATEMENTS_REASON: Final = (
    "CDK's BucketDeployment grants its function what copying a directory needs: read the "
    "page's asset objects (s3:GetObject*, s3:GetBucket*, s3:List* on the CDK asset bucket), "
    "write and prune the console bucket's objects (s3:DeleteObject*, s3:Abort*, <bucket>/*), "
    "and cloudfront:CreateInvalidation, which has no resource-level permission, on '*'."
)
DEPLOYMENT_RUNTIME_REASON: Final = (
    "The BucketDeployment function's runtime is chosen by aws-cdk-lib together with the AWS "
    "CLI layer it bundles; it moves forward with CDK upgrades and runs only during deployments."
)
UNVERSIONED_PAGE_REASON: Final = (
    "Each deployment replaces the console's files whole from the repository, which is their "
    "history; versioning would only keep noncurrent copies of generated files."
)
UNVERSIONED_REQUEST_LOGS_REASON: Final = (
    "CloudFront writes each log object once, under a key of its own, and nothing rewrites "
    "them; the lifecycle's expiry must really delete, where versioning would keep noncurrent "
    "copies past logRetentionDays."
)
DEPLOYMENT_ONLY_REASON: Final = (
    "CDK's BucketDeployment function runs only as a CloudFormation custom resource while the "
    "stack deploys: it calls the public S3 and CloudFront endpoints (no VPC to reach), once "
    "per deployment (no concurrency to bound), its environment holds no secret, and a failure "
    "fails the deployment, which CloudFormation rolls back (nothing for a dead-letter queue "
    "to keep)."
)
# The wildcard actions of CDK's grants for the deployment function (cdk-nag names each).
DEPLOYMENT_WILDCARD_ACTIONS: Final = (
    "s3:GetObject*",
    "s3:GetBucket*",
    "s3:List*",
    "s3:DeleteObject*",
    "s3:Abort*",
)


def csp(*, api_origins: str, sign_in_origin: str) -> str:
    """The console's Content-Security-Policy: everything from its own origin, and network
    calls to the API and the hosted UI's token endpoint only."""
    return "; ".join(
        [
            "default-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {api_origins} {sign_in_origin}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def hosted_ui_prefix(stage: str, account: str) -> str:
    """The hosted UI's domain prefix: unique per region across AWS, so the account is in it
    (Cognito refuses prefixes containing 'aws', 'amazon' or 'cognito')."""
    return f"chime-meetings-{stage}-{account}"


class ConsoleSite(Construct):
    """The bucket, its distribution, the hosted-UI domain and the console's app client."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: MeetingsConfig,
        user_pool: cognito.UserPool,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.domain = user_pool.add_domain(
            "HostedUi",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=hosted_ui_prefix(config.stage, stack.account)
            ),
        )
        self.bucket = private_bucket(
            self,
            "Bucket",
            config=config,
            # The page is replaced whole by each deployment; older copies are no history.
            versioned=False,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="console-bucket/",
        )
        self.request_logs = private_bucket(
            self,
            "RequestLogs",
            config=config,
            # CloudFront's standard logs are written with an ACL grant to its log delivery
            # account: this bucket keeps ACLs on, owned by the bucket owner, for that only.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="console-request-logs/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireRequestLogs", expiration=Duration.days(config.log_retention_days)
                )
            ],
        )
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment=f"{config.stack_name} console: security headers",
            security_headers_behavior=_security_headers(
                # The API's own URL would make a dependency cycle (the API's CORS names this
                # distribution): its region's execute-api hosts stand in for it.
                api_origins=f"https://*.execute-api.{stack.region}.{stack.url_suffix}",
                sign_in_origin=self.domain.base_url(),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.stack_name} console",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=self.request_logs,
            log_file_prefix="console/",
        )
        acknowledge(self.distribution, "AwsSolutions-CFR4", CLOUDFRONT_TLS_REASON)
        acknowledge(self.distribution, "AwsSolutions-CFR2", CLOUDFRONT_WAF_REASON)
        acknowledge(self.distribution, "AwsSolutions-CFR1", CLOUDFRONT_GEO_REASON)
        acknowledge_scan(self.distribution, "CKV_AWS_174", CLOUDFRONT_TLS_REASON)
        acknowledge_scan(self.distribution, "CKV_AWS_68", CLOUDFRONT_WAF_REASON)
        acknowledge_scan(self.bucket, "CKV_AWS_21", UNVERSIONED_PAGE_REASON)
        acknowledge_scan(self.request_logs, "CKV_AWS_21", UNVERSIONED_REQUEST_LOGS_REASON)
        self.origin = f"https://{self.distribution.distribution_domain_name}"
        # The page is its own redirect target: it finishes the code exchange at its root.
        self.redirect_uri = f"{self.origin}/"
        self.client = user_pool.add_client(
            "ConsoleClient",
            # A page cannot keep a secret: a public client, which Cognito makes use PKCE.
            generate_secret=False,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.custom(scope) for scope in OAUTH_SCOPES],
                callback_urls=[self.redirect_uri],
                logout_urls=[self.redirect_uri],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
        )
        # With no flows named Cognito would allow SRP and custom sign-in too: this client
        # signs in only through the hosted UI, and refreshes its tokens.
        client_resource = self.client.node.default_child
        assert isinstance(client_resource, cognito.CfnUserPoolClient)
        client_resource.explicit_auth_flows = ["ALLOW_REFRESH_TOKEN_AUTH"]

    def publish(self, *, api_url: str, config: MeetingsConfig) -> s3_deployment.BucketDeployment:
        """Upload console/ and its config.json, then invalidate the distribution's cache."""
        deployment_logs = logs.LogGroup(
            self,
            "DeploymentLogs",
            retention=config.log_retention,
            removal_policy=config.stateful_removal_policy,
        )
        acknowledge_scan(deployment_logs, "CKV_AWS_158", LOG_GROUP_KEY_REASON)
        deployment = s3_deployment.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                # config.json is this deployment's, never a copy left in the directory.
                s3_deployment.Source.asset(str(CONSOLE_DIRECTORY), exclude=[CONFIG_OBJECT]),
                s3_deployment.Source.json_data(CONFIG_OBJECT, self.page_config(api_url)),
            ],
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
            log_group=deployment_logs,
        )
        self._acknowledge_deployment_handler()
        return deployment

    def _acknowledge_deployment_handler(self) -> None:
        """The findings of the singleton function BucketDeployment adds at the stack's root
        (named by CDK, not below this construct), each with its resource."""
        stack = Stack.of(self)
        bucket = stack.get_logical_id(cast(CfnElement, self.bucket.node.default_child))
        account = _placeholder(stack.account, "AccountId")
        region = _placeholder(stack.region, "Region")
        asset_objects = (
            f"arn:<AWS::Partition>:s3:::cdk-{DefaultStackSynthesizer.DEFAULT_QUALIFIER}"
            f"-assets-{account}-{region}/*"
        )
        statements = [
            *(f"Action::{action}" for action in DEPLOYMENT_WILDCARD_ACTIONS),
            f"Resource::{asset_objects}",
            f"Resource::<{bucket}.Arn>/*",
            "Resource::*",
        ]
        for handler in stack.node.children:
            if not handler.node.id.startswith("Custom::CDKBucketDeployment"):
                continue
            acknowledge(
                handler,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                DEPLOYMENT_ROLE_REASON,
            )
            for statement in statements:
                acknowledge(
                    handler, f"AwsSolutions-IAM5[{statement}]", DEPLOYMENT_STATEMENTS_REASON
                )
            acknowledge(handler, "AwsSolutions-L1", DEPLOYMENT_RUNTIME_REASON)
            for check in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"):
                acknowledge_scan(handler, check, DEPLOYMENT_ONLY_REASON)
            policy = handler.node.find_child("ServiceRole").node.find_child("DefaultPolicy")
            acknowledge_scan(policy, "CKV_AWS_111", DEPLOYMENT_STATEMENTS_REASON)

    def page_config(self, api_url: str) -> dict[str, Any]:
        """What the page reads from config.json (docs/deploy.md, "The console")."""
        hosted_ui = self.domain.base_url()
        return {
            "apiUrl": api_url,
            "auth": {
                "kind": "cognito",
                "authorizeUrl": f"{hosted_ui}/oauth2/authorize",
                "tokenUrl": f"{hosted_ui}/oauth2/token",
                "logoutUrl": f"{hosted_ui}/logout",
                "clientId": self.client.user_pool_client_id,
                "redirectUri": self.redirect_uri,
                "scope": " ".join(OAUTH_SCOPES),
            },
            "simulation": False,
        }


def _security_headers(
    *, api_origins: str, sign_in_origin: str
) -> cloudfront.ResponseSecurityHeadersBehavior:
    return cloudfront.ResponseSecurityHeadersBehavior(
        content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
            content_security_policy=csp(api_origins=api_origins, sign_in_origin=sign_in_origin),
            override=True,
        ),
        strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
            access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
        ),
        content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
        frame_options=cloudfront.ResponseHeadersFrameOptions(
            frame_option=cloudfront.HeadersFrameOption.DENY, override=True
        ),
        referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
            referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
        ),
    )


def _placeholder(value: str, pseudo: str) -> str:
    """How cdk-nag spells a pseudo parameter's value in a finding's resource."""
    return f"<AWS::{pseudo}>" if Token.is_unresolved(value) else value
