"""ARM's request throttling: token buckets per subscription, principal and operation type.

Since 2024 ARM throttles with token buckets (reads 250 refilled 25/s, writes and deletes 200 at
10/s). A request takes one token; an empty bucket answers 429 with Retry-After, the whole number
of seconds until a token is back. Pure: the caller passes "now", so tests drive a fake clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vmroll.emulator.catalog import Bucket, Throttling


@dataclass
class TokenBucket:
    capacity: int
    refill_per_second: float
    tokens: float = field(init=False)
    updated: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.capacity)

    def _refill(self, now: float) -> None:
        if self.updated is not None and now > self.updated:
            elapsed = now - self.updated
            self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
        if self.updated is None or now > self.updated:
            self.updated = now

    def take(self, now: float) -> bool:
        """Take one token if there is one; False means the request is throttled."""
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def remaining(self, now: float) -> int:
        self._refill(now)
        return int(self.tokens)

    def retry_after(self, now: float) -> int:
        """Whole seconds until one token is available (at least 1, as ARM never says 0)."""
        self._refill(now)
        missing = max(0.0, 1 - self.tokens)
        return max(1, math.ceil(missing / self.refill_per_second))


def operation_type(method: str) -> str:
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    operation_type: str
    remaining: int
    retry_after: int


class Throttler:
    """All buckets of one emulator, keyed by (subscription, principal, operation type)."""

    def __init__(self, settings: Throttling) -> None:
        self.settings = settings
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}

    def _settings_for(self, kind: str) -> Bucket:
        bucket: Bucket = getattr(self.settings, kind)
        return bucket

    def check(self, subscription: str, principal: str, method: str, now: float) -> Verdict:
        kind = operation_type(method)
        key = (subscription.lower(), principal, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            config = self._settings_for(kind)
            bucket = self._buckets[key] = TokenBucket(config.capacity, config.refill_per_second)
        allowed = bucket.take(now)
        return Verdict(
            allowed=allowed,
            operation_type=kind,
            remaining=bucket.remaining(now),
            retry_after=0 if allowed else bucket.retry_after(now),
        )

    def reset(self) -> None:
        self._buckets.clear()
