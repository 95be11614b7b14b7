"""When a failed webhook delivery is tried again (docs/webhooks.md, "Retries").

Exponential backoff with jitter: the wait after failed attempt n (1-based) is
`min(cap, base * factor**(n-1))`, scaled by a random factor in [1 - jitter, 1]. The schedule
has as many attempts as it takes for the waits to cover `horizon` even when every jitter draw
is the smallest — so the last attempt is never earlier than `horizon` after the first.
Deployed defaults: 5 s, x4, capped at 6 h, over 24 h → 12 attempts, the last 25.3 to 31.6
hours after the first. The cap keeps a receiver that is back within hours from waiting half a
day, and stays well inside SQS's 12 hours of visibility per receive (a wait is a
ChangeMessageVisibility right after the message was received). Pure: the caller draws the
jitter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: int = 5
    factor: int = 4
    cap_seconds: int = 21_600
    horizon_seconds: int = 86_400
    jitter: float = 0.2

    def nominal_wait(self, failed_attempt: int) -> int:
        """The wait after failed attempt `failed_attempt` before jitter (seconds)."""
        return int(min(self.cap_seconds, self.base_seconds * self.factor ** (failed_attempt - 1)))

    @property
    def attempts(self) -> int:
        """Attempts in all: the first one and enough retries to cover the horizon."""
        covered, attempt = 0.0, 1
        while covered < self.horizon_seconds:
            covered += self.nominal_wait(attempt) * (1 - self.jitter)
            attempt += 1
        return attempt

    def wait_after(self, failed_attempt: int, draw: float) -> int | None:
        """Seconds until the next attempt (at least 1), `draw` in [0, 1) choosing the jitter;
        None when `failed_attempt` was the last one."""
        if failed_attempt >= self.attempts:
            return None
        scaled = self.nominal_wait(failed_attempt) * (1 - self.jitter * draw)
        return max(1, math.ceil(scaled))

    def schedule(self) -> list[int]:
        """The nominal waits between attempts (what docs/webhooks.md tabulates)."""
        return [self.nominal_wait(n) for n in range(1, self.attempts)]
