"""Quota usages and VM sizes per region, read with the SDK before creating."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration


async def test_usages_report_cores_held_by_vms_against_the_quota(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    poller = await compute_client.virtual_machines.begin_create_or_update(
        emulator.credentials.resource_group, "web-0", vm_body(size="Standard_D4s_v5")
    )
    await poller.result()

    usages = {u.name.value: u async for u in compute_client.usage.list("westeurope")}

    assert (usages["cores"].current_value, usages["cores"].limit) == (4, 100)
    assert usages["cores"].name.localized_value == "Total Regional vCPUs"
    assert (usages["standardDSv5Family"].current_value, usages["standardDSv5Family"].limit) == (
        4,
        64,
    )
    assert usages["standardDSv5Family"].name.localized_value == "Standard DSv5 Family vCPUs"
    assert usages["virtualMachines"].current_value == 1


async def test_sizes_are_listed_per_region_and_per_vm(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    poller = await compute_client.virtual_machines.begin_create_or_update(
        emulator.credentials.resource_group, "web-0", vm_body()
    )
    await poller.result()

    east = [s.name async for s in compute_client.virtual_machine_sizes.list("eastus")]
    for_vm = [
        s.name
        async for s in compute_client.virtual_machines.list_available_sizes("rg-vmroll", "web-0")
    ]

    assert "Standard_NC6s_v3" in east
    assert "Standard_NC6s_v3" not in for_vm
    assert "Standard_D2s_v5" in for_vm


async def test_an_unknown_region_is_refused(compute_client: ComputeManagementClient) -> None:
    with pytest.raises(HttpResponseError) as raised:
        [s async for s in compute_client.virtual_machine_sizes.list("mars")]

    assert raised.value.status_code == 400
    assert raised.value.error is not None
    assert raised.value.error.code == "LocationNotAvailableForResourceType"
