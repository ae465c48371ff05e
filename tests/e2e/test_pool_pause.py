"""Pause stops a rollout midway; resume finishes it.

A pinned version bump starts a RollingReplace rollout of four VMs. Once the first old VM has
gone, `spec.strategy.paused` is set. When the pool says Paused and the operations started
before have ended, the old VMs left are watched over several operator passes: none is deleted
or reimaged, `RolloutPaused` is True and `status.upNext` names them. Unpaused, the rollout
finishes. The surge and unavailability bounds are checked against the emulator at every poll
throughout.
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
    available_in_emulator,
    condition,
    current,
    get_pool,
    list_requests,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"
REPLICAS, SURGE, UNAVAILABLE = 4, 1, 0
PASSES_WHILE_PAUSED = 3

Vms = list[dict[str, Any]]
Pool = dict[str, Any]


def _staying_old(vms: Vms) -> Vms:
    """VMs on the old version that no delete has started on."""
    return [vm for vm in vms if vm["exactVersion"] == OLD and vm["provisioningState"] != "Deleting"]


def test_pause_stops_a_rollout_midway_and_resume_finishes_it(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    manifest = pool_manifest("web", account, emulator, replicas=REPLICAS)
    manifest["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": SURGE, "maxUnavailable": 0}
    manifest["spec"]["image"]["marketplace"]["version"] = OLD
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    bounds = RolloutBounds(emulator, namespace, REPLICAS, SURGE, UNAVAILABLE)

    def until(what: str, done: Callable[[Vms, Pool], bool]) -> tuple[Vms, Pool]:
        def probe() -> tuple[Vms, Pool] | None:
            vms, pool = bounds.poll(), get_pool(kubectl, namespace, "web")
            return (vms, pool) if done(vms, pool) else None

        def describe() -> str:
            status = get_pool(kubectl, namespace, "web").get("status")
            return f"status: {status}\nVMs: {emulator.vms(namespace)}\n{operator.output()}"

        return wait_for(what, probe, timeout=90, describe=describe)

    manifest["spec"]["image"]["marketplace"]["version"] = NEW
    apply(kubectl, namespace, manifest)
    until("the first old VM to go", lambda vms, _: len(_staying_old(vms)) < REPLICAS)
    manifest["spec"]["strategy"]["paused"] = True
    apply(kubectl, namespace, manifest)

    def paused_and_quiet(vms: Vms, pool: Pool) -> bool:
        reconciling = condition(pool, "Reconciling") or {}
        old = {vm["name"] for vm in vms if vm["exactVersion"] == OLD}
        return (
            current(pool)
            and reconciling.get("reason") == "Paused"
            and all(vm["provisioningState"] == "Succeeded" for vm in vms)
            and set(pool["status"].get("upNext", [])) == old
        )

    vms, pool = until("the pool to say Paused with no operation running", paused_and_quiet)
    waiting = {vm["name"] for vm in vms if vm["exactVersion"] == OLD}
    assert 0 < len(waiting) < REPLICAS, "paused before or after the rollout, not midway"
    assert pool["status"]["updatedReplicas"] < REPLICAS
    assert (condition(pool, "Ready") or {}).get("status") == "False"
    passes_before = list_requests(emulator)

    def held(vms: Vms, pool: Pool) -> bool:
        still_old = {vm["name"] for vm in vms if vm["exactVersion"] == OLD}
        assert still_old == waiting, f"an old VM changed while paused: {vms}"
        assert all(available_in_emulator(vm) for vm in vms if vm["name"] in waiting), vms
        assert (condition(pool, "Reconciling") or {}).get("reason") == "Paused", pool["status"]
        assert (condition(pool, "RolloutPaused") or {}).get("status") == "True", pool["status"]
        assert set(pool["status"].get("upNext", [])) == waiting, pool["status"]
        return list_requests(emulator) >= passes_before + PASSES_WHILE_PAUSED

    until(f"{PASSES_WHILE_PAUSED} operator passes while paused", held)

    manifest["spec"]["strategy"]["paused"] = False
    apply(kubectl, namespace, manifest)

    def finished(vms: Vms, pool: Pool) -> bool:
        ready = condition(pool, "Ready") or {}
        return (
            current(pool)
            and ready.get("status") == "True"
            and len(vms) == REPLICAS
            and all(vm["exactVersion"] == NEW for vm in vms)
        )

    _, pool = until("the resumed rollout to finish", finished)
    assert pool["status"]["updatedReplicas"] == REPLICAS
    assert pool["status"].get("upNext", []) == []
    assert condition(pool, "RolloutPaused") is None
