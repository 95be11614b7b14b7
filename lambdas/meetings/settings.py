"""The functions' environment as one typed model, read once per container.

The CDK stack sets these variables by the names below (`Settings.env_names()`, values from
`Settings.to_environ()`) and validates its own knobs with the same rules
(`Settings.check_field`), so a value the code would refuse is never deployed. The local
stack sets the same variables. Service endpoints are never configured here: boto3 reads the
standard `AWS_ENDPOINT_URL_*` variables itself, so the code cannot tell AWS from the local
stack.

A plain dataclass, not a pydantic model: three of the four functions import nothing else of
pydantic, and its import is a measurable share of their cold start (docs/performance.md).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from meetings import deployment


@dataclass(frozen=True, slots=True)
class _Rule:
    env: str
    kind: type = str
    min_length: int | None = None
    pattern: str | None = None
    ge: int | None = None
    le: int | None = None

    def check(self, value: Any) -> Any:
        """The value, converted from its environment text if needed; ValueError if invalid."""
        if self.kind is int:
            return self._check_int(value)
        if self.kind is bool:
            return self._check_bool(value)
        if not isinstance(value, str):
            raise ValueError("a string is required")
        if self.min_length is not None and len(value) < self.min_length:
            raise ValueError(f"at least {self.min_length} characters are required")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ValueError(f"{value!r} does not match {self.pattern}")
        return value

    @staticmethod
    def _check_bool(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return bool(value == "true")
        raise ValueError(f"{value!r} is not 'true' or 'false'")

    def _check_int(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("an integer is required")
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an integer") from None
        if (self.ge is not None and number < self.ge) or (self.le is not None and number > self.le):
            raise ValueError(f"{number} is not between {self.ge} and {self.le}")
        return number


_RULES: Final[dict[str, _Rule]] = {
    "table_name": _Rule("TABLE_NAME", min_length=3),
    "event_bus_name": _Rule("EVENT_BUS_NAME", min_length=1),
    "default_media_region": _Rule("DEFAULT_MEDIA_REGION", pattern=r"[a-z]{2}(-gov)?-[a-z]+-\d"),
    "admin_group": _Rule("ADMIN_GROUP", min_length=1),
    "max_open_meetings_per_user": _Rule("MAX_OPEN_MEETINGS_PER_USER", int, ge=1, le=10_000),
    "retention_days": _Rule("RETENTION_DAYS", int, ge=1, le=3650),
    "domain_event_source": _Rule("DOMAIN_EVENT_SOURCE", min_length=1),
    # Seconds between two reconciliations of one open meeting against Chime's GetMeeting.
    "reconcile_interval_seconds": _Rule("RECONCILE_INTERVAL_SECONDS", int, ge=30, le=3600),
    # Seconds an inferred end reason waits for late, reordered events before the cleanup
    # settles it (it reads `unknown` until then; docs/events.md).
    "end_settle_seconds": _Rule("END_SETTLE_SECONDS", int, ge=0, le=3600),
    # Seconds an Idempotency-Key is remembered.
    "idempotency_ttl_seconds": _Rule("IDEMPOTENCY_TTL_SECONDS", int, ge=60, le=7 * 86400),
    # The recordings bucket (media capture and concatenation sinks); empty: not deployed.
    "recordings_bucket": _Rule("RECORDINGS_BUCKET", pattern=r"([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?"),
    # Seconds a recording's download link is valid.
    "recording_url_ttl_seconds": _Rule("RECORDING_URL_TTL_SECONDS", int, ge=60, le=43_200),
    # Whether a meeting's attendees may list and download its recordings and transcript.
    "recordings_visible_to_attendees": _Rule("RECORDINGS_VISIBLE_TO_ATTENDEES", bool),
    # The account the meetings live in: Chime's meeting ARN, the pipelines' source.
    "account_id": _Rule("ACCOUNT_ID", pattern=r"(\d{12})?"),
    # Webhooks (docs/webhooks.md): the KMS key sealing their secrets, the deliveries queue,
    # which targets they may have (`public`: deployed; `loopback`: the local stack, this
    # machine only), the retry schedule and the disable window.
    "webhook_key_id": _Rule("WEBHOOK_KEY_ID"),
    "webhook_delivery_queue_url": _Rule("WEBHOOK_DELIVERY_QUEUE_URL"),
    "webhook_retry_queue_url": _Rule("WEBHOOK_RETRY_QUEUE_URL"),
    "webhook_targets": _Rule("WEBHOOK_TARGETS", pattern=r"public|loopback"),
    "webhook_retry_base_seconds": _Rule("WEBHOOK_RETRY_BASE_SECONDS", int, ge=1, le=300),
    "webhook_retry_horizon_seconds": _Rule(
        "WEBHOOK_RETRY_HORIZON_SECONDS", int, ge=1, le=7 * 86400
    ),
    "webhook_disable_after_seconds": _Rule(
        "WEBHOOK_DISABLE_AFTER_SECONDS", int, ge=1, le=7 * 86400
    ),
}


@dataclass(frozen=True, slots=True)
class Settings:
    table_name: str
    event_bus_name: str = "default"
    default_media_region: str = "us-east-1"
    admin_group: str = "admins"
    max_open_meetings_per_user: int = 20
    retention_days: int = 30
    domain_event_source: str = deployment.DEFAULT_DOMAIN_EVENT_SOURCE
    reconcile_interval_seconds: int = 180
    end_settle_seconds: int = 120
    idempotency_ttl_seconds: int = 86400
    recordings_bucket: str = ""
    recording_url_ttl_seconds: int = 900
    recordings_visible_to_attendees: bool = False
    account_id: str = ""
    webhook_key_id: str = ""
    webhook_delivery_queue_url: str = ""
    webhook_retry_queue_url: str = ""
    webhook_targets: str = "public"
    webhook_retry_base_seconds: int = 5
    webhook_retry_horizon_seconds: int = 86400
    webhook_disable_after_seconds: int = 86400

    def __post_init__(self) -> None:
        for name, rule in _RULES.items():
            try:
                checked = rule.check(getattr(self, name))
            except ValueError as problem:
                raise ValueError(f"{name} ({rule.env}): {problem}") from None
            object.__setattr__(self, name, checked)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {
            name: source[rule.env] for name, rule in _RULES.items() if rule.env in source
        }
        if "table_name" not in values:
            raise ValueError("table_name (TABLE_NAME): required")
        return cls(**values)

    @classmethod
    def env_names(cls) -> list[str]:
        """The environment variable names, in declaration order (the CDK stack sets these)."""
        return [rule.env for rule in _RULES.values()]

    @classmethod
    def default_of(cls, name: str) -> Any:
        """A field's default: the stack's knobs default to it, so the two cannot disagree."""
        field = next(f for f in dataclasses.fields(cls) if f.name == name)
        if field.default is dataclasses.MISSING:
            raise KeyError(f"{name} has no default")
        return field.default

    @classmethod
    def check_field(cls, name: str, value: Any) -> Any:
        """Validate one field's value by the functions' own rule (ValueError if refused)."""
        return _RULES[name].check(value)

    def to_environ(self) -> dict[str, str]:
        """The environment that yields these settings (what the stack gives each function)."""
        return {rule.env: _environ_text(getattr(self, name)) for name, rule in _RULES.items()}


def _environ_text(value: Any) -> str:
    """A value as its variable's text: booleans as the `true`/`false` the rules read back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this container, read on first use."""
    return Settings.from_environ()
