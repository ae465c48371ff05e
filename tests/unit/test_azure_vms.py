"""Reading pool VMs out of the SDK's models, as one list call returns them."""

from __future__ import annotations

import json

from azure.mgmt.compute.models import VirtualMachine, VirtualMachineInstanceView

from vmroll.azure.vms import ListedAlike, to_pool_vm, to_runtime, vm_resource_id
from vmroll.plan.ownership import IMAGE_VERSION_TAG, POOL_UID_TAG, REVISION_TAG

VM_ID = vm_resource_id("sub", "rg", "web-1")


def listed_vm(image_reference: dict[str, str], **extra: object) -> VirtualMachine:
    return VirtualMachine(
        {
            "id": VM_ID,
            "name": "web-1",
            "location": "westeurope",
            "tags": {POOL_UID_TAG: "uid-1", REVISION_TAG: "r2", IMAGE_VERSION_TAG: "1.0.1"},
            "properties": {
                "provisioningState": "Succeeded",
                "storageProfile": {"imageReference": image_reference},
            },
            **extra,
        }
    )


def test_exact_version_reported_by_azure_wins_over_the_tag() -> None:
    vm = to_pool_vm(
        listed_vm({"publisher": "p", "version": "latest", "exactVersion": "1.0.2"}, zones=["3"]),
        "rg",
    )
    assert (vm.name, vm.pool_uid, vm.revision, vm.zone) == ("web-1", "uid-1", "r2", "3")
    assert (vm.provisioning_state, vm.image_version) == ("Succeeded", "1.0.2")
    assert vm.resource_id == VM_ID


def test_a_gallery_vm_runs_the_version_in_its_image_id() -> None:
    vm = to_pool_vm(listed_vm({"id": "/galleries/g/images/web/versions/1.1.0"}), "rg")
    assert vm.image_version == "1.1.0"
    assert vm.zone is None


def test_without_a_version_from_azure_the_tag_tells() -> None:
    vm = to_pool_vm(
        listed_vm({"id": "/resourceGroups/rg/providers/Microsoft.Compute/images/g"}), "rg"
    )
    assert vm.image_version == "1.0.1"


def test_runtime_from_instance_view() -> None:
    view = VirtualMachineInstanceView(
        {
            "statuses": [
                {"code": "ProvisioningState/succeeded"},
                {"code": "PowerState/running"},
            ],
            "vmHealth": {"status": {"code": "HealthState/healthy"}},
        }
    )
    runtime = to_runtime(view)
    assert (runtime.power_state, runtime.health) == ("running", "healthy")


def test_runtime_without_power_state_or_health() -> None:
    runtime = to_runtime(VirtualMachineInstanceView({"statuses": []}))
    assert (runtime.power_state, runtime.health) == (None, None)


def test_a_failed_provisionings_code_is_read_from_the_instance_view() -> None:
    view = VirtualMachineInstanceView(
        {
            "statuses": [
                {
                    "code": "ProvisioningState/failed/InternalExecutionError",
                    "level": "Error",
                    "displayStatus": "Provisioning failed",
                },
                {"code": "PowerState/running"},
            ]
        }
    )
    assert to_runtime(view).failure_code == "InternalExecutionError"


def test_a_provisioned_vm_has_no_failure_code() -> None:
    view = VirtualMachineInstanceView({"statuses": [{"code": "ProvisioningState/succeeded"}]})
    assert to_runtime(view).failure_code is None


def test_vms_of_one_list_keep_what_they_hold_alike_once() -> None:
    listed = listed_vm({"exactVersion": "1.0.2"}).as_dict()
    page = json.dumps([{**listed, "name": f"web-{i}"} for i in (1, 2)])
    alike = ListedAlike()
    first, second = (to_pool_vm(vm, "rg", alike) for vm in json.loads(page))
    assert (first.name, second.name) == ("web-1", "web-2")
    assert first.tags is second.tags
    assert first.tags[POOL_UID_TAG] is second.tags[POOL_UID_TAG]
    assert first.provisioning_state is second.provisioning_state
    assert first.image_version is second.image_version
    assert first.image_version == "1.0.2"


def test_vms_with_other_tags_keep_their_own() -> None:
    listed = listed_vm({"exactVersion": "1.0.2"}).as_dict()
    other = {**listed, "name": "web-2", "tags": {**listed["tags"], "team": "db"}}
    alike = ListedAlike()
    first, second = (to_pool_vm(vm, "rg", alike) for vm in (listed, other))
    assert first.tags is not second.tags
    assert second.tags == {**first.tags, "team": "db"}
    assert first.tags[POOL_UID_TAG] is second.tags[POOL_UID_TAG]
