"""The retry schedule: exponential, jittered, never shorter than the horizon; the queue's
maxReceiveCount is its number of attempts."""

from __future__ import annotations

from meetings import deployment
from meetings.domain.webhook_retries import RetryPolicy


def test_the_deployed_schedule_spans_more_than_a_day_even_at_the_smallest_jitter() -> None:
    policy = RetryPolicy()
    waits = [policy.wait_after(n, draw=0.999999) for n in range(1, policy.attempts)]
    assert all(w is not None for w in waits)
    assert sum(w for w in waits if w is not None) >= 86_400
    assert policy.wait_after(policy.attempts, draw=0.5) is None


def test_the_queue_allows_every_attempt_of_the_schedule() -> None:
    assert RetryPolicy().attempts == 12
    assert RetryPolicy().attempts <= deployment.WEBHOOK_DELIVERY_MAX_RECEIVE_COUNT


def test_waits_grow_exponentially_up_to_the_cap() -> None:
    schedule = RetryPolicy().schedule()
    assert schedule[:4] == [5, 20, 80, 320]
    assert max(schedule) == 21_600 < 43_200  # SQS's visibility limit per receive
    assert schedule == sorted(schedule)


def test_jitter_only_shortens_a_wait_and_by_at_most_its_share() -> None:
    policy = RetryPolicy()
    for attempt in range(1, policy.attempts):
        nominal = policy.nominal_wait(attempt)
        low, high = policy.wait_after(attempt, 0.999999), policy.wait_after(attempt, 0.0)
        assert high == nominal
        assert low is not None and nominal * (1 - policy.jitter) <= low <= nominal


def test_a_short_test_schedule_still_covers_its_horizon() -> None:
    policy = RetryPolicy(base_seconds=1, horizon_seconds=4)
    assert policy.attempts == 3
    assert policy.schedule() == [1, 4]
