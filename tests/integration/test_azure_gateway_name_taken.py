"""Creates sent with `If-None-Match: *`, through vmroll's Azure boundary against the emulator with
the real SDK: a create for the name of a VM that exists never changes that VM; a 412 is this
create's own VM (`AlreadyCreated`) only when the VM carries the create's identity tags, and a
transient `NameTaken` for any other VM.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachine
from conftest import VmBody
from test_azure_gateway_vms import OTHER, WEB, created, vm_spec

from vmroll.azure import AlreadyCreated, ComputeGateway, NameTaken, TransientAzureError
from vmroll.emulator.server import Emulator
from vmroll.plan.ownership import CAPTURE_UID_TAG

pytestmark = pytest.mark.integration


def _vm_path(emulator: Emulator, name: str) -> str:
    return (
        f"/subscriptions/{emulator.credentials.subscription_id}"
        f"/resourceGroups/{emulator.credentials.resource_group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


async def _as_written(arm: Any, emulator: Emulator, name: str) -> tuple[Any, ...]:
    """What a write would change: the ETag, the tags, the size and the image."""
    status, _, body = await arm.call("GET", _vm_path(emulator, name))
    assert status == 200
    properties = body["properties"]
    return (
        body["etag"],
        body.get("tags"),
        properties["hardwareProfile"]["vmSize"],
        properties["storageProfile"]["imageReference"],
    )


async def test_a_create_for_a_vm_of_another_revision_is_name_taken_and_leaves_it_untouched(
    emulator: Emulator, gateway: ComputeGateway, arm: Any
) -> None:
    await created(emulator, gateway, "web-0")
    before = await _as_written(arm, emulator, "web-0")
    newer = replace(
        await vm_spec(emulator, gateway, "web-0"), revision="r2", size="Standard_D4s_v5"
    )

    with pytest.raises(NameTaken) as refused:
        await gateway.create_vm(emulator.credentials.resource_group, newer)

    assert isinstance(refused.value, TransientAzureError)
    assert refused.value.code == "NameTaken"
    holder = refused.value.holder
    assert holder is not None
    assert (holder.name, holder.pool_uid, holder.revision) == ("web-0", WEB.uid, "r1")
    assert "web-0" in refused.value.message
    assert "revision r1" in refused.value.message
    assert await _as_written(arm, emulator, "web-0") == before
    assert len(emulator.vms()) == 1


async def test_a_create_for_a_vm_not_vmrolls_is_name_taken_naming_no_pool(
    emulator: Emulator, gateway: ComputeGateway, arm: Any, vm_body: VmBody
) -> None:
    status, _, _ = await arm.call("PUT", _vm_path(emulator, "web-0"), json=vm_body(tags={}))
    assert status == 201
    before = await _as_written(arm, emulator, "web-0")

    with pytest.raises(NameTaken) as refused:
        await gateway.create_vm(
            emulator.credentials.resource_group, await vm_spec(emulator, gateway, "web-0")
        )

    assert refused.value.holder is not None
    assert refused.value.holder.pool_uid == ""
    assert "not a pool's VM" in refused.value.message
    assert await _as_written(arm, emulator, "web-0") == before


async def test_a_create_for_a_vm_of_another_pool_is_name_taken(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    await created(emulator, gateway, "web-0", OTHER)

    with pytest.raises(NameTaken) as refused:
        await gateway.create_vm(
            emulator.credentials.resource_group, await vm_spec(emulator, gateway, "web-0")
        )

    assert refused.value.holder is not None
    assert refused.value.holder.pool_uid == OTHER.uid
    assert [vm["tags"]["vmroll.io_pool-uid"] for vm in emulator.vms()] == [OTHER.uid]


async def test_a_builder_create_sent_again_is_already_created(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    spec = replace(
        await vm_spec(emulator, gateway, "cap-build-0"), all_tags={CAPTURE_UID_TAG: "uid-cap"}
    )
    group = emulator.credentials.resource_group
    first = await gateway.create_vm(group, spec)

    again = await gateway.create_vm(group, spec)
    other = replace(spec, all_tags={CAPTURE_UID_TAG: "uid-another-capture"})
    with pytest.raises(NameTaken):
        await gateway.create_vm(group, other)

    assert not isinstance(first, AlreadyCreated)
    assert isinstance(again, AlreadyCreated)
    assert again.vm.tags[CAPTURE_UID_TAG] == "uid-cap"
    assert [vm["name"] for vm in emulator.vms()] == ["cap-build-0"]


async def test_the_emulator_refuses_an_existing_vm_with_azures_412(
    emulator: Emulator, compute_client: ComputeManagementClient, arm: Any, vm_body: VmBody
) -> None:
    path = _vm_path(emulator, "web-0")
    assert (await arm.call("PUT", path, json=vm_body()))[0] == 201

    status, headers, body = await arm.call(
        "PUT", path, json=vm_body(), headers={"If-None-Match": "*"}
    )
    with pytest.raises(ResourceExistsError) as refused:
        await compute_client.virtual_machines.begin_create_or_update(
            emulator.credentials.resource_group,
            "web-0",
            VirtualMachine(vm_body()),
            match_condition=MatchConditions.IfMissing,
        )

    assert status == 412
    assert headers["Content-Type"].startswith("application/json")
    assert set(body) == {"error"}
    assert body["error"]["code"] == "PreconditionFailed"
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert refused.value.status_code == 412
    assert refused.value.error is not None
    assert refused.value.error.code == "PreconditionFailed"
