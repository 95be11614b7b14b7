"""Who may call the API: a Cognito user pool made by the stack, or any OIDC issuer.

Either way API Gateway's JWT authorizer checks the token (signature, `iss`, `aud` or
`client_id`, `exp`) before any code runs.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.acknowledgments import acknowledge
from infra.config import MeetingsConfig

_MFA = {"off": cognito.Mfa.OFF, "optional": cognito.Mfa.OPTIONAL, "required": cognito.Mfa.REQUIRED}
MFA_REASON: Final = (
    "MFA follows the configuration (cognitoMfa, default optional: each user may enrol a "
    "TOTP factor); set cognitoMfa=required where every user must use one."
)
PLUS_PLAN_REASON: Final = (
    "The Essentials feature plan: the Plus plan's threat protection is billed per active "
    "user and is a choice for the operator, not a default of the stack."
)


class Identity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: MeetingsConfig) -> None:
        super().__init__(scope, construct_id)
        self.user_pool: cognito.UserPool | None = None
        self.client: cognito.UserPoolClient | None = None
        if config.uses_cognito:
            self.user_pool, self.client = self._user_pool(config)
            # The `iss` of Cognito's tokens. (The pool's ProviderURL attribute has no scheme.)
            stack = Stack.of(self)
            self.issuer = (
                f"https://cognito-idp.{stack.region}.{stack.url_suffix}/"
                f"{self.user_pool.user_pool_id}"
            )
            self.audience = [self.client.user_pool_client_id]
        else:
            assert config.jwt_issuer is not None  # the config model enforces issuer + audience
            self.issuer = config.jwt_issuer
            self.audience = list(config.jwt_audience)
        self._authorizer: authorizers.HttpJwtAuthorizer | None = None

    def trust(self, client: cognito.UserPoolClient) -> None:
        """Accept tokens issued to another app client of the pool (the console's)."""
        if self._authorizer is not None:
            raise RuntimeError("trust every app client before the API takes the authorizer")
        self.audience.append(client.user_pool_client_id)

    @property
    def authorizer(self) -> authorizers.HttpJwtAuthorizer:
        """The JWT authorizer, made on first use with every audience trusted by then."""
        if self._authorizer is None:
            self._authorizer = authorizers.HttpJwtAuthorizer(
                "JwtAuthorizer",
                self.issuer,
                jwt_audience=list(self.audience),
                identity_source=["$request.header.Authorization"],
            )
        return self._authorizer

    def _user_pool(self, config: MeetingsConfig) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=config.cognito_self_sign_up,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=_MFA[config.cognito_mfa],
            mfa_second_factor=(
                None
                if config.cognito_mfa == "off"
                else cognito.MfaSecondFactor(otp=True, sms=False)
            ),
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            removal_policy=config.stateful_removal_policy,
        )
        if config.cognito_mfa != "required":
            acknowledge(pool, "AwsSolutions-COG2", MFA_REASON)
        acknowledge(pool, "AwsSolutions-COG8", PLUS_PLAN_REASON)
        # A public client (mobile and browser apps cannot keep a secret): SRP sign-in only,
        # never through the hosted UI (which the console's own client uses when deployed).
        client = pool.add_client(
            "AppClient",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )
        cognito.UserPoolGroup(
            self,
            "AdminGroup",
            user_pool=pool,
            group_name=config.admin_group,
            description="Administrators: may list, read and end any meeting",
        )
        return pool, client
