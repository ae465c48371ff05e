"""How long a pool waits before retrying after a transient failure: capped exponential backoff
with decorrelated jitter, Azure's `Retry-After` as a floor.

Why jitter: pools that fail together (one subscription throttled, one region out of capacity)
would otherwise retry together and fail together again. Decorrelated jitter: each delay is
drawn between the last delay and three times it (the first between the base and three bases),
and capped. Unlike AWS's variant, whose lower end stays at the base, the lower end is the last
delay, so that the backoff never shrinks while a failure lasts (as controller-runtime's per-item
limiter): a run of low draws cannot bring a failing pool back to retrying every few seconds.
Azure's `Retry-After` is the minimum Azure will accept, so it is a floor even above the cap.
The caller resets the state (to None) when a pass succeeds.

The random draw is an argument, a float in [0, 1), so that tests choose it.
"""

from __future__ import annotations

from dataclasses import dataclass

BASE_SECONDS = 5.0
CAP_SECONDS = 300.0


@dataclass(frozen=True)
class Backoff:
    """The retries in a row so far and the delay chosen for the latest one."""

    attempt: int
    delay: float


@dataclass(frozen=True)
class BackoffPolicy:
    base: float = BASE_SECONDS
    cap: float = CAP_SECONDS

    def next(self, previous: Backoff | None, retry_after: float | None, draw: float) -> Backoff:
        """The backoff after one more failure; `draw` is uniform in [0, 1)."""
        last = self.base if previous is None else min(max(previous.delay, self.base), self.cap)
        low = self.base if previous is None else last
        jittered = min(self.cap, low + draw * (3 * last - low))
        attempt = 1 if previous is None else previous.attempt + 1
        return Backoff(attempt, max(jittered, retry_after or 0.0))
