"""Clients borrowed by a pass stay open until it returns them, even when their connection is
discarded meanwhile (a rotated secret, a deleted account); nothing discarded stays open after."""

from __future__ import annotations

import pytest

from vmroll.azure.clients import AzureClients, ClientCache
from vmroll.azure.settings import AccountConnection, ServicePrincipalSecret

OLD = AccountConnection(
    "00000000-0000-4000-8000-00000000a001", "t", ServicePrincipalSecret("c", "old")
)
NEW = AccountConnection(
    "00000000-0000-4000-8000-00000000a001", "t", ServicePrincipalSecret("c", "new")
)


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[AccountConnection]:
    """The connections whose clients were closed, in order."""
    seen: list[AccountConnection] = []

    async def close(self: AzureClients) -> None:
        seen.append(self.connection)

    monkeypatch.setattr(AzureClients, "close", close)
    return seen


async def test_a_connection_discarded_while_borrowed_closes_when_returned(
    closed: list[AccountConnection],
) -> None:
    cache = ClientCache()

    async with cache.borrow(OLD) as clients:
        await cache.discard(OLD)
        assert closed == []
        async with cache.borrow(NEW) as fresh:
            assert fresh is not clients
    assert closed == [OLD]
    assert len(cache) == 1  # NEW only


async def test_the_last_of_several_borrowers_closes() -> None:
    cache = ClientCache()
    first = cache.borrow(OLD)
    second = cache.borrow(OLD)
    clients = await first.__aenter__()
    assert await second.__aenter__() is clients
    await cache.discard(OLD)

    await first.__aexit__(None, None, None)
    assert len(cache) == 1
    await second.__aexit__(None, None, None)
    assert len(cache) == 0


async def test_an_unborrowed_connection_closes_when_discarded(
    closed: list[AccountConnection],
) -> None:
    cache = ClientCache()
    async with cache.borrow(OLD):
        pass
    assert closed == []

    await cache.discard(OLD)

    assert closed == [OLD]
    assert len(cache) == 0


async def test_retain_discards_the_others(closed: list[AccountConnection]) -> None:
    cache = ClientCache()
    for connection in (OLD, NEW):
        async with cache.borrow(connection):
            pass

    await cache.retain({NEW})

    assert closed == [OLD]
    assert len(cache) == 1


async def test_shutdown_closes_borrowed_and_retired_clients(
    closed: list[AccountConnection],
) -> None:
    cache = ClientCache()
    borrowed = cache.borrow(OLD)
    await borrowed.__aenter__()
    await cache.discard(OLD)
    async with cache.borrow(NEW):
        pass

    await cache.close()

    assert sorted(c.auth.secret for c in closed if isinstance(c.auth, ServicePrincipalSecret)) == [
        "new",
        "old",
    ]
    assert len(cache) == 0


async def test_a_pass_ending_after_shutdown_does_not_close_again(
    closed: list[AccountConnection],
) -> None:
    cache = ClientCache()
    async with cache.borrow(OLD):
        await cache.discard(OLD)
        await cache.close()
    assert closed == [OLD]
