"""How long a pool waits before retrying after a transient failure: capped exponential backoff
with decorrelated jitter, Azure's `Retry-After` as a floor.

Why jitter: pools that fail together (one subscription throttled, one region out of capacity)
would otherwise retry together and fail together again. Decorrelated jitter (each delay drawn
between the base and three times the previous one, capped) spreads them and still grows about
1.5 times per attempt on average; it never drops below the base, so a run of unlucky draws cannot
turn into a hot loop. Azure's `Retry-After` is the minimum Azure will accept, so it is a floor
even above the cap. The caller resets the state (to None) when a pass succeeds.

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
        last = self.base if previous is None else max(previous.delay, self.base)
        jittered = min(self.cap, self.base + draw * (3 * last - self.base))
        attempt = 1 if previous is None else previous.attempt + 1
        return Backoff(attempt, max(jittered, retry_after or 0.0))
