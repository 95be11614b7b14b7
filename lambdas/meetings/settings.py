"""The functions' environment as one typed model, read once per container.

The CDK stack sets these variables by the names below (`Settings.env_names()`); the local
stack sets the same ones. Service endpoints are never configured here: boto3 reads the
standard `AWS_ENDPOINT_URL_*` variables itself, so the code cannot tell AWS from the local stack.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from meetings import deployment


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    table_name: Annotated[str, Field(alias="TABLE_NAME", min_length=3)]
    event_bus_name: Annotated[str, Field(alias="EVENT_BUS_NAME", min_length=1)] = "default"
    default_media_region: Annotated[
        str, Field(alias="DEFAULT_MEDIA_REGION", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    ] = "us-east-1"
    admin_group: Annotated[str, Field(alias="ADMIN_GROUP", min_length=1)] = "admins"
    max_open_meetings_per_user: Annotated[
        int, Field(alias="MAX_OPEN_MEETINGS_PER_USER", ge=1, le=10_000)
    ] = 20
    retention_days: Annotated[int, Field(alias="RETENTION_DAYS", ge=1, le=3650)] = 30
    domain_event_source: Annotated[str, Field(alias="DOMAIN_EVENT_SOURCE", min_length=1)] = (
        deployment.DEFAULT_DOMAIN_EVENT_SOURCE
    )
    # Seconds between two reconciliations of one open meeting against Chime's GetMeeting.
    reconcile_interval_seconds: Annotated[
        int, Field(alias="RECONCILE_INTERVAL_SECONDS", ge=30, le=3600)
    ] = 180
    # Seconds an Idempotency-Key is remembered.
    idempotency_ttl_seconds: Annotated[
        int, Field(alias="IDEMPOTENCY_TTL_SECONDS", ge=60, le=7 * 86400)
    ] = 86400

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Settings:
        source = os.environ if environ is None else environ
        aliases = cls.env_names()
        return cls.model_validate({name: source[name] for name in aliases if name in source})

    @classmethod
    def env_names(cls) -> list[str]:
        """The environment variable names, in declaration order (the CDK stack sets these)."""
        return [field.alias for field in cls.model_fields.values() if field.alias]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this container, read on first use."""
    return Settings.from_environ()
