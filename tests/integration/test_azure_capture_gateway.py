"""The capture gateway against the emulator with the real SDK, wired as the operator wires it.

Deallocate, generalize, create the version from the VM and follow it to every region, resuming
the recorded operation through a gateway borrowed afresh (as after a restart); a source that
does not fit its definition is a terminal SourceIncompatible. A builder VM created, read with
its tag and guest health, and deleted.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import connection_of, refusing_gateways, until_woken

from vmroll.azure import AzureGateways
from vmroll.azure.budget import ArmBucket
from vmroll.azure.capture_gateway import CaptureGateway, borrow_captures
from vmroll.azure.captures import BuilderInfo, SourceInfo, TargetRegionSpec, VersionRequest
from vmroll.azure.errors import TerminalAzureError, WriteBudgetExhausted
from vmroll.azure.images import MarketplaceRef
from vmroll.azure.lro import LroKind, OperationRecord, OperationState
from vmroll.azure.vm_body import VmSpec
from vmroll.emulator.server import Emulator
from vmroll.plan.capture_builder import CaptureIdentity, builder_name, builder_tags
from vmroll.plan.ownership import CAPTURE_UID_TAG, PoolIdentity
from vmroll.plan.reasons import Reason

pytestmark = pytest.mark.integration

GROUP = "rg-vmroll"
REGION = "westeurope"
"""The group's region, and the gallery's: the source VMs' (no VM ID names it)."""
CAPTURE = "uid-capture"
"""The capture the writes are for: the queue they wait in in the write budget."""


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
    async with borrow_captures(gateways, connection, location="", owner=CAPTURE) as gateway:
        running = await gateway.read_source(vm_id, REGION)
        deallocating = await gateway.deallocate(vm_id)
        await until_done(gateway, deallocating)
        deallocated = await gateway.read_source(vm_id, REGION)
        await gateway.generalize(vm_id)
        generalized = await gateway.read_source(vm_id, REGION)
        found = await gateway.read_definition(image_id)
        names = await gateway.version_names(image_id)
        record = await gateway.create_version(image_id, "1.3.1", REGION, request(vm_id))
        creating = await gateway.read_version(image_id, "1.3.1")
    async with borrow_captures(gateways, connection, location="", owner=CAPTURE) as resumed:
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


async def test_the_source_is_read_from_its_instance_view_as_json(
    emulator: Emulator,
    gateways: AzureGateways,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = connection_of(emulator.credentials)
    vm_id = await builder(compute_client, vm_body, "builder")

    async def modelled(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the source's view was built into the SDK's model")

    async with gateways.clients.borrow(connection) as clients:
        monkeypatch.setattr(clients.compute.virtual_machines, "instance_view", modelled)
        async with borrow_captures(gateways, connection, location="", owner=CAPTURE) as gateway:
            running = await gateway.read_source(vm_id, REGION)
            await until_done(gateway, await gateway.deallocate(vm_id))
            await gateway.generalize(vm_id)
            generalized = await gateway.read_source(vm_id, REGION)

    assert running == SourceInfo(power_state="running", generalized=False, busy=False)
    assert generalized == SourceInfo(power_state="deallocated", generalized=True, busy=False)


async def test_missing_things_read_as_none(emulator: Emulator, gateways: AzureGateways) -> None:
    async with borrow_captures(
        gateways, connection_of(emulator.credentials), location="", owner=CAPTURE
    ) as gateway:
        vm_id = f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/{GROUP}"
        source = await gateway.read_source(
            vm_id + "/providers/Microsoft.Compute/virtualMachines/x", REGION
        )
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
    async with borrow_captures(
        gateways, connection_of(emulator.credentials), location="", owner=CAPTURE
    ) as gateway:
        await until_done(gateway, await gateway.deallocate(vm_id))
        with pytest.raises(TerminalAzureError) as refused:
            await gateway.create_version(
                definition(emulator), "1.3.1", "westeurope", request(vm_id)
            )
        await asyncio.sleep(0)

    assert refused.value.reason is Reason.SOURCE_INCOMPATIBLE
    assert "different OS state ['Specialized']" in str(refused.value)


async def test_a_builder_is_created_read_with_its_health_and_deleted(
    emulator: Emulator, gateways: AzureGateways
) -> None:
    """Through the pools' own create (image resolved in the builder's location), tagged as the
    capture's; read back with its tag and guest health in one GET, deleted, resumed afresh."""
    c = emulator.credentials
    connection = connection_of(c)
    capture = CaptureIdentity("images", "golden", "0f6c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5")
    ubuntu = MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server")
    async with borrow_captures(
        gateways, connection, location="westeurope", owner=capture.uid
    ) as gateway:
        image = await gateway.resolve_image("westeurope", ubuntu)
        vm_id = gateway.vm_id(GROUP, builder_name(capture))
        before = await gateway.read_builder(vm_id, CAPTURE_UID_TAG)
        spec = VmSpec(
            name=builder_name(capture), location="westeurope", size="Standard_D2s_v5",
            image=image, subnet_id=c.subnet_id, admin_username="azureuser",
            owner=PoolIdentity(capture.namespace, capture.name, capture.uid), revision="",
            custom_data=b"#cloud-config\n", all_tags=builder_tags({"team": "images"}, capture),
        )  # fmt: skip
        created = await gateway.create_builder(GROUP, spec)
    async with borrow_captures(
        gateways, connection, location="westeurope", owner=capture.uid
    ) as resumed:
        await until_done(resumed, created)
        built = await resumed.read_builder(vm_id, CAPTURE_UID_TAG)
        deleting = await resumed.delete_builder(vm_id)
        await until_done(resumed, deleting)
        gone = await resumed.read_builder(vm_id, CAPTURE_UID_TAG)

    assert image.resolved_version == "24.04.202611100"
    assert before is None
    assert (created.kind, created.resource_id) == (LroKind.CREATE, vm_id)
    assert built == BuilderInfo(capture.uid, "Succeeded", "running", "healthy")
    assert deleting.kind is LroKind.DELETE
    assert gone is None


async def test_a_refused_write_keeps_the_captures_place_and_wakes_it_at_its_turn(
    emulator: Emulator,
) -> None:
    """Whatever it writes: the token set aside is the capture's, not the resource's."""
    woken: list[str] = []
    gateways = refusing_gateways(woken)
    creds = emulator.credentials
    vm_id = f"/subscriptions/{creds.subscription_id}/resourceGroups/{GROUP}/providers/"
    vm_id += "Microsoft.Compute/virtualMachines/golden-source"
    try:
        async with borrow_captures(
            gateways, connection_of(creds), location="", owner=CAPTURE
        ) as gateway:
            budget = gateways.budgets.for_subscription(creds.subscription_id)
            budget.defer([("arm", ArmBucket.WRITES.value)], 0.2)
            with pytest.raises(WriteBudgetExhausted):
                await gateway.deallocate(vm_id)
            await until_woken(woken)
    finally:
        await gateways.close()
    assert woken == [CAPTURE]
