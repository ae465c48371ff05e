"""Resolve each (subscription, location, image) at most once per check interval, for all pools.

A hundred pools on "Canonical ubuntu latest" in one region need one answer, not a hundred
reads per pass. Each entry remembers when it was resolved; a caller whose check interval has
passed since then triggers one new resolution, and callers that arrive while it runs wait for
it instead of starting their own. Failures are not remembered: the next caller asks again. That
is no hot loop, because a pool whose resolution failed does not ask again at once: a transient
failure sends it into its retry backoff (reconcile/failures.py), a terminal one stalls it until
its next pass (handlers/pools.py). The clock is injected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Generic, TypeVar

from vmroll.azure.images import ImageRef
from vmroll.plan.versions import normalize_location

Clock = Callable[[], float]
V = TypeVar("V")


@dataclass(frozen=True)
class CacheKey:
    subscription_id: str
    location: str
    image: ImageRef

    @classmethod
    def of(cls, subscription_id: str, location: str, image: ImageRef) -> CacheKey:
        return cls(subscription_id.lower(), normalize_location(location), image)


@dataclass(frozen=True)
class CachedResolution(Generic[V]):
    image: V
    """What was resolved: an image version, or (for ImagePolicy) the versions in the region."""
    resolved_at: float


class LatestCache(Generic[V]):
    """Shared image resolutions, refreshed when older than the asking pool's interval."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[CacheKey, CachedResolution[V]] = {}
        self._in_flight: dict[CacheKey, asyncio.Future[CachedResolution[V]]] = {}

    async def get(
        self, key: CacheKey, max_age: float, resolve: Callable[[], Awaitable[V]]
    ) -> CachedResolution[V]:
        """The cached resolution if younger than `max_age` seconds, else a fresh one."""
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.resolved_at < max_age:
            return entry
        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[CachedResolution[V]] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            entry = CachedResolution(await resolve(), self._clock())
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # waiters get it; without waiters it must not warn
            raise
        finally:
            del self._in_flight[key]
        self._entries[key] = entry
        future.set_result(entry)
        return entry

    def retain(self, subscriptions: Collection[str], resolved_after: float) -> None:
        """Keep only resolutions for `subscriptions` (lower case) made after `resolved_after`."""
        for key, entry in list(self._entries.items()):
            if key.subscription_id not in subscriptions or entry.resolved_at <= resolved_after:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
