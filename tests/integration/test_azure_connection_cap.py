"""A connection's clients keep at most `transport.CONNECTIONS` connections to ARM, and so at most
that many requests in flight (HTTP/1.1: one a connection), however many pools read at once.
Real SDK clients over HTTPS to the emulator, built as the operator builds them; every answer is
held back so that the reads overlap, and the emulator counts how many it served at once.
"""

from __future__ import annotations

import asyncio

import pytest
from emulator_clients import POLLING_INTERVAL, connection_of

from vmroll.azure import vms
from vmroll.azure.clients import ClientCache, ClientOptions
from vmroll.azure.transport import CONNECTIONS
from vmroll.emulator.catalog import FaultRule, Faults
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

READS = 2 * CONNECTIONS
"""Twice what may be in flight: without the bound, every one of them would be."""


async def test_reads_at_once_are_held_to_the_connection_bound(emulator: Emulator) -> None:
    creds = emulator.credentials
    emulator.set_faults(
        Faults(
            rules=[FaultRule(operation="VirtualMachines_Get", kind="latency", latency_seconds=0.5)]
        )
    )
    cache = ClientCache(ClientOptions(polling_interval=POLLING_INTERVAL))
    try:
        async with cache.borrow(connection_of(creds)) as clients:
            found = await asyncio.gather(
                *(
                    vms.get_pool_vm(clients.compute, creds.resource_group, f"web-{i}")
                    for i in range(READS)
                )
            )
    finally:
        await cache.close()

    counts = emulator.request_counts()
    assert found == [None] * READS
    assert counts["operations"]["VirtualMachines_Get"]["byStatus"] == {"404": READS}
    assert counts["peakInFlight"] == CONNECTIONS
