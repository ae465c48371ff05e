"""The shared "latest" cache: one resolution per key per interval, for every pool."""

from __future__ import annotations

import asyncio

import pytest

from vmroll.azure.errors import TerminalAzureError
from vmroll.azure.image_cache import CacheKey, LatestCache
from vmroll.azure.images import AzureImageKind, MarketplaceRef, ResolvedImage
from vmroll.plan.reasons import Reason

UBUNTU = MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server")
HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Resolver:
    def __init__(self, versions: list[str]) -> None:
        self.versions = versions
        self.calls = 0

    async def __call__(self) -> ResolvedImage:
        self.calls += 1
        await asyncio.sleep(0)
        version = self.versions[min(self.calls, len(self.versions)) - 1]
        return ResolvedImage(
            source=AzureImageKind.MARKETPLACE,
            requested="latest",
            resolved_version=version,
            image_id=f"id/{version}",
            image_reference={"version": version},
        )


def test_keys_ignore_case_and_spelling_of_location() -> None:
    assert CacheKey.of("SUB", "West Europe", UBUNTU) == CacheKey.of("sub", "westeurope", UBUNTU)


async def test_resolves_once_per_interval_then_again() -> None:
    clock = Clock()
    cache = LatestCache(clock)
    resolver = Resolver(["1.0.1", "1.0.2"])
    key = CacheKey.of("sub", "westeurope", UBUNTU)
    first = await cache.get(key, HOUR, resolver)
    clock.now = HOUR - 1
    again = await cache.get(key, HOUR, resolver)
    assert (first, resolver.calls) == (again, 1)
    clock.now = HOUR
    refreshed = await cache.get(key, HOUR, resolver)
    assert refreshed.image.resolved_version == "1.0.2"
    assert refreshed.resolved_at == HOUR


async def test_a_pool_with_a_shorter_interval_refreshes_for_everyone() -> None:
    clock = Clock()
    cache = LatestCache(clock)
    resolver = Resolver(["1.0.1", "1.0.2"])
    key = CacheKey.of("sub", "westeurope", UBUNTU)
    await cache.get(key, HOUR, resolver)
    clock.now = 600
    await cache.get(key, 300, resolver)
    assert (await cache.get(key, HOUR, resolver)).image.resolved_version == "1.0.2"
    assert resolver.calls == 2


async def test_concurrent_pools_share_one_resolution() -> None:
    cache = LatestCache(Clock())
    resolver = Resolver(["1.0.1"])
    key = CacheKey.of("sub", "westeurope", UBUNTU)
    results = await asyncio.gather(*(cache.get(key, HOUR, resolver) for _ in range(10)))
    assert resolver.calls == 1
    assert {r.image.resolved_version for r in results} == {"1.0.1"}


async def test_failures_are_shared_but_not_remembered() -> None:
    cache = LatestCache(Clock())
    key = CacheKey.of("sub", "westeurope", UBUNTU)
    calls = 0

    async def missing() -> ResolvedImage:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        raise TerminalAzureError(Reason.IMAGE_NOT_AVAILABLE, "gone")

    outcomes = await asyncio.gather(
        cache.get(key, HOUR, missing), cache.get(key, HOUR, missing), return_exceptions=True
    )
    assert calls == 1
    assert all(isinstance(o, TerminalAzureError) for o in outcomes)
    with pytest.raises(TerminalAzureError):
        await cache.get(key, HOUR, missing)
    assert calls == 2
    assert len(cache) == 0
