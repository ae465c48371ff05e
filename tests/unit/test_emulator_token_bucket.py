"""ARM's token buckets, driven by an injected clock."""

from __future__ import annotations

import pytest

from vmroll.emulator.catalog import Bucket, Throttling
from vmroll.emulator.throttling import Throttler, TokenBucket, operation_type


def test_a_full_bucket_serves_its_capacity_then_refuses() -> None:
    bucket = TokenBucket(capacity=3, refill_per_second=1)

    taken = [bucket.take(now=100.0) for _ in range(4)]

    assert taken == [True, True, True, False]


@pytest.mark.parametrize(
    ("elapsed", "remaining"),
    [(0.0, 0), (0.5, 0), (1.0, 1), (2.5, 2), (60.0, 3)],
    ids=["none", "half-token", "one", "two-and-a-half", "capped-at-capacity"],
)
def test_tokens_refill_with_time_up_to_capacity(elapsed: float, remaining: int) -> None:
    bucket = TokenBucket(capacity=3, refill_per_second=1)
    for _ in range(3):
        bucket.take(now=0.0)

    assert bucket.remaining(now=elapsed) == remaining


@pytest.mark.parametrize(
    ("refill", "elapsed", "retry_after"),
    [(25, 0.0, 1), (0.5, 0.0, 2), (0.1, 0.0, 10), (0.1, 5.0, 5)],
    ids=["fast-refill-rounds-up-to-1", "half-per-second", "slow", "slow-half-way"],
)
def test_retry_after_is_whole_seconds_until_a_token(
    refill: float, elapsed: float, retry_after: int
) -> None:
    bucket = TokenBucket(capacity=1, refill_per_second=refill)
    bucket.take(now=0.0)

    assert bucket.retry_after(now=elapsed) == retry_after


def test_a_clock_going_backwards_does_not_add_tokens() -> None:
    bucket = TokenBucket(capacity=2, refill_per_second=1)
    bucket.take(now=10.0)
    bucket.take(now=10.0)

    assert bucket.take(now=5.0) is False


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("GET", "reads"),
        ("HEAD", "reads"),
        ("PUT", "writes"),
        ("PATCH", "writes"),
        ("POST", "writes"),
        ("DELETE", "deletes"),
    ],
)
def test_methods_map_to_operation_types(method: str, kind: str) -> None:
    assert operation_type(method) == kind


def test_buckets_are_per_subscription_principal_and_type() -> None:
    settings = Throttling(
        reads=Bucket(capacity=1, refill_per_second=1),
        writes=Bucket(capacity=1, refill_per_second=1),
    )
    throttler = Throttler(settings)

    verdicts = [
        throttler.check("sub-a", "app-1", "GET", 0.0).allowed,
        throttler.check("sub-a", "app-1", "GET", 0.0).allowed,
        throttler.check("SUB-A", "app-1", "GET", 0.0).allowed,
        throttler.check("sub-a", "app-2", "GET", 0.0).allowed,
        throttler.check("sub-b", "app-1", "GET", 0.0).allowed,
        throttler.check("sub-a", "app-1", "PUT", 0.0).allowed,
    ]

    assert verdicts == [True, False, False, True, True, True]


def test_a_refused_verdict_carries_retry_after_and_zero_remaining() -> None:
    throttler = Throttler(Throttling(reads=Bucket(capacity=1, refill_per_second=0.25)))
    throttler.check("sub", "app", "GET", 0.0)

    verdict = throttler.check("sub", "app", "GET", 0.0)

    assert (verdict.allowed, verdict.remaining, verdict.retry_after) == (False, 0, 4)
    assert verdict.operation_type == "reads"
