"""The capture gateway against the emulator with the real SDK, wired as the operator wires it.

Deallocate, generalize, create the version from the VM and follow it to every region, resuming
the recorded operation through a gateway borrowed afresh (as after a restart); a source that
does not fit its definition is a terminal SourceIncompatible.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import connection_of

from vmroll.azure import AzureGateways
from vmroll.azure.capture_gateway import CaptureGateway, borrow_captures
from vmroll.azure.captures import TargetRegionSpec, VersionRequest
from vmroll.azure.errors import TerminalAzureError
from vmroll.azure.lro import LroKind, OperationRecord, OperationState
from vmroll.emulator.server import Emulator
from vmroll.plan.reasons import Reason

pytestmark = pytest.mark.integration

GROUP = "rg-vmroll"


def definition(emulator: Emulator, name: str = "ubuntu-web") -> str:
    return (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/{GROUP}"
        f"/providers/Microsoft.Compute/galleries/vmrollGallery/images/{name}"
    )


async def builder(compute_client: ComputeManagementClient, vm_body: Any, name: str) -> str:
    poller = await compute_client.virtual_machines.begin_create_or_update(GROUP, name, vm_body())
    created = await poller.result()
    return str(created.id)


async def until_done(gateway: CaptureGateway, record: OperationRecord) -> list[OperationState]:
    states = []
    for _ in range(100):
        # Long enough for a poll the Retry-After and the Get Operation budget allow: a shorter
        # wait returns Running without asking when the pacer says the next poll is later.
        state = await gateway.wait_operation(record, max_wait=2.0)
        states.append(state)
        if state is OperationState.SUCCEEDED:
            break
    return states


def request(vm_id: str) -> VersionRequest:
    return VersionRequest(
        source_vm_id=vm_id,
        regions=(
            TargetRegionSpec("westeurope", 2, "Standard_ZRS"),
            TargetRegionSpec("eastus", 1, "Standard_LRS"),
        ),
        exclude_from_latest=False,
        end_of_life=None,
    )


async def test_a_capture_from_deallocate_to_replicated(
    emulator: Emulator,
    gateways: AzureGateways,
    compute_client: ComputeManagementClient,
    vm_body: Any,
) -> None:
    connection = connection_of(emulator.credentials)
    vm_id = await builder(compute_client, vm_body, "builder")
    image_id = definition(emulator)
    async with borrow_captures(gateways, connection) as gateway:
        running = await gateway.read_source(vm_id)
        deallocating = await gateway.deallocate(vm_id)
        await until_done(gateway, deallocating)
        deallocated = await gateway.read_source(vm_id)
        await gateway.generalize(vm_id)
        generalized = await gateway.read_source(vm_id)
        found = await gateway.read_definition(image_id)
        names = await gateway.version_names(image_id)
        record = await gateway.create_version(image_id, "1.3.1", "westeurope", request(vm_id))
        creating = await gateway.read_version(image_id, "1.3.1")
    async with borrow_captures(gateways, connection) as resumed:
        states = await until_done(resumed, record)
        done = await resumed.read_version(image_id, "1.3.1")

    assert running is not None
    assert (running.power_state, running.generalized) == ("running", False)
    assert deallocating.kind is LroKind.DEALLOCATE
    assert deallocated is not None
    assert deallocated.power_state == "deallocated"
    assert generalized is not None
    assert generalized.generalized
    assert found is not None
    assert (found.location, found.os_state) == ("westeurope", "Generalized")
    assert names == ("1.0.0", "1.1.0", "1.2.0", "1.3.0")
    assert record.resource_id == f"{image_id}/versions/1.3.1"
    assert creating is not None
    assert creating.provisioning_state == "Creating"
    assert creating.source_vm_id == vm_id
    assert states[-1] is OperationState.SUCCEEDED
    assert done is not None
    assert done.provisioning_state == "Succeeded"
    assert [(r.name, r.state) for r in done.regions] == [
        ("West Europe", "Completed"),
        ("East US", "Completed"),
    ]


async def test_missing_things_read_as_none(emulator: Emulator, gateways: AzureGateways) -> None:
    async with borrow_captures(gateways, connection_of(emulator.credentials)) as gateway:
        vm_id = f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/{GROUP}"
        source = await gateway.read_source(vm_id + "/providers/Microsoft.Compute/virtualMachines/x")
        image = await gateway.read_definition(definition(emulator, "nothing"))
        version = await gateway.read_version(definition(emulator), "9.9.9")

    assert (source, image, version) == (None, None, None)


async def test_a_specialized_source_into_a_generalized_definition_is_terminal(
    emulator: Emulator,
    gateways: AzureGateways,
    compute_client: ComputeManagementClient,
    vm_body: Any,
) -> None:
    vm_id = await builder(compute_client, vm_body, "builder")
    async with borrow_captures(gateways, connection_of(emulator.credentials)) as gateway:
        await until_done(gateway, await gateway.deallocate(vm_id))
        with pytest.raises(TerminalAzureError) as refused:
            await gateway.create_version(
                definition(emulator), "1.3.1", "westeurope", request(vm_id)
            )
        await asyncio.sleep(0)

    assert refused.value.reason is Reason.SOURCE_INCOMPATIBLE
    assert "different OS state ['Specialized']" in str(refused.value)
