"""A pool created and rolled while ARM loses answers to the writes it carries out, and while its
lists lag writes by longer than the operator's progress interval: no VM made twice for a slot,
never more than replicas + maxSurge VMs, and the rollout still ends Ready on the target version.

The surge ceiling is checked twice: by the emulator as it applies each write (its peak count of
VMs per pool-UID tag, which no excursion between two polls escapes) and at every poll, with the
availability floor, by `RolloutBounds`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    RolloutBounds,
    apply,
    condition,
    current,
    get_pool,
    pool_manifest,
    wait_condition,
)

from vmroll.plan.ownership import POOL_UID_TAG

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"
REPLICAS = 3
LIST_LAG_SECONDS = 3.0
"""Six times the e2e operator's progress interval (0.5 s): passes run while the list lags."""
VM_WRITES = ("VirtualMachines_CreateOrUpdate", "VirtualMachines_Delete", "VirtualMachines_Reimage")


def ubuntu(version: str) -> dict[str, Any]:
    return {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                            "sku": "server", "version": version}}  # fmt: skip


def wait_rolled(
    kubectl: Kubectl,
    namespace: str,
    emulator: EmulatorProcess,
    operator: Operator,
    bounds: RolloutBounds,
    version: str,
) -> None:
    """Until pool "web" is Ready for its generation with every VM on `version`, checking the
    rollout's bounds at every poll."""

    def rolled() -> bool | None:
        vms = bounds.poll()
        pool = get_pool(kubectl, namespace, "web")
        ready = condition(pool, "Ready")
        done = current(pool) and ready is not None and ready["status"] == "True"
        return True if done and all(vm["exactVersion"] == version for vm in vms) else None

    def describe() -> str:
        pool = get_pool(kubectl, namespace, "web")
        status = json.dumps(pool.get("status"), indent=1)
        vms = json.dumps(emulator.vms(namespace), indent=1)
        return f"status: {status}\nVMs: {vms}\n{operator.output()}"

    wait_for("the rollout", rolled, timeout=240, describe=describe)


def lost_responses(emulator: EmulatorProcess) -> None:
    """Four in ten VM writes carried out and left unanswered, the same ones on every run."""
    rules = [{"operation": op, "kind": "lostResponse", "rate": 0.4} for op in VM_WRITES]
    emulator.admin("PUT", "faults", {"seed": 14, "rules": rules})


def lagging_lists(emulator: EmulatorProcess) -> None:
    emulator.admin("PUT", "consistency", {"listLagSeconds": LIST_LAG_SECONDS})


def peak_of(emulator: EmulatorProcess, uid: str) -> int:
    peaks: dict[str, dict[str, int]] = emulator.admin("GET", "peaks")["tags"]
    return peaks.get(POOL_UID_TAG, {}).get(uid, 0)


@pytest.mark.parametrize("adversity", [lost_responses, lagging_lists], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("strategy", "surge", "unavailable"),
    [("RollingReplace", 1, 0), ("RollingReimage", 0, 1)],
)
def test_a_pool_rolls_without_duplicates_or_excess_under(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    operator: Operator,
    adversity: Any,
    strategy: str,
    surge: int,
    unavailable: int,
) -> None:
    adversity(emulator)
    manifest = pool_manifest("web", account, emulator, replicas=REPLICAS, image=ubuntu(OLD))
    manifest["spec"]["strategy"] = {
        "type": strategy, "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}
    }  # fmt: skip
    apply(kubectl, namespace, manifest)
    ready = wait_condition(kubectl, namespace, "web", "Ready", operator, timeout=120)
    uid = ready["metadata"]["uid"]
    created = {vm["name"] for vm in emulator.vms(namespace)}
    assert len(created) == REPLICAS
    assert peak_of(emulator, uid) == REPLICAS

    manifest["spec"]["image"] = ubuntu(NEW)
    bounds = RolloutBounds(emulator, namespace, REPLICAS, surge, unavailable)
    apply(kubectl, namespace, manifest)
    wait_rolled(kubectl, namespace, emulator, operator, bounds, NEW)

    vms = emulator.vms(namespace)
    pool = get_pool(kubectl, namespace, "web")
    requests = emulator.admin("GET", "requests")["operations"]
    unanswered = sum(requests.get(op, {}).get("byStatus", {}).get("0", 0) for op in VM_WRITES)
    assert peak_of(emulator, uid) <= REPLICAS + surge
    assert len(vms) == REPLICAS
    assert all(vm["provisioningState"] == "Succeeded" for vm in vms)
    assert {vm["exactVersion"] for vm in vms} == {NEW}
    assert {vm["tags"][POOL_UID_TAG] for vm in vms} == {uid}
    assert pool["status"]["observedGeneration"] == pool["metadata"]["generation"]
    assert pool["status"]["updatedReplicas"] == REPLICAS
    if strategy == "RollingReimage":
        assert {vm["name"] for vm in vms} == created
    if adversity is lost_responses:
        assert unanswered > 0
    else:
        # Each create sent once: a VM the list did not show yet was read by name, not made again.
        replaced = REPLICAS if strategy == "RollingReplace" else 0
        assert requests["VirtualMachines_CreateOrUpdate"]["total"] == REPLICAS + replaced


def test_a_pool_deleted_before_its_list_shows_its_vms_leaves_none_behind(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    operator: Operator,
) -> None:
    lagging_lists(emulator)
    apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=REPLICAS))
    wait_for(
        "the creates",
        lambda: True if len(emulator.vms(namespace)) == REPLICAS else None,
        timeout=60, describe=operator.output,
    )  # fmt: skip

    kubectl("delete", "-n", namespace, "vmpool", "web", "--timeout=90s", timeout=120)

    assert emulator.vms(namespace) == []
