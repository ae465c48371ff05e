"""Virtual machine operations through the real async SDK against the emulator over HTTPS."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

GALLERY_IMAGE = (
    "/subscriptions/00000000-0000-4000-8000-00000000a001/resourceGroups/rg-vmroll/providers/"
    "Microsoft.Compute/galleries/vmrollGallery/images/ubuntu-web"
)


async def _create(
    client: ComputeManagementClient, group: str, name: str, body: dict[str, Any]
) -> Any:
    poller = await client.virtual_machines.begin_create_or_update(group, name, body)
    return await poller.result()


async def test_create_reports_the_resolved_version_and_tags(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    vm = await _create(compute_client, group, "web-0", vm_body(tags={"vmroll.io_pool-uid": "abc"}))

    assert vm.provisioning_state == "Succeeded"
    assert vm.tags == {"vmroll.io_pool-uid": "abc"}
    reference = vm.storage_profile.image_reference
    assert (reference.version, reference.exact_version) == ("latest", "24.04.202611100")
    assert vm.os_profile.computer_name == "web-0"
    assert vm.storage_profile.os_disk.managed_disk.id.endswith(vm.storage_profile.os_disk.name)


async def test_latest_depends_on_the_region(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    body = vm_body(location="eastus")
    subnet = emulator.credentials.subnet_id.replace("rg-vmroll/", "rg-vmroll-eastus/")
    subnet = subnet.replace("vnet-vmroll", "vnet-eastus")
    configuration = body["properties"]["networkProfile"]["networkInterfaceConfigurations"][0]
    configuration["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] = subnet

    vm = await _create(compute_client, "rg-vmroll-eastus", "east-0", body)

    assert vm.storage_profile.image_reference.exact_version == "24.04.202610220"


async def test_get_with_instance_view_reports_agent_and_healthy_guest(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    await _create(compute_client, group, "web-0", vm_body())

    vm = await compute_client.virtual_machines.get(group, "web-0", expand="instanceView")

    view = vm.instance_view
    assert [s.code for s in view.statuses] == ["ProvisioningState/succeeded", "PowerState/running"]
    assert view.vm_agent.statuses[0].display_status == "Ready"
    assert view.vm_health.status.code == "HealthState/healthy"
    assert view.extensions[0].substatuses[0].code.endswith("ApplicationHealthState/healthy")


async def test_an_image_that_boots_unhealthy_shows_in_the_instance_view(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    body = vm_body(image={"id": f"{GALLERY_IMAGE}/versions/1.2.0"})
    await _create(compute_client, group, "bad-0", body)

    view = await compute_client.virtual_machines.instance_view(group, "bad-0")

    assert view.vm_health.status.code == "HealthState/unhealthy"
    assert view.extensions[0].substatuses[0].code.endswith("ApplicationHealthState/unhealthy")


async def test_power_operations_move_the_power_state(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    await _create(compute_client, group, "web-0", vm_body())
    operations = compute_client.virtual_machines
    seen = []
    for begin in (
        operations.begin_power_off,
        operations.begin_start,
        operations.begin_restart,
        operations.begin_deallocate,
        operations.begin_start,
    ):
        await (await begin(group, "web-0")).result()
        view = await operations.instance_view(group, "web-0")
        seen.append(view.statuses[1].code.removeprefix("PowerState/"))

    assert seen == ["stopped", "running", "running", "deallocated", "running"]


async def test_reimage_to_an_exact_version_and_back_to_the_current_one(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    await _create(compute_client, group, "web-0", vm_body())
    operations = compute_client.virtual_machines

    await (
        await operations.begin_reimage(group, "web-0", {"exactVersion": "24.04.202609160"})
    ).result()
    pinned = await operations.get(group, "web-0")
    await (await operations.begin_reimage(group, "web-0")).result()
    again = await operations.get(group, "web-0")

    assert pinned.storage_profile.image_reference.exact_version == "24.04.202609160"
    assert pinned.storage_profile.image_reference.version == "latest"
    assert again.storage_profile.image_reference.exact_version == "24.04.202609160"


async def test_reimage_to_a_gallery_version(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    await _create(compute_client, group, "g-0", vm_body(image={"id": GALLERY_IMAGE}))
    before = await compute_client.virtual_machines.get(group, "g-0")

    poller = await compute_client.virtual_machines.begin_reimage(
        group, "g-0", {"exactVersion": "1.2.0"}
    )
    await poller.result()
    view = await compute_client.virtual_machines.instance_view(group, "g-0")
    after = await compute_client.virtual_machines.get(group, "g-0")

    assert before.storage_profile.image_reference.exact_version == "1.3.0"
    assert after.storage_profile.image_reference.exact_version == "1.2.0"
    assert after.storage_profile.image_reference.id == GALLERY_IMAGE
    assert view.vm_health.status.code == "HealthState/unhealthy"


@pytest.mark.parametrize(
    ("delete_option", "remaining_states"), [("Delete", []), ("Detach", ["Unattached"])]
)
async def test_delete_honours_the_delete_option_of_implied_resources(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    delete_option: str,
    remaining_states: list[str],
) -> None:
    group = emulator.credentials.resource_group
    await _create(compute_client, group, "web-0", vm_body(delete_option=delete_option))
    assert len(emulator.implied_resources()) == 2

    poller = await compute_client.virtual_machines.begin_delete(group, "web-0", force_deletion=True)
    await poller.result()

    with pytest.raises(ResourceNotFoundError):
        await compute_client.virtual_machines.get(group, "web-0")
    disks = [r for r in emulator.implied_resources() if r["type"] == "Microsoft.Compute/disks"]
    assert [d["properties"]["diskState"] for d in disks] == remaining_states


async def test_update_changes_tags_and_size(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    await _create(compute_client, group, "web-0", vm_body(tags={"a": "1"}))

    poller = await compute_client.virtual_machines.begin_update(
        group,
        "web-0",
        {
            "tags": {"a": "2", "b": "3"},
            "properties": {"hardwareProfile": {"vmSize": "Standard_D4s_v5"}},
        },
    )
    updated = await poller.result()

    assert updated.tags == {"a": "2", "b": "3"}
    assert updated.hardware_profile.vm_size == "Standard_D4s_v5"


async def test_put_on_an_existing_vm_updates_it(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    created = await _create(compute_client, group, "web-0", vm_body(tags={"rev": "1"}))

    updated = await _create(compute_client, group, "web-0", vm_body(tags={"rev": "2"}))

    assert updated.tags == {"rev": "2"}
    assert updated.vm_id == created.vm_id
    assert updated.storage_profile.image_reference.exact_version == "24.04.202611100"


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    return emulator_catalog.model_copy(update={"page_size": 2})


async def test_lists_page_with_next_link(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any, arm: Any
) -> None:
    group = emulator.credentials.resource_group
    for index in range(5):
        await _create(compute_client, group, f"web-{index}", vm_body())

    in_group = [vm.name async for vm in compute_client.virtual_machines.list(group)]
    in_subscription = [vm.name async for vm in compute_client.virtual_machines.list_all()]
    in_region = [
        vm.name async for vm in compute_client.virtual_machines.list_by_location("westeurope")
    ]
    elsewhere = [vm.name async for vm in compute_client.virtual_machines.list_by_location("eastus")]
    path = f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/{group}"
    status, _, first = await arm.call("GET", path + "/providers/Microsoft.Compute/virtualMachines")

    assert in_group == [f"web-{i}" for i in range(5)]
    assert in_subscription == in_group
    assert in_region == in_group
    assert elsewhere == []
    assert status == 200
    assert len(first["value"]) == 2
    assert first["nextLink"].startswith(emulator.base_url)
    assert "api-version=" in first["nextLink"]


async def test_implied_disk_and_nic_can_be_read_back(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any, arm: Any
) -> None:
    group = emulator.credentials.resource_group
    vm = await _create(compute_client, group, "web-0", vm_body(delete_option="Detach"))
    nic_path = (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/{group}"
        "/providers/Microsoft.Network/networkInterfaces/web-0-nic"
    )

    disk = await compute_client.disks.get(group, vm.storage_profile.os_disk.name)
    status, _, nic = await arm.call("GET", nic_path, api_version="2024-05-01")

    assert disk.managed_by == vm.id
    assert disk.disk_state == "Attached"
    assert status == 200
    assert nic["properties"]["virtualMachine"]["id"] == vm.id
    assert nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] == (
        emulator.credentials.subnet_id
    )


async def test_lists_can_carry_the_instance_view(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    await _create(compute_client, group, "web-0", vm_body())
    await (await compute_client.virtual_machines.begin_deallocate(group, "web-0")).result()

    status_only = [vm async for vm in compute_client.virtual_machines.list_all(status_only="true")]
    expanded = [
        vm async for vm in compute_client.virtual_machines.list(group, expand="instanceView")
    ]
    plain = [vm async for vm in compute_client.virtual_machines.list(group)]

    for listed in (status_only, expanded):
        assert listed[0].instance_view.statuses[1].code == "PowerState/deallocated"
    assert plain[0].instance_view is None
