"""Instants as text: the API's timestamps and the table's time-ordered keys."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(epoch_ms: int) -> str:
    """`2026-11-25T19:00:00.000Z`: fixed width, so the strings sort like the instants."""
    instant = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
