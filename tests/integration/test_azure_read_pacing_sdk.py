"""vmroll's clients pace their reads by ARM's reads bucket as ARM reports it: a burst of lists
larger than the bucket is answered without a 429, where the bare SDK (test_emulator_throttling)
is throttled. Real SDK clients over HTTPS to the emulator, built as the operator builds them."""

from __future__ import annotations

import asyncio

import pytest
from emulator_clients import POLLING_INTERVAL, connection_of

from vmroll.azure import vms
from vmroll.azure.clients import ClientCache, ClientOptions
from vmroll.emulator.catalog import Bucket, Catalog, Throttling
from vmroll.emulator.server import Emulator
from vmroll.plan.ownership import PoolIdentity

pytestmark = pytest.mark.integration

WEB = PoolIdentity(namespace="team", name="web", uid="uid-web")
LISTS = 30


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """Ten reads at once, then ten a second: 30 lists sent together overrun it."""
    throttling = Throttling(reads=Bucket(capacity=10, refill_per_second=10))
    return emulator_catalog.model_copy(update={"throttling": throttling})


async def test_a_burst_of_reads_beyond_arms_bucket_is_paced_not_throttled(
    emulator: Emulator,
) -> None:
    creds = emulator.credentials
    cache = ClientCache(ClientOptions(polling_interval=POLLING_INTERVAL))
    try:
        async with cache.borrow(connection_of(creds)) as clients:
            await vms.list_pool_vms(
                clients.compute, creds.subscription_id, creds.resource_group, WEB
            )
            await asyncio.gather(
                *(
                    vms.list_pool_vms(
                        clients.compute, creds.subscription_id, creds.resource_group, WEB
                    )
                    for _ in range(LISTS)
                )
            )
    finally:
        await cache.close()
    listings = emulator.request_counts()["operations"]["VirtualMachines_List"]
    assert listings["byStatus"] == {"200": LISTS + 1}
