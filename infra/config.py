"""The stack's configuration: every knob of cdk.json's context, read into one typed model.

Knobs that the functions also read (media region, admin group, per-user cap, ...) keep their
rules in the functions' settings model (`meetings.settings.Settings`): the stack validates
them with that model at synth time, so a value the code would refuse never gets deployed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from meetings import deployment
from meetings.settings import Settings
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

# CloudWatch Logs accepts only these retention periods (days).
_LOG_RETENTION: Final = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
LOG_RETENTION_CHOICES: Final = tuple(_LOG_RETENTION)
_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\)|at\(.+\))$")
# The model's fields that are the functions' settings too, by Settings field name.
_SETTINGS_FIELDS: Final = (
    "default_media_region",
    "admin_group",
    "max_open_meetings_per_user",
    "retention_days",
    "domain_event_source",
    "reconcile_interval_seconds",
    "end_settle_seconds",
    "idempotency_ttl_seconds",
    "recording_url_ttl_seconds",
    "recordings_visible_to_attendees",
)
# S3 lifecycle expirations are whole days; ten years bounds a typo such as 36500.
MAX_RECORDING_RETENTION_DAYS: Final = 3650


class ConfigError(ValueError):
    """The cdk.json context cannot configure a stack; the message names each bad key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid stack configuration (cdk.json context):\n{lines}")


def _setting_default(name: str) -> Any:
    """The functions' own default, so the stack and the code cannot disagree on it."""
    return Settings.default_of(name)


def _none_if_blank(value: Any) -> Any:
    """`-c key=` or `-c key=null` on the CDK CLI means 'not set'."""
    if isinstance(value, str) and value.strip() in ("", "null", "None"):
        return None
    return value


def _list_of_strings(value: Any) -> Any:
    """Lists come as JSON arrays from cdk.json and as text (JSON or comma-separated) from -c."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


OptionalText = Annotated[str | None, BeforeValidator(_none_if_blank)]
TextList = Annotated[tuple[str, ...], BeforeValidator(_list_of_strings)]


class MeetingsConfig(BaseModel):
    """One deployment of the backend. Field aliases are the cdk.json context keys."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    stage: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,19}$")] = "dev"
    region: str
    account: OptionalText = None
    default_media_region: Annotated[str, Field(alias="defaultMediaRegion")] = _setting_default(
        "default_media_region"
    )
    cors_allowed_origins: Annotated[TextList, Field(alias="corsAllowedOrigins")] = ()
    jwt_issuer: Annotated[OptionalText, Field(alias="jwtIssuer")] = None
    jwt_audience: Annotated[TextList, Field(alias="jwtAudience")] = ()
    admin_group: Annotated[str, Field(alias="adminGroup")] = _setting_default("admin_group")
    cognito_self_sign_up: Annotated[bool, Field(alias="cognitoSelfSignUp")] = False
    cognito_mfa: Annotated[Literal["off", "optional", "required"], Field(alias="cognitoMfa")] = (
        "optional"
    )
    retention_days: Annotated[int, Field(alias="recordRetentionDays")] = _setting_default(
        "retention_days"
    )
    log_retention_days: Annotated[int, Field(alias="logRetentionDays")] = 30
    cleanup_schedule: Annotated[str, Field(alias="cleanupSchedule")] = (
        deployment.DEFAULT_CLEANUP_SCHEDULE
    )
    max_open_meetings_per_user: Annotated[int, Field(alias="maxOpenMeetingsPerUser")] = (
        _setting_default("max_open_meetings_per_user")
    )
    reconcile_interval_seconds: Annotated[int, Field(alias="reconcileIntervalSeconds")] = (
        _setting_default("reconcile_interval_seconds")
    )
    end_settle_seconds: Annotated[int, Field(alias="endSettleSeconds")] = _setting_default(
        "end_settle_seconds"
    )
    idempotency_ttl_seconds: Annotated[int, Field(alias="idempotencyTtlSeconds")] = (
        _setting_default("idempotency_ttl_seconds")
    )
    domain_event_source: Annotated[str, Field(alias="domainEventSource")] = _setting_default(
        "domain_event_source"
    )
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], Field(alias="logLevel")] = (
        "INFO"
    )
    removal_policy: Annotated[Literal["retain", "destroy"], Field(alias="removalPolicy")] = "retain"
    snap_start: Annotated[bool, Field(alias="snapStart")] = True
    alarm_email: Annotated[OptionalText, Field(alias="alarmEmail")] = None
    api_throttle_rate_limit: Annotated[
        float, Field(alias="apiThrottleRateLimit", gt=0, le=10_000)
    ] = 100
    api_throttle_burst_limit: Annotated[
        int, Field(alias="apiThrottleBurstLimit", ge=1, le=5_000)
    ] = 200
    # One day more than the records' default: a recording's files count from their writing,
    # its record from the meeting's end, and Chime ends every meeting within 24 hours.
    recording_retention_days: Annotated[
        int, Field(alias="recordingRetentionDays", ge=1, le=MAX_RECORDING_RETENTION_DAYS)
    ] = 31
    recording_url_ttl_seconds: Annotated[int, Field(alias="recordingUrlTtlSeconds")] = (
        _setting_default("recording_url_ttl_seconds")
    )
    recordings_visible_to_attendees: Annotated[
        bool, Field(alias="recordingsVisibleToAttendees")
    ] = _setting_default("recordings_visible_to_attendees")
    create_service_linked_roles: Annotated[bool, Field(alias="createServiceLinkedRoles")] = False
    # The events function's reserved concurrency, and the most batches its queue hands it at
    # once: bounds its share of Chime's account-wide request rate (docs/deploy.md, "Reserved
    # concurrency"). 2 is the least an SQS event source's maximum concurrency allows.
    events_concurrency: Annotated[int, Field(alias="eventsConcurrency", ge=2, le=1000)] = 2
    # The web console (console/) on a private bucket behind CloudFront, signed in through the
    # user pool's hosted UI; the console's origin joins the API's CORS origins.
    console: bool = False

    @field_validator(*_SETTINGS_FIELDS)
    @classmethod
    def _functions_accept(cls, value: Any, info: ValidationInfo) -> Any:
        """The functions' own rule for a shared knob, applied here at synth time."""
        assert info.field_name is not None
        Settings.check_field(info.field_name, value)  # its ValueError names the rule
        return value

    @field_validator("region")
    @classmethod
    def _control_region(cls, region: str) -> str:
        if region not in deployment.CHIME_CONTROL_REGIONS:
            allowed = ", ".join(deployment.CHIME_CONTROL_REGIONS)
            raise ValueError(
                f"{region!r} is not a Chime control region ({allowed}): Chime delivers a "
                "meeting's events only to the control region that created the meeting, so "
                "the stack must be deployed to one of them"
            )
        return region

    @field_validator("account")
    @classmethod
    def _account(cls, account: str | None) -> str | None:
        if account is not None and not re.fullmatch(r"\d{12}", account):
            raise ValueError("an AWS account id is 12 digits")
        return account

    @field_validator("default_media_region")
    @classmethod
    def _media_region(cls, region: str) -> str:
        if region not in deployment.CHIME_MEDIA_REGIONS:
            raise ValueError(f"{region!r} is not a Chime media region")
        return region

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        if "*" in origins and len(origins) > 1:
            raise ValueError("'*' allows every origin: list it alone or not at all")
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin (scheme://host[:port], no path or trailing /)"
                )
        return origins

    @field_validator("jwt_issuer")
    @classmethod
    def _issuer(cls, issuer: str | None) -> str | None:
        if issuer is not None and not issuer.startswith("https://"):
            raise ValueError(
                "the JWT issuer must be an https:// URL (API Gateway fetches its JWKS)"
            )
        return issuer

    @field_validator("log_retention_days")
    @classmethod
    def _log_retention(cls, days: int) -> int:
        if days not in LOG_RETENTION_CHOICES:
            raise ValueError(f"CloudWatch Logs accepts only {LOG_RETENTION_CHOICES}")
        return days

    @field_validator("cleanup_schedule")
    @classmethod
    def _schedule(cls, expression: str) -> str:
        if not _SCHEDULE.match(expression):
            raise ValueError("expected an EventBridge Scheduler expression: rate(...) or cron(...)")
        return expression

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, email: str | None) -> str | None:
        if email is not None and not _EMAIL.match(email):
            raise ValueError(f"{email!r} is not an e-mail address")
        return email

    @model_validator(mode="after")
    def _issuer_and_audience_together(self) -> MeetingsConfig:
        if bool(self.jwt_issuer) != bool(self.jwt_audience):
            raise ValueError(
                "jwtIssuer and jwtAudience go together: set both to use your own identity "
                "provider, or neither to have the stack create a Cognito user pool"
            )
        return self

    @model_validator(mode="after")
    def _console_signs_in_with_the_stack_pool(self) -> MeetingsConfig:
        if self.console and not self.uses_cognito:
            raise ValueError(
                "console: the console signs in through the stack's Cognito user pool (hosted "
                "UI, authorization code + PKCE); it cannot be deployed with jwtIssuer"
            )
        return self

    @property
    def log_retention(self) -> logs.RetentionDays:
        """How long every log group of the stack keeps its logs."""
        return _LOG_RETENTION[self.log_retention_days]

    @property
    def stateful_removal_policy(self) -> RemovalPolicy:
        """What `cdk destroy` does to what holds data: the table, the user pool, the logs, the
        recordings and their access logs, and the webhook key."""
        return RemovalPolicy.RETAIN if self.removal_policy == "retain" else RemovalPolicy.DESTROY

    @property
    def uses_cognito(self) -> bool:
        return self.jwt_issuer is None

    @property
    def stack_name(self) -> str:
        return f"ChimeMeetings-{self.stage}"

    def function_settings(self, *, table_name: str, event_bus_name: str) -> Settings:
        """The functions' settings for this deployment (resource names may be CDK tokens)."""
        values = {name: getattr(self, name) for name in _SETTINGS_FIELDS}
        return Settings(table_name=table_name, event_bus_name=event_bus_name, **values)


def context_keys() -> list[str]:
    """Every context key the stack reads, as cdk.json spells it."""
    return [field.alias or name for name, field in MeetingsConfig.model_fields.items()]


def load_config(context: Mapping[str, Any], environ: Mapping[str, str]) -> MeetingsConfig:
    """Read and validate the knobs; raise ConfigError naming every problem at once.

    The region comes from the `region` context key, else from CDK_DEFAULT_REGION (which the
    CDK CLI sets from the profile): it must be known at synth time to be checked.
    """
    values = {key: context[key] for key in context_keys() if key in context}
    region = _none_if_blank(values.get("region")) or environ.get("CDK_DEFAULT_REGION")
    values["region"] = region
    if _none_if_blank(values.get("account")) is None and environ.get("CDK_DEFAULT_ACCOUNT"):
        values["account"] = environ["CDK_DEFAULT_ACCOUNT"]
    problems = _misspelled_keys(context)
    if region is None:
        problems.append("region: not set (cdk.json `region`, `-c region=...`)")
        values["region"] = deployment.CHIME_CONTROL_REGIONS[0]
    try:
        config = MeetingsConfig.model_validate(values)
    except ValidationError as error:
        raise ConfigError(problems + _describe(error)) from error
    if problems:
        raise ConfigError(problems)
    return config


def _misspelled_keys(context: Mapping[str, Any]) -> list[str]:
    """A typo in a key would silently fall back to the default: name the likely intent."""
    known = context_keys()
    problems = []
    for key in context:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
        if close:
            problems.append(f"{key}: unknown context key (did you mean {close[0]!r}?)")
    return problems


def _describe(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if not item["loc"]:  # a rule across several keys: the input is the whole context
            problems.append(message)
            continue
        key = ".".join(str(part) for part in item["loc"])
        problems.append(f"{key}: {message} (got {item.get('input')!r})")
    return problems
