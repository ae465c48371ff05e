"""Reading pool VMs out of a list's JSON or the SDK's models, and their runtime out of an
instance view's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.mgmt.compute.models import VirtualMachine, VirtualMachineInstanceView

from vmroll.azure.vms import (
    ListedAlike,
    VmRuntime,
    kept_unchanged,
    to_pool_vm,
    to_runtime,
    vm_resource_id,
)
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


RUNNING = {"code": "PowerState/running"}
PROVISIONED = {"code": "ProvisioningState/succeeded"}
HEALTHY = {"status": {"code": "HealthState/healthy"}}

RUNTIMES = {
    "running and healthy": (
        {"statuses": [PROVISIONED, RUNNING], "vmHealth": HEALTHY},
        VmRuntime("running", "healthy"),
    ),
    "unhealthy guest": (
        {
            "statuses": [PROVISIONED, RUNNING],
            "vmHealth": {"status": {"code": "HealthState/unhealthy"}},
        },
        VmRuntime("running", "unhealthy"),
    ),
    "no health extension": ({"statuses": [PROVISIONED, RUNNING]}, VmRuntime("running", None)),
    "health without a status": (
        {"statuses": [RUNNING], "vmHealth": {}},
        VmRuntime("running", None),
    ),
    "health status without a code": (
        {"statuses": [RUNNING], "vmHealth": {"status": {"code": None}}},
        VmRuntime("running", None),
    ),
    "health code without a prefix": (
        {"statuses": [RUNNING], "vmHealth": {"status": {"code": "healthy"}}},
        VmRuntime("running", "healthy"),
    ),
    "no statuses": ({"statuses": []}, VmRuntime(None, None)),
    "nothing at all": ({}, VmRuntime(None, None)),
    "null statuses and health": ({"statuses": None, "vmHealth": None}, VmRuntime(None, None)),
    "a status without a code": (
        {"statuses": [{"level": "Info"}, {"code": "PowerState/deallocated"}]},
        VmRuntime("deallocated", None),
    ),
    "the first power state counts": (
        {"statuses": [{"code": "PowerState/stopped"}, RUNNING]},
        VmRuntime("stopped", None),
    ),
    "failed provisioning": (
        {
            "statuses": [
                {
                    "code": "ProvisioningState/failed/InternalExecutionError",
                    "level": "Error",
                    "displayStatus": "Provisioning failed",
                },
                RUNNING,
            ]
        },
        VmRuntime("running", None, failure_code="InternalExecutionError"),
    ),
    "failed provisioning, state capitalised": (
        {"statuses": [{"code": "ProvisioningState/Failed/AllocationFailed"}]},
        VmRuntime(None, None, failure_code="AllocationFailed"),
    ),
    "failed provisioning without a code": (
        {"statuses": [{"code": "ProvisioningState/failed"}, RUNNING]},
        VmRuntime("running", None),
    ),
    "fields vmroll does not read": (
        {
            "statuses": [PROVISIONED, RUNNING],
            "vmHealth": HEALTHY,
            "vmAgent": {
                "vmAgentVersion": "2.9",
                "statuses": [{"code": "ProvisioningState/failed/x"}],
            },
            "disks": [{"name": "os", "statuses": [{"code": "PowerState/stopped"}]}],
            "extensions": [{"name": "health", "substatuses": [{"code": "x/unhealthy"}]}],
            "computerName": "web-1",
        },
        VmRuntime("running", "healthy"),
    ),
}


@pytest.mark.parametrize(("view", "expected"), RUNTIMES.values(), ids=RUNTIMES.keys())
def test_runtime_from_the_instance_views_json(view: dict[str, Any], expected: VmRuntime) -> None:
    assert to_runtime(json.loads(json.dumps(view))) == expected


@pytest.mark.parametrize(("view", "expected"), RUNTIMES.values(), ids=RUNTIMES.keys())
def test_runtime_from_the_sdks_model_of_it(view: dict[str, Any], expected: VmRuntime) -> None:
    """A builder VM's view comes as the SDK's model (azure/captures.py): read the same."""
    assert to_runtime(VirtualMachineInstanceView(json.loads(json.dumps(view)))) == expected


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


def test_a_vm_listed_again_as_it_was_is_the_previous_lists_vm() -> None:
    listed = listed_vm({"exactVersion": "1.0.2"}).as_dict()
    page = json.dumps([{**listed, "name": f"web-{i}", "id": f"{VM_ID[:-1]}{i}"} for i in (1, 2)])
    previous = tuple(to_pool_vm(vm, "rg", ListedAlike()) for vm in json.loads(page))
    again = json.loads(page)
    again[1]["properties"]["provisioningState"] = "Deleting"
    gone = tuple(to_pool_vm(vm, "rg", ListedAlike()) for vm in again)

    kept = kept_unchanged(previous, gone)

    assert kept == gone
    assert kept[0] is previous[0]
    assert kept[1] is gone[1]
    assert kept[1].provisioning_state == "Deleting"
