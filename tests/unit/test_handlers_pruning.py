"""What the operator keeps for pools and accounts goes with them: a rotation never closes the
clients under a pass still using them, and deleted pools and accounts leave nothing behind."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from prometheus_client import generate_latest

from vmroll.api.account import AzureAccount
from vmroll.azure.clients import AzureClients
from vmroll.azure.image_cache import CacheKey
from vmroll.azure.images import AzureImageKind, MarketplacePlan, MarketplaceRef, ResolvedImage
from vmroll.azure.settings import AccountConnection
from vmroll.handlers.connections import connection_for
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.pool_inputs import account_from_index
from vmroll.handlers.pruning import (
    PRUNE_INTERVAL_SECONDS,
    Live,
    forget_account,
    forget_pool,
    prune,
    prune_if_due,
)
from vmroll.handlers.run_config import RunConfig
from vmroll.handlers.state import OperatorState
from vmroll.metrics.pool_figures import PoolFigures, PoolState
from vmroll.reconcile.memory import PoolMemory

SUBSCRIPTION = "00000000-0000-4000-8000-00000000a001"
OTHER_SUBSCRIPTION = "00000000-0000-4000-8000-00000000a002"
REGION = "westeurope"
UBUNTU = MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server")
FIGURES = PoolFigures(1, 1, 1, 1, 1, PoolState.READY, {}, None)


class FakeKube:
    def __init__(self) -> None:
        self.secrets = {("ops", "azure", "secret"): "first"}

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        return self.secrets.get((namespace, name, key))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[AccountConnection]:
    seen: list[AccountConnection] = []

    async def close(self: AzureClients) -> None:
        seen.append(self.connection)

    monkeypatch.setattr(AzureClients, "close", close)
    return seen


def operator_state(kube: FakeKube, clock: Clock) -> OperatorState:
    config = RunConfig(cluster_resource_namespace="ops")
    return OperatorState(config=config, kube=cast(KubeApi, kube), monotonic=clock)


def account(name: str, generation: int, subscription: str = SUBSCRIPTION) -> AzureAccount:
    return AzureAccount.model_validate({
        "metadata": {"name": name, "uid": f"uid-{name}", "generation": generation},
        "spec": {
            "subscriptionId": subscription,
            "tenantId": "11111111-1111-1111-1111-111111111111",
            "auth": {"clientSecret": {
                "clientId": "22222222-2222-2222-2222-222222222222",
                "secretRef": {"name": "azure", "namespace": "ops", "key": "secret"},
            }},
            "allowedResourceGroups": ["*"],
        },
    })  # fmt: skip


async def test_a_rotation_during_a_pass_closes_the_old_clients_only_after_it(
    closed: list[AccountConnection],
) -> None:
    kube, clock = FakeKube(), Clock()
    state = operator_state(kube, clock)
    old = await connection_for(state, account("prod", 1))
    started, rotated = asyncio.Event(), asyncio.Event()

    async def a_pass() -> bool:
        async with state.azure.borrow(old, location=REGION) as gateway:
            started.set()
            await rotated.wait()
            # The pass's call would go out now: its clients must still be open.
            return old not in closed and gateway is not None

    running = asyncio.create_task(a_pass())
    await started.wait()
    kube.secrets[("ops", "azure", "secret")] = "second"
    new = await connection_for(state, account("prod", 2))
    rotated.set()

    assert new != old
    assert await running
    assert closed == [old]


async def test_a_rotation_keeps_clients_another_account_shares(
    closed: list[AccountConnection],
) -> None:
    kube, clock = FakeKube(), Clock()
    state = operator_state(kube, clock)
    shared = await connection_for(state, account("prod", 1))
    async with state.azure.borrow(shared, location=REGION):
        pass
    assert await connection_for(state, account("copy", 1)) == shared

    kube.secrets[("ops", "azure", "secret")] = "second"
    await connection_for(state, account("prod", 2))

    assert closed == []
    await forget_account(state, "copy")
    assert closed == [shared]


async def test_a_deleted_account_takes_its_connection_clients_and_budget(
    closed: list[AccountConnection],
) -> None:
    state = operator_state(FakeKube(), Clock())
    connection = await connection_for(state, account("prod", 1))
    async with state.azure.borrow(connection, location=REGION):
        pass
    state.azure.accepted_plans.add((SUBSCRIPTION, MarketplacePlan("p", "pub", "prod")))

    await forget_account(state, "prod")

    assert state.connections == {}
    assert closed == [connection]
    assert _kept(state) == dict.fromkeys(_kept(state), 0)


def remember_pool(state: OperatorState, uid: str, name: str) -> None:
    state.memories[uid] = PoolMemory()
    state.lock(uid)
    state.metrics.pool("default", name, FIGURES)


async def resolve() -> ResolvedImage:
    return ResolvedImage(AzureImageKind.MARKETPLACE, "latest", "1", "id/1", {"version": "1"})


async def test_prune_drops_what_is_kept_for_pools_and_accounts_that_are_gone(
    closed: list[AccountConnection],
) -> None:
    clock = Clock()
    state = operator_state(FakeKube(), clock)
    kept = await connection_for(state, account("kept", 1))
    gone = await connection_for(state, account("gone", 1, OTHER_SUBSCRIPTION))
    for connection in (kept, gone):
        async with state.azure.borrow(connection, location=REGION):
            pass
        key = CacheKey.of(connection.subscription_id, REGION, UBUNTU)
        await state.azure.latest.get(key, 60.0, resolve)
        state.azure.accepted_plans.add(
            (connection.subscription_id, MarketplacePlan("p", "pub", "prod"))
        )
    remember_pool(state, "uid-a", "a")
    remember_pool(state, "uid-b", "b")
    live = Live.of({"uid-a": [("default", "a")]}, {"kept": []})

    await prune(state, live)

    assert set(state.memories) == set(state.locks) == {"uid-a"}
    assert 'pool="b"' not in _scrape(state)
    assert 'pool="a"' in _scrape(state)
    assert set(state.connections) == {"kept"}
    assert closed == [gone]
    assert _kept(state) == {
        "pool_memories": 1, "pool_locks": 1, "account_connections": 1, "group_listings": 0,
        "sdk_clients": 1, "write_budgets": 1, "operation_polls": 0, "image_resolutions": 1,
        "accepted_plans": 1, "high_cost_reports": 0, "low_cost_holds": 0,
        "turns_returning": 0, "turns_starting": 0,
        "budget_writes_queued": 0, "budget_tickets": 0, "budget_tokens_set_aside": 0,
    }  # fmt: skip


async def test_prune_forgets_old_image_resolutions() -> None:
    clock = Clock()
    state = operator_state(FakeKube(), clock)
    await connection_for(state, account("kept", 1))
    await state.azure.latest.get(CacheKey.of(SUBSCRIPTION, "westeurope", UBUNTU), 60.0, resolve)
    live = Live.of({}, {"kept": []})

    await prune(state, live)
    assert len(state.azure.latest) == 1
    clock.now += 2 * 86400
    await prune(state, live)
    assert len(state.azure.latest) == 0


async def test_prune_leaves_the_lock_of_a_pass_that_holds_it() -> None:
    state = operator_state(FakeKube(), Clock())
    remember_pool(state, "uid-a", "a")

    async with state.lock("uid-a"):
        await prune(state, Live.of({}, {}))
        assert "uid-a" in state.locks
    assert state.memories == {}


async def test_a_deleted_pool_is_forgotten() -> None:
    state = operator_state(FakeKube(), Clock())
    remember_pool(state, "uid-a", "a")

    forget_pool(state, "uid-a", "default", "a")

    assert state.memories == {}
    assert state.locks == {}
    assert 'pool="a"' not in _scrape(state)


async def test_prune_runs_at_most_once_per_interval() -> None:
    clock = Clock()
    state = operator_state(FakeKube(), clock)
    asked: list[Live] = []

    def nothing() -> Live:
        asked.append(Live.of({}, {}))
        return asked[-1]

    await prune_if_due(state, nothing)
    remember_pool(state, "uid-a", "a")

    await prune_if_due(state, nothing)
    assert "uid-a" in state.memories
    assert len(asked) == 1, "what exists is read only when a prune is due"
    clock.now += PRUNE_INTERVAL_SECONDS
    await prune_if_due(state, nothing)
    assert state.memories == {}
    assert len(asked) == 2


def _scrape(state: OperatorState) -> str:
    return generate_latest(state.metrics.registry).decode()


def _kept(state: OperatorState) -> dict[str, int]:
    """What `vmroll_tracked_entries` reports, but the asyncio tasks (the test's own)."""
    return {kind: count for kind, count in state.tracked().items() if kind != "asyncio_tasks"}


async def test_an_account_is_validated_once_per_version_and_forgotten_when_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = operator_state(FakeKube(), Clock())
    stored = account("shared", 1).model_dump(by_alias=True, mode="json")
    stored["metadata"]["resourceVersion"] = "7"
    index = {"shared": [stored]}
    validated: list[str] = []
    real = AzureAccount.model_validate

    def counting(data: object, **kwargs: object) -> AzureAccount:
        validated.append("shared")
        return real(data)

    monkeypatch.setattr(AzureAccount, "model_validate", counting)

    first = [account_from_index(state, index, "shared") for _ in range(50)]
    assert len(validated) == 1
    assert first[0] is not None
    assert all(found is first[0] for found in first)

    changed = {**stored, "metadata": {**stored["metadata"], "resourceVersion": "8"}}
    changed["spec"] = {**stored["spec"], "allowedResourceGroups": ["rg-web"]}
    found = account_from_index(state, {"shared": [changed]}, "shared")
    assert len(validated) == 2
    assert found is not None
    assert found.spec.allowed_resource_groups == ["rg-web"]

    await prune(state, Live.of({}, {}))
    assert state.parsed_accounts == {}
