"""An operator SIGKILLed while it creates VMs, then restarted, converges on exactly N VMs.

Killed at three points: with creates recorded in status and their requests held in flight by
the emulator (they never reach Azure); with VMs accepted and still Creating; and with some VMs
done while others are still held in flight. After the restart the pool is Ready with exactly
`replicas` VMs, every VM in the resource group is one the pool's status lists, and nothing is
left recorded as pending. Killed mid-rollout, the restarted operator finishes the rollout
without ever exceeding replicas + maxSurge VMs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    get_pool,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

REPLICAS = 4
CREATE = "VirtualMachines_CreateOrUpdate"


def _hold_creates(emulator: EmulatorProcess, seconds: float, count: int | None) -> None:
    rule: dict[str, Any] = {"operation": CREATE, "kind": "latency", "latencySeconds": seconds}
    if count is not None:
        rule["remaining"] = count
    emulator.admin("PUT", "faults", {"rules": [rule]})


def _recorded(kubectl: Kubectl, namespace: str, emulator: EmulatorProcess) -> bool:
    status = get_pool(kubectl, namespace, "web").get("status", {})
    return bool(status.get("pendingOperations"))


def _creating(kubectl: Kubectl, namespace: str, emulator: EmulatorProcess) -> bool:
    return any(vm["provisioningState"] == "Creating" for vm in emulator.vms(namespace))


def _some_done(kubectl: Kubectl, namespace: str, emulator: EmulatorProcess) -> bool:
    return any(vm["provisioningState"] == "Succeeded" for vm in emulator.vms(namespace))


Point = Callable[[Kubectl, str, EmulatorProcess], bool]
POINTS: dict[str, tuple[Point, float | None, int | None]] = {
    "requests-in-flight": (_recorded, 5.0, None),
    "vms-creating": (_creating, None, None),
    "some-vms-done": (_some_done, 5.0, 2),
}


@pytest.mark.parametrize(("point", "hold", "held"), POINTS.values(), ids=POINTS.keys())
def test_operator_killed_during_creation_converges_on_exactly_n_vms(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    operator: Operator,
    point: Point,
    hold: float | None,
    held: int | None,
) -> None:
    if hold is not None:
        _hold_creates(emulator, hold, held)
    apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=REPLICAS))
    wait_for(
        "the kill point", lambda: True if point(kubectl, namespace, emulator) else None,
        timeout=60, describe=operator.output,
    )  # fmt: skip
    operator.kill()
    emulator.admin("PUT", "faults", {"rules": []})

    operator.start()
    pool = wait_condition(kubectl, namespace, "web", "Ready", operator)

    vms = emulator.vms(namespace)
    assert len(vms) == REPLICAS, vms
    assert {vm["name"] for vm in emulator.all_vms()} == {vm["name"] for vm in vms}
    assert all(vm["tags"]["vmroll.io_pool-uid"] == pool["metadata"]["uid"] for vm in vms)
    assert {i["name"] for i in pool["status"]["instances"]} == {vm["name"] for vm in vms}
    assert pool["status"].get("pendingOperations", []) == []


def test_operator_killed_mid_rollout_converges_within_the_surge_bound(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    old, new = "24.04.202609160", "24.04.202610220"
    manifest = pool_manifest("web", account, emulator, replicas=3)
    manifest["spec"]["image"]["marketplace"]["version"] = old
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    manifest["spec"]["image"]["marketplace"]["version"] = new
    apply(kubectl, namespace, manifest)
    most = 0

    def count_until(done: Callable[[list[dict[str, Any]]], bool]) -> bool | None:
        nonlocal most
        vms = emulator.vms(namespace)
        most = max(most, len(vms))
        return True if done(vms) else None

    wait_for("a VM on the new version", lambda: count_until(
        lambda vms: any(vm["exactVersion"] == new for vm in vms)
    ), timeout=60, describe=operator.output)  # fmt: skip
    operator.kill()
    operator.start()
    wait_for("every VM on the new version", lambda: count_until(
        lambda vms: len(vms) == 3 and all(vm["exactVersion"] == new for vm in vms)
    ), timeout=120, describe=operator.output)  # fmt: skip
    wait_condition(kubectl, namespace, "web", "Ready", operator)

    assert most <= 3 + 1
