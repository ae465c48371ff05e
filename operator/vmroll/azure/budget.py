"""One write budget per subscription, shared by every pool that writes to it.

ARM throttles writes per subscription and principal (a token bucket refilled each second), and
a 429 from it stalls every pool in the subscription at once. vmroll spends its own bucket first,
smaller than Azure's, so that many pools rolling together slow down instead of tripping Azure's
limit; when Azure still answers 429, `defer` empties the bucket until the `Retry-After` passes.

The clock and the sleep are injected so that tests drive time by hand; waits and refusals are
reported to the observer (the operator's metrics).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from vmroll.azure.errors import TransientAzureError
from vmroll.azure.observer import NOT_OBSERVED, AzureObserver

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class BudgetSettings:
    """`capacity` writes at once, then `refill_per_second`; a caller waits at most `max_wait`,
    queueing behind earlier callers included."""

    capacity: float = 20.0
    refill_per_second: float = 1.0
    max_wait: float = 10.0


class WriteBudgetExhausted(TransientAzureError):
    """No write fits in the wait a caller accepts; retry after `retry_after` seconds."""


class WriteBudget:
    """An async token bucket; callers queue in arrival order."""

    def __init__(
        self,
        settings: BudgetSettings,
        *,
        clock: Clock,
        sleep: Sleep,
        observer: AzureObserver = NOT_OBSERVED,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._observer = observer
        self._tokens = settings.capacity
        self._updated = clock()
        self._blocked_until = self._updated
        self._lock = asyncio.Lock()

    def available(self) -> float:
        """Writes that could start now without waiting."""
        self._refill()
        return self._tokens

    def wait_needed(self) -> float:
        """Seconds until one write fits."""
        self._refill()
        now = self._clock()
        blocked = max(0.0, self._blocked_until - now)
        missing = max(0.0, 1.0 - self._tokens)
        return max(blocked, missing / self._settings.refill_per_second)

    async def acquire(self) -> None:
        """Take one write, waiting up to `max_wait` in all (the queue included); beyond it
        raise `WriteBudgetExhausted`."""
        arrived = self._clock()
        async with self._lock:
            wait = self.wait_needed()
            if self._clock() - arrived + wait > self._settings.max_wait:
                self._observer.budget_exhausted()
                raise WriteBudgetExhausted(
                    f"write budget exhausted; next write in {wait:.1f}s", retry_after=wait
                )
            if wait > 0:
                self._observer.budget_wait(wait)
                await self._sleep(wait)
                self._refill()
            self._tokens = max(0.0, self._tokens - 1.0)

    def defer(self, seconds: float) -> None:
        """Azure throttled a write: no write from this subscription for `seconds`."""
        self._refill()
        self._tokens = 0.0
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def _refill(self) -> None:
        now = self._clock()
        start = max(self._updated, min(now, self._blocked_until))
        if now > start:
            gained = (now - start) * self._settings.refill_per_second
            self._tokens = min(self._settings.capacity, self._tokens + gained)
        self._updated = now


class WriteBudgets:
    """The budgets of all subscriptions, created on first use."""

    def __init__(
        self,
        settings: BudgetSettings | None = None,
        *,
        clock: Clock,
        sleep: Sleep,
        observer: AzureObserver = NOT_OBSERVED,
    ) -> None:
        self._settings = settings or BudgetSettings()
        self._clock = clock
        self._sleep = sleep
        self._observer = observer
        self._budgets: dict[str, WriteBudget] = {}

    def for_subscription(self, subscription_id: str) -> WriteBudget:
        key = subscription_id.lower()
        budget = self._budgets.get(key)
        if budget is None:
            budget = WriteBudget(
                self._settings, clock=self._clock, sleep=self._sleep, observer=self._observer
            )
            self._budgets[key] = budget
        return budget

    def retain(self, subscriptions: Collection[str]) -> None:
        """Forget the budgets of other subscriptions (lower case): no account uses them."""
        for key in [key for key in self._budgets if key not in subscriptions]:
            del self._budgets[key]

    def __len__(self) -> int:
        return len(self._budgets)
