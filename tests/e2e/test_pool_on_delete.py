"""OnDelete: a pinned version bump changes no running VM; each VM deleted out of band comes
back on the new version.

After the bump the status shows the new update revision beside the current one, no updated
replica, the AwaitingDeletion reason and the outdated VMs in `upNext`, and the VMs stay as they
are over several operator passes. An admin then deletes the VMs one at a time through ARM;
each is replaced on the new version, and with the last one the pool is Ready. Never more than
`replicas` VMs exist, and only the VM the admin deleted is ever missing.
"""

from __future__ import annotations

from collections.abc import Callable
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
    delete_vm_out_of_band,
    get_pool,
    list_requests,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"
REPLICAS = 2
PASSES_AWAITING = 3

Vms = list[dict[str, Any]]
Pool = dict[str, Any]


def _versions(vms: Vms) -> list[str]:
    return sorted(vm["exactVersion"] for vm in vms)


def _ready(vms: Vms, pool: Pool) -> bool:
    return current(pool) and (condition(pool, "Ready") or {}).get("status") == "True"


def test_on_delete_changes_only_the_vms_an_admin_deletes(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    manifest = pool_manifest("web", account, emulator, replicas=REPLICAS)
    manifest["spec"]["strategy"] = {"type": "OnDelete"}
    manifest["spec"]["image"]["marketplace"]["version"] = OLD
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    old = {vm["name"] for vm in emulator.vms(namespace)}
    # The admin's deletions take one VM down at a time; vmroll adds no disruption of its own.
    bounds = RolloutBounds(emulator, namespace, REPLICAS, surge=0, unavailable=1)

    def until(what: str, done: Callable[[Vms, Pool], bool]) -> tuple[Vms, Pool]:
        def probe() -> tuple[Vms, Pool] | None:
            vms, pool = bounds.poll(), get_pool(kubectl, namespace, "web")
            return (vms, pool) if done(vms, pool) else None

        def describe() -> str:
            status = get_pool(kubectl, namespace, "web").get("status")
            return f"status: {status}\nVMs: {emulator.vms(namespace)}\n{operator.output()}"

        return wait_for(what, probe, timeout=90, describe=describe)

    def awaiting(updated: int) -> Callable[[Vms, Pool], bool]:
        def done(vms: Vms, pool: Pool) -> bool:
            status = pool.get("status", {})
            reconciling = condition(pool, "Reconciling") or {}
            return (
                current(pool)
                and reconciling.get("reason") == "AwaitingDeletion"
                and status.get("updatedReplicas") == updated
                and _versions(vms) == sorted([OLD] * (REPLICAS - updated) + [NEW] * updated)
                and all(vm["provisioningState"] == "Succeeded" for vm in vms)
            )

        return done

    manifest["spec"]["image"]["marketplace"]["version"] = NEW
    apply(kubectl, namespace, manifest)
    _, pool = until("the pool to await deletion", awaiting(updated=0))
    status = pool["status"]
    assert status["updateRevision"] != status["currentRevision"]
    assert set(status["upNext"]) == old
    assert (condition(pool, "Ready") or {}).get("status") == "False"
    passes_before = list_requests(emulator)

    def unchanged(vms: Vms, pool: Pool) -> bool:
        assert {(vm["name"], vm["exactVersion"]) for vm in vms} == {(n, OLD) for n in old}, vms
        assert pool["status"]["updatedReplicas"] == 0, pool["status"]
        return list_requests(emulator) >= passes_before + PASSES_AWAITING

    until(f"{PASSES_AWAITING} operator passes awaiting deletion", unchanged)

    first, second = sorted(old)
    delete_vm_out_of_band(emulator, manifest["spec"]["resourceGroup"], first)
    _, pool = until("the deleted VM to come back on the new version", awaiting(updated=1))
    assert pool["status"]["upNext"] == [second]
    assert [vm["name"] for vm in emulator.vms(namespace) if vm["exactVersion"] == OLD] == [second]

    delete_vm_out_of_band(emulator, manifest["spec"]["resourceGroup"], second)
    _, pool = until("the pool to be Ready", _ready)
    assert _versions(emulator.vms(namespace)) == [NEW] * REPLICAS
    assert pool["status"]["updatedReplicas"] == REPLICAS
    assert pool["status"]["currentRevision"] == pool["status"]["updateRevision"]
