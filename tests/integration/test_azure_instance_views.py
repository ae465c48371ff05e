"""Instance views read through vmroll's gateway as JSON (azure/vms.py `get_runtime`), against
the emulator over HTTPS with the real SDK: the same runtime as the SDK's model of the view, and
Azure's refusals raised as the SDK raises them before they are classified.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import Lend, connection_of

from vmroll.azure import AzureAccessError, ComputeGateway, TransientAzureError
from vmroll.azure.vms import PoolVm, VmRuntime, to_runtime, vm_resource_id
from vmroll.emulator.catalog import FaultRule, Faults
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

UNHEALTHY_IMAGE = (
    "/subscriptions/{}/resourceGroups/rg-vmroll/providers"
    "/Microsoft.Compute/galleries/vmrollGallery/images/ubuntu-web/versions/1.2.0"
)
"""A gallery version of the built-in catalog whose VMs boot with an unhealthy guest."""


async def create(compute: ComputeManagementClient, group: str, name: str, body: Any) -> None:
    poller = await compute.virtual_machines.begin_create_or_update(group, name, body)
    await poller.result()


async def listed(gateway: ComputeGateway, group: str) -> dict[str, PoolVm]:
    return {vm.name: vm for vm in await gateway.list_group_vms(group)}


async def test_the_runtime_read_as_json_is_the_one_of_the_sdks_model(
    emulator: Emulator,
    gateway: ComputeGateway,
    compute_client: ComputeManagementClient,
    vm_body: Any,
) -> None:
    group = emulator.credentials.resource_group
    await create(compute_client, group, "web-0", vm_body())
    await create(compute_client, group, "web-1", vm_body())
    unhealthy = UNHEALTHY_IMAGE.format(emulator.credentials.subscription_id)
    await create(compute_client, group, "bad-0", vm_body(image={"id": unhealthy}))
    await (await compute_client.virtual_machines.begin_deallocate(group, "web-1")).result()
    vms = await listed(gateway, group)

    read = {name: await gateway.get_vm_runtime(vm) for name, vm in vms.items()}

    assert read == {
        name: to_runtime(await compute_client.virtual_machines.instance_view(group, name))
        for name in vms
    }
    assert read == {
        "web-0": VmRuntime("running", "healthy"),
        "web-1": VmRuntime("deallocated", "unknown"),
        "bad-0": VmRuntime("running", "unhealthy"),
    }


async def test_a_vm_that_is_gone_has_no_runtime(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    creds = emulator.credentials
    gone = PoolVm(
        name="gone-0",
        resource_id=vm_resource_id(creds.subscription_id, creds.resource_group, "gone-0"),
        resource_group=creds.resource_group,
        pool_uid="uid-web",
        provisioning_state="Succeeded",
        zone=None,
        revision=None,
        image_version=None,
        tags={},
    )
    assert await gateway.get_vm_runtime(gone) is None
    assert emulator.request_counts()["operations"]["VirtualMachines_InstanceView"]["byStatus"] == {
        "404": 1
    }


async def test_a_refused_read_raises_the_sdks_error_classified_as_before(
    emulator: Emulator,
    gateway: ComputeGateway,
    lend: Lend,
    compute_client: ComputeManagementClient,
    vm_body: Any,
) -> None:
    group = emulator.credentials.resource_group
    await create(compute_client, group, "web-0", vm_body())
    vm = (await listed(gateway, group))["web-0"]
    emulator.set_faults(
        Faults(
            rules=[
                FaultRule(
                    operation="VirtualMachines_InstanceView",
                    status=409,
                    code="AnotherOperationInProgress",
                    remaining=1,
                )
            ]
        )
    )
    with pytest.raises(TransientAzureError) as busy:
        await gateway.get_vm_runtime(vm)
    nobody = await lend(connection_of(emulator.credentials_for("vmroll-nobody")))
    with pytest.raises(AzureAccessError) as denied:
        await nobody.get_vm_runtime(vm)

    assert busy.value.code == "AnotherOperationInProgress"
    assert type(busy.value.__cause__) is ResourceExistsError
    assert "instance view of" in str(busy.value)
    assert type(denied.value.__cause__) is HttpResponseError
    assert "AuthorizationFailed" in str(denied.value)
