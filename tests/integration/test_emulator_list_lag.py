"""Lists that lag writes while a GET by name does not, and the peak VM count per tag value, through
the real SDK over HTTPS on a clock the tests move."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachineUpdate
from conftest import ManualClock
from emulator_clients import admin_session

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration
LAG = 5.0


@pytest.fixture
def emulator_clock(manual_clock: ManualClock) -> ManualClock:
    return manual_clock


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    return emulator_catalog.model_copy(update={"list_lag_seconds": LAG})


async def tag_peaks(emulator: Emulator) -> Any:
    """The emulator's peaks, through its admin API."""
    async with (
        admin_session(emulator) as session,
        session.get(f"{emulator.base_url}/_emulator/peaks") as response,
    ):
        return await response.json()


async def listed(compute: ComputeManagementClient, group: str) -> list[str]:
    return [vm.name or "" async for vm in compute.virtual_machines.list(group)]


async def test_a_new_vm_is_read_by_name_at_once_and_listed_after_the_lag(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    manual_clock: ManualClock,
) -> None:
    group = emulator.credentials.resource_group
    await compute_client.virtual_machines.begin_create_or_update(group, "web-0", vm_body())
    manual_clock.advance(1)

    early = await listed(compute_client, group)
    by_name = await compute_client.virtual_machines.get(group, "web-0")
    manual_clock.advance(LAG)
    late = await listed(compute_client, group)

    assert early == []
    assert by_name.provisioning_state == "Succeeded"
    assert late == ["web-0"]


async def test_a_deleted_vm_is_gone_by_name_at_once_and_listed_until_the_lag_passes(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    manual_clock: ManualClock,
) -> None:
    group = emulator.credentials.resource_group
    await compute_client.virtual_machines.begin_create_or_update(group, "web-0", vm_body())
    manual_clock.advance(LAG + 1)
    await compute_client.virtual_machines.begin_delete(group, "web-0")
    manual_clock.advance(1)

    with pytest.raises(ResourceNotFoundError):
        await compute_client.virtual_machines.get(group, "web-0")
    early = [vm async for vm in compute_client.virtual_machines.list(group)]
    manual_clock.advance(LAG)
    late = await listed(compute_client, group)

    assert [(vm.name, vm.provisioning_state) for vm in early] == [("web-0", "Deleting")]
    assert late == []


async def test_the_lag_is_set_through_the_admin_api(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    manual_clock: ManualClock,
) -> None:
    group = emulator.credentials.resource_group
    admin = f"{emulator.base_url}/_emulator/consistency"
    async with admin_session(emulator) as session:
        async with session.put(admin, json={"listLagSeconds": 0}) as response:
            assert response.status == 200
        async with session.put(admin, json={"listLagSeconds": -1}) as response:
            refused = response.status
        async with session.get(admin) as response:
            setting = await response.json()
        await compute_client.virtual_machines.begin_create_or_update(group, "web-0", vm_body())

    assert refused == 400
    assert setting == {"listLagSeconds": 0}
    assert await listed(compute_client, group) == ["web-0"]


async def test_peaks_count_the_most_vms_per_tag_value_at_any_moment(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    manual_clock: ManualClock,
) -> None:
    """Three VMs of pool a existed for a moment between two deletes; nobody polled then."""
    group = emulator.credentials.resource_group
    vms = compute_client.virtual_machines
    for name, pool in (("a-0", "a"), ("a-1", "a"), ("b-0", "b")):
        await vms.begin_create_or_update(group, name, vm_body(tags={"pool": pool}))
    manual_clock.advance(1)
    await vms.begin_delete(group, "a-0")
    await vms.begin_create_or_update(group, "a-2", vm_body(tags={"pool": "a"}))
    manual_clock.advance(1)
    await vms.begin_delete(group, "a-1")
    manual_clock.advance(1)
    peaks = await tag_peaks(emulator)

    assert sorted(vm["name"] for vm in emulator.vms()) == ["a-2", "b-0"]
    assert peaks == {"tags": {"pool": {"a": 3, "b": 1}}}


async def test_a_retagged_vm_counts_under_its_new_tag_only(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    manual_clock: ManualClock,
) -> None:
    """a-1 moves to pool b before a-2 is created: pool a never had three VMs at once."""
    group = emulator.credentials.resource_group
    vms = compute_client.virtual_machines
    for name in ("a-0", "a-1"):
        await vms.begin_create_or_update(group, name, vm_body(tags={"pool": "a"}))
    manual_clock.advance(1)
    await vms.begin_update(group, "a-1", VirtualMachineUpdate(tags={"pool": "b"}))
    manual_clock.advance(1)
    await vms.begin_create_or_update(group, "a-2", vm_body(tags={"pool": "a"}))
    peaks = await tag_peaks(emulator)

    assert peaks == {"tags": {"pool": {"a": 2, "b": 1}}}
