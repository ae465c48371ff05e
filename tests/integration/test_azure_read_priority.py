"""Reads nobody waits on (instance-view refreshes, sent inside `deferred_reads()`) go after
the other reads of their connection: a list asked for while a burst of refreshes waits for ARM's
reads bucket is answered before most of them. Real SDK clients over HTTPS to the emulator, built
as the operator builds them (the pacing is the clients' pipeline policy)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.azure import ComputeGateway
from vmroll.azure.read_pacing import deferred_reads
from vmroll.azure.vms import PoolVm
from vmroll.emulator.catalog import Bucket, Catalog, ComputeThrottling, Throttling
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

REFRESHES = 40


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """Twenty reads at once, then ten a second: the refreshes queue for about three seconds.
    Compute's own policies are off so that only ARM's bucket paces the views."""
    throttling = Throttling(
        reads=Bucket(capacity=20, refill_per_second=10),
        compute=ComputeThrottling(enabled=False),
    )
    return emulator_catalog.model_copy(update={"throttling": throttling})


async def test_a_list_goes_ahead_of_instance_view_refreshes_waiting_for_the_bucket(
    emulator: Emulator,
    gateway: ComputeGateway,
    compute_client: ComputeManagementClient,
    vm_body: Any,
) -> None:
    group = emulator.credentials.resource_group
    poller = await compute_client.virtual_machines.begin_create_or_update(group, "web-0", vm_body())
    await poller.result()
    [vm] = await gateway.list_group_vms(group)
    answered: list[str] = []

    async def refresh(vm: PoolVm) -> None:
        with deferred_reads():
            await gateway.get_vm_runtime(vm)
        answered.append("view")

    async def listing() -> None:
        await gateway.list_group_vms(group)
        answered.append("list")

    refreshes = [asyncio.create_task(refresh(vm)) for _ in range(REFRESHES)]
    await asyncio.sleep(0.3)
    await asyncio.gather(listing(), *refreshes)

    # Asked for once a few refreshes were answered and with some 30 still waiting (ten a
    # second), the list went next.
    assert answered.index("list") < REFRESHES // 2
    views = emulator.request_counts()["operations"]["VirtualMachines_InstanceView"]
    assert views["byStatus"] == {"200": REFRESHES}
