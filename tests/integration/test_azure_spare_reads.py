"""Reads nobody waits on (instance-view refreshes, sent inside `spare_reads()`) go only while
ARM's reads bucket has tokens no other read needs: once vmroll's count, lowered to what ARM
reports, holds none above half the bucket (`SPARE_FLOOR`), the next one raises `NoSpareRead`
without being sent, so that ARM answers no 429, the operator's request metrics count no attempt,
and half of ARM's bucket is left for the reads passes wait on. Real SDK clients
over HTTPS to the emulator, built as the operator builds them (the pacing is the clients'
pipeline policy)."""

from __future__ import annotations

from typing import Any

import pytest
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import Counted, connection_of

from vmroll.azure.gateway import AzureGateways
from vmroll.azure.read_pacing import NoSpareRead, spare_reads
from vmroll.emulator.catalog import Bucket, Catalog, ComputeThrottling, Throttling
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

REFRESHES = 300


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """ARM's 250 reads, refilled one a second (not 25): 300 refreshes in a row would empty it.
    Compute's own policies are off so that only ARM's bucket paces the views."""
    throttling = Throttling(
        reads=Bucket(capacity=250, refill_per_second=1),
        compute=ComputeThrottling(enabled=False),
    )
    return emulator_catalog.model_copy(update={"throttling": throttling})


async def test_refreshes_stop_unsent_when_arms_reads_bucket_has_no_spare_token(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    vm_body: Any,
) -> None:
    group = emulator.credentials.resource_group
    poller = await compute_client.virtual_machines.begin_create_or_update(group, "web-0", vm_body())
    await poller.result()
    counted = Counted()
    gateways = AzureGateways(observer=counted)
    sent = 0
    try:
        creds = emulator.credentials
        async with gateways.borrow(connection_of(creds), location=creds.location) as gateway:
            [vm] = await gateway.list_group_vms(group)
            with spare_reads():
                for _ in range(REFRESHES):
                    try:
                        await gateway.get_vm_runtime(vm)
                    except NoSpareRead:
                        break
                    sent += 1
    finally:
        await gateways.close()

    # The refreshes went down to half of ARM's bucket and left that half, give or take the
    # refill of one a second meanwhile (the create's own reads took some before).
    assert 100 <= sent <= 125
    remaining = await compute_client.virtual_machines.get(
        group, "web-0", cls=lambda answer, _vm, _headers: answer.http_response.headers
    )
    assert 124 <= int(remaining["x-ms-ratelimit-remaining-subscription-reads"]) < 140
    # The list and the views sent, each answered; none counted that was not sent.
    assert {status for by in counted.requests.values() for status in by} == {"200"}
    assert sum(sum(by.values()) for by in counted.requests.values()) == 1 + sent
    views = emulator.request_counts()["operations"]["VirtualMachines_InstanceView"]
    assert views["byStatus"] == {"200": sent}
