"""Writes applied whose answers are lost, lists that lag writes, and peak counts per tag, through
the real SDK over HTTPS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import make_compute_client, make_credential

from vmroll.emulator.catalog import Catalog, FaultRule, Faults
from vmroll.emulator.server import Emulator, running_emulator

pytestmark = pytest.mark.integration


def lost(operation: str, remaining: int = 1) -> Faults:
    return Faults(rules=[FaultRule(operation=operation, kind="lostResponse", remaining=remaining)])


async def test_a_create_whose_answer_is_lost_is_sent_again_and_makes_one_vm(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    emulator.set_faults(lost("VirtualMachines_CreateOrUpdate"))

    poller = await compute_client.virtual_machines.begin_create_or_update(group, "web-0", vm_body())
    created = await poller.result()

    statuses = emulator.request_counts()["operations"]["VirtualMachines_CreateOrUpdate"]
    # The first PUT created the VM and got no answer; the SDK's resend joined its operation.
    assert statuses["byStatus"] == {"0": 1, "200": 1}
    assert created.provisioning_state == "Succeeded"
    assert [vm["name"] for vm in emulator.vms()] == ["web-0"]
    assert [op["kind"] for op in emulator.context.operations.snapshot()] == ["vm.create"]


async def test_a_delete_whose_answer_is_lost_is_sent_again_and_joins_the_delete(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    await (
        await compute_client.virtual_machines.begin_create_or_update(group, "web-0", vm_body())
    ).result()
    emulator.set_faults(lost("VirtualMachines_Delete"))

    await (await compute_client.virtual_machines.begin_delete(group, "web-0")).result()

    statuses = emulator.request_counts()["operations"]["VirtualMachines_Delete"]["byStatus"]
    kinds = [op["kind"] for op in emulator.context.operations.snapshot()]
    assert statuses == {"0": 1, "202": 1}
    assert kinds == ["vm.create", "vm.delete"]
    assert emulator.vms() == []


async def test_a_reimage_whose_answer_is_lost_fails_in_the_client_but_runs(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    """POST is not idempotent: the SDK does not send it again, and takes the reset for a request
    that never left (ServiceRequestError), though Azure runs it."""
    group = emulator.credentials.resource_group
    await (
        await compute_client.virtual_machines.begin_create_or_update(group, "web-0", vm_body())
    ).result()
    emulator.set_faults(lost("VirtualMachines_Reimage"))

    with pytest.raises(ServiceRequestError):
        await compute_client.virtual_machines.begin_reimage(group, "web-0")

    kinds = [op["kind"] for op in emulator.context.operations.snapshot()]
    assert kinds == ["vm.create", "vm.reimage"]


async def test_a_state_file_keeps_a_write_whose_answer_was_lost(
    tmp_path: Path, emulator_catalog: Catalog, vm_body: Any
) -> None:
    """The catalog's subnet and group are the same in every emulator built from it."""
    state = tmp_path / "state.json"
    async with running_emulator(
        tmp_path / "stateful", catalog=emulator_catalog, state_file=state
    ) as emulator:
        creds = emulator.credentials
        body = vm_body()
        async with (
            make_credential(creds) as credential,
            make_compute_client(creds, credential) as compute,
        ):
            poller = await compute.virtual_machines.begin_create_or_update(
                creds.resource_group, "web-0", body
            )
            await poller.result()
            emulator.set_faults(lost("VirtualMachines_Reimage"))
            with pytest.raises(ServiceRequestError):
                await compute.virtual_machines.begin_reimage(creds.resource_group, "web-0")
            saved = json.loads(state.read_text())

    assert [op["kind"] for op in saved["operations"]] == ["vm.create", "vm.reimage"]
