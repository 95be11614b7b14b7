"""Instants as text: the API's timestamps and the table's time-ordered keys."""

from __future__ import annotations

import time


def rfc3339(epoch_ms: int) -> str:
    """`2026-11-25T19:00:00.000Z`: fixed width, so the strings sort like the instants.

    `time.gmtime` rather than a `datetime`: half the cost, and every write of a meeting or an
    attendee formats two or three of these for its keys."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000))
    return f"{seconds}.{epoch_ms % 1000:03d}Z"
