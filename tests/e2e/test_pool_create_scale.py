"""A pool applied with kubectl gets its VMs on the resolved image, scales, and repairs itself.

The real control plane, the emulator over HTTPS and `vmroll run` as its own process.
"""

from __future__ import annotations

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    BY_CREDENTIAL,
    EmulatorProcess,
    Operator,
    apply,
    create_vm_out_of_band,
    delete_vm_out_of_band,
    pool_manifest,
    wait_condition,
    wait_vm_count,
)

from vmroll.plan.naming import vm_name

pytestmark = [pytest.mark.e2e, BY_CREDENTIAL]
pytest_plugins = ("pool_fixtures",)

UID_TAG = "vmroll.io_pool-uid"


def test_pool_becomes_ready_with_its_vms_on_the_resolved_version(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=3))
    pool = wait_condition(kubectl, namespace, "web", "Ready", operator)

    status = pool["status"]
    resolved = status["image"]["resolvedVersion"]
    assert resolved == "24.04.202611100"  # the newest version offered in westeurope
    assert (status["replicas"], status["readyReplicas"], status["updatedReplicas"]) == (3, 3, 3)
    vms = emulator.vms(namespace)
    assert len(vms) == 3
    for vm in vms:
        assert vm["exactVersion"] == resolved
        assert vm["provisioningState"] == "Succeeded"
        assert vm["tags"][UID_TAG] == pool["metadata"]["uid"]
        assert vm["tags"]["vmroll.io_pool"] == "web"
        assert vm["tags"]["vmroll.io_revision"] == status["updateRevision"]
        assert vm["tags"]["vmroll.io_image-version"] == resolved
        assert vm["tags"]["team"] == "e2e"
    assert sorted(i["zone"] for i in status["instances"]) == ["1", "2", "3"]
    assert {i["name"] for i in status["instances"]} == {vm["name"] for vm in vms}
    assert _created_events(kubectl, namespace) == 3


def test_pool_scales_up_and_down(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    manifest = pool_manifest("web", account, emulator, replicas=2)
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)

    manifest["spec"]["replicas"] = 5
    apply(kubectl, namespace, manifest)
    pool = wait_condition(kubectl, namespace, "web", "Ready", operator)
    assert pool["status"]["replicas"] == 5
    assert len(wait_vm_count(emulator, namespace, 5)) == 5

    manifest["spec"]["replicas"] = 1
    apply(kubectl, namespace, manifest)
    pool = wait_condition(kubectl, namespace, "web", "Ready", operator)
    assert pool["status"]["replicas"] == 1
    (remaining,) = wait_vm_count(emulator, namespace, 1)
    assert [i["name"] for i in pool["status"]["instances"]] == [remaining["name"]]


def test_a_vm_deleted_out_of_band_comes_back(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=2))
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    victim = emulator.vms(namespace)[0]["name"]

    delete_vm_out_of_band(emulator, "rg-vmroll", victim)

    def replaced() -> bool | None:
        vms = emulator.vms(namespace)
        succeeded = [vm for vm in vms if vm["provisioningState"] == "Succeeded"]
        return True if len(succeeded) == len(vms) == 2 else None

    wait_for("the deleted VM to be replaced", replaced, timeout=60, describe=operator.output)

    # Events are posted asynchronously; wait for the third, then make sure there is no fourth.
    def three_or_more() -> int | None:
        count = _created_events(kubectl, namespace)
        return count if count >= 3 else None

    created = wait_for("the replacement's Created event", three_or_more, timeout=30)
    assert created == 3
    wait_condition(kubectl, namespace, "web", "Ready", operator)


def _created_events(kubectl: Kubectl, namespace: str) -> int:
    events = kubectl.json("get", "events", "-n", namespace)["items"]
    return sum(e.get("count", 1) for e in events if e["reason"] == "Created")


def test_a_look_alike_vm_is_reported_once_and_left_alone(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    manifest = pool_manifest("web", account, emulator, replicas=1)
    apply(kubectl, namespace, manifest)
    pool = wait_condition(kubectl, namespace, "web", "Ready", operator)
    look_alike = vm_name("web", pool["metadata"]["uid"], 1)
    create_vm_out_of_band(emulator, "rg-vmroll", look_alike, {"owner": "someone-else"})

    wait_for("the look-alike to be reported", lambda: _reported(kubectl, namespace) or None,
             timeout=60, describe=operator.output)  # fmt: skip
    manifest["spec"]["replicas"] = 2
    apply(kubectl, namespace, manifest)
    pool = wait_condition(kubectl, namespace, "web", "Ready", operator)

    assert _reported(kubectl, namespace) == 1
    names = {vm["name"] for vm in emulator.all_vms()}
    assert look_alike in names
    assert len(emulator.vms(namespace)) == 2
    assert look_alike not in {i["name"] for i in pool["status"]["instances"]}


def _reported(kubectl: Kubectl, namespace: str) -> int:
    events = kubectl.json("get", "events", "-n", namespace)["items"]
    return sum(e.get("count", 1) for e in events if e["reason"] == "ForeignVM")
