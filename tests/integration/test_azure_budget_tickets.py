"""Tokens the write budget sets aside for refused pools, spent later against the emulator's real
ARM deletes bucket: the pools' deletes, sent when their passes come, are not answered 429.

The emulator's bucket is 10 deletes refilled 10 a second, and so is vmroll's budget; its clock
and vmroll's are the real ones. Refused pools come back in passes every `PASS_SECONDS`, as a
fleet's passes come seconds after their pool is woken, and each then sends its delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from emulator_clients import POLLING_INTERVAL, pool_vm, with_deletes_bucket

from vmroll.azure import AzureGateways, ComputeGateway
from vmroll.azure.budget import BudgetSettings, Limit
from vmroll.azure.clients import ClientOptions
from vmroll.azure.errors import WriteBudgetExhausted
from vmroll.emulator.catalog import Catalog
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

DELETES = Limit(10, 10)
POOLS = 25
PASS_SECONDS = 2.0
"""Longer than the bucket takes to fill again (1 s): Azure's bucket is full when they send."""


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    return with_deletes_bucket(emulator_catalog, DELETES)


@pytest.fixture
def woken() -> set[str]:
    return set()


@pytest.fixture
async def gateways(woken: set[str]) -> AsyncIterator[AzureGateways]:
    built = AzureGateways(
        client_options=ClientOptions(polling_interval=POLLING_INTERVAL),
        budget_settings=BudgetSettings(arm=DELETES, reserve=1, max_wait=0),
        token_set_aside=woken.add,
    )
    try:
        yield built
    finally:
        await built.close()


async def delete(emulator: Emulator, gateway: ComputeGateway, pool: str) -> bool:
    """Whether the budget let the pool's delete go."""
    try:
        await gateway.delete_vm(pool_vm(emulator, pool), pool)
    except WriteBudgetExhausted:
        return False
    return True


async def test_tokens_set_aside_for_refused_pools_are_not_spent_beyond_azures_bucket(
    emulator: Emulator, gateway: ComputeGateway, woken: set[str]
) -> None:
    pools = [f"pool-{index:02}" for index in range(POOLS)]
    sent = await asyncio.gather(*(delete(emulator, gateway, pool) for pool in pools))
    waiting = {pool for pool, went in zip(pools, sent, strict=True) if not went}
    assert len(waiting) == POOLS - (DELETES.capacity - 1)  # the rest keep their places
    while waiting:
        await asyncio.sleep(PASS_SECONDS)
        due = sorted(waiting & woken)
        woken.difference_update(due)
        went = await asyncio.gather(*(delete(emulator, gateway, pool) for pool in due))
        waiting.difference_update(pool for pool, ok in zip(due, went, strict=True) if ok)
    served = emulator.request_counts()
    assert served["operations"]["VirtualMachines_Delete"]["byStatus"] == {"204": POOLS}
    assert served["throttled"] == 0
