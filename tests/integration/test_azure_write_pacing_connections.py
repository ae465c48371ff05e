"""Writes the budget lets in while every connection of the client is busy wait for one before ARM
receives them: no more are sent than ARM's deletes bucket holds. Real SDK clients over
HTTPS to the emulator, built as the operator builds them; the emulator's ARM deletes bucket and
vmroll's budget are both 10 deletes refilled 10 a second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from emulator_clients import POLLING_INTERVAL, pool_vm, with_deletes_bucket

from vmroll.azure import AzureGateways, ComputeGateway
from vmroll.azure.budget import BudgetSettings, Limit
from vmroll.azure.clients import ClientOptions
from vmroll.azure.transport import CONNECTIONS
from vmroll.emulator.catalog import Catalog, FaultRule, Faults
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

DELETES = Limit(10, 10)
POOLS = 25
BUSY_SECONDS = 1.0
"""How long every connection holds a read: the bucket fills again meanwhile."""


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    return with_deletes_bucket(emulator_catalog, DELETES)


@pytest.fixture
async def gateways() -> AsyncIterator[AzureGateways]:
    built = AzureGateways(
        client_options=ClientOptions(polling_interval=POLLING_INTERVAL),
        budget_settings=BudgetSettings(arm=DELETES, reserve=1, max_wait=10),
    )
    try:
        yield built
    finally:
        await built.close()


async def test_writes_waiting_for_a_connection_are_not_sent_beyond_arms_bucket(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    group = emulator.credentials.resource_group
    slow = FaultRule(operation="VirtualMachines_Get", kind="latency", latency_seconds=BUSY_SECONDS)
    emulator.set_faults(Faults(rules=[slow]))
    reads = [
        asyncio.create_task(gateway.read_vm(group, f"gone-{index}")) for index in range(CONNECTIONS)
    ]
    await asyncio.sleep(0.2)  # every connection holds a read answered in a second
    pools = [f"pool-{index:02}" for index in range(POOLS)]
    await asyncio.gather(*(gateway.delete_vm(pool_vm(emulator, pool), pool) for pool in pools))
    await asyncio.gather(*reads)
    served = emulator.request_counts()
    assert served["operations"]["VirtualMachines_Delete"]["byStatus"] == {"204": POOLS}
    assert served["throttled"] == 0
