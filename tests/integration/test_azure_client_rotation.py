"""A pass that holds its account's clients when the account's credentials rotate completes its
calls to Azure with them; the old clients are closed when it returns them, and the next pass
reaches Azure with the new credentials. Real SDK clients over HTTPS to the emulator."""

from __future__ import annotations

import pytest
from emulator_clients import POLLING_INTERVAL, connection_of

from vmroll.azure import vms
from vmroll.azure.clients import ClientCache, ClientOptions
from vmroll.emulator.server import Emulator
from vmroll.plan.ownership import PoolIdentity

pytestmark = pytest.mark.integration

WEB = PoolIdentity(namespace="team", name="web", uid="uid-web")


async def test_a_pass_holding_the_old_clients_completes_its_calls_after_a_rotation(
    emulator: Emulator,
) -> None:
    creds = emulator.credentials
    old = connection_of(creds)
    rotated = connection_of(emulator.credentials_for("vmroll-reader"))
    cache = ClientCache(ClientOptions(polling_interval=POLLING_INTERVAL))
    try:
        async with cache.borrow(old) as clients:
            before = await vms.list_pool_vms(
                clients.compute, creds.subscription_id, creds.resource_group, WEB
            )
            await cache.discard(old)  # what a rotation of the account's secret does
            after = await vms.list_pool_vms(
                clients.compute, creds.subscription_id, creds.resource_group, WEB
            )
        assert before == after
        async with cache.borrow(rotated) as clients:
            assert clients.connection == rotated
            await vms.list_pool_vms(
                clients.compute, creds.subscription_id, creds.resource_group, WEB
            )
        assert len(cache) == 1
    finally:
        await cache.close()
    listings = emulator.request_counts()["operations"]["VirtualMachines_List"]
    assert listings["byStatus"] == {"200": 3}
