"""A pinned version bump rolls every VM to the new version, within the surge and
unavailability bounds.

RollingReplace creates new VMs before deleting old ones (never more than replicas + maxSurge
VMs); RollingReimage keeps every VM and moves it in place (never fewer than replicas -
maxUnavailable available). Both bounds are checked against the emulator at every poll.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    BY_CREDENTIAL,
    EmulatorProcess,
    Operator,
    RolloutBounds,
    apply,
    current,
    get_pool,
    pool_manifest,
    wait_condition,
)

pytestmark = [pytest.mark.e2e, BY_CREDENTIAL]
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"
REPLICAS = 3


def _ubuntu(version: str) -> dict[str, Any]:
    return {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                            "sku": "server", "version": version}}  # fmt: skip


@pytest.mark.parametrize(
    ("strategy", "surge", "unavailable"),
    [("RollingReplace", 1, 0), ("RollingReimage", 0, 1)],
)
def test_a_pinned_version_bump_rolls_every_vm(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    operator: Operator,
    strategy: str,
    surge: int,
    unavailable: int,
) -> None:
    manifest = pool_manifest("web", account, emulator, replicas=REPLICAS, image=_ubuntu(OLD))
    manifest["spec"]["strategy"] = {
        "type": strategy, "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}
    }  # fmt: skip
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    before = {vm["name"] for vm in emulator.vms(namespace)}

    manifest["spec"]["image"] = _ubuntu(NEW)
    bounds = RolloutBounds(emulator, namespace, REPLICAS, surge, unavailable)
    apply(kubectl, namespace, manifest)

    def rolled() -> bool | None:
        vms = bounds.poll()
        pool = get_pool(kubectl, namespace, "web")
        ready = next((c for c in pool["status"]["conditions"] if c["type"] == "Ready"), None)
        done = current(pool) and ready is not None and ready["status"] == "True"
        return True if done and all(vm["exactVersion"] == NEW for vm in vms) else None

    wait_for("the rollout", rolled, timeout=120, describe=operator.output)

    vms = emulator.vms(namespace)
    assert len(vms) == REPLICAS
    assert all(vm["provisioningState"] == "Succeeded" for vm in vms)
    events = kubectl.json("get", "events", "-n", namespace)["items"]
    counted = {r: sum(e.get("count", 1) for e in events if e["reason"] == r)
               for r in ("Created", "Deleted", "Reimaged")}  # fmt: skip
    if strategy == "RollingReimage":
        assert {vm["name"] for vm in vms} == before
        assert counted == {"Created": REPLICAS, "Deleted": 0, "Reimaged": REPLICAS}
    else:
        assert counted == {"Created": 2 * REPLICAS, "Deleted": REPLICAS, "Reimaged": 0}
    pool = get_pool(kubectl, namespace, "web")
    assert pool["status"]["updatedReplicas"] == REPLICAS
    assert pool["status"]["history"][0]["imageVersion"] == NEW
    assert pool["status"]["history"][0]["outcome"] == "Succeeded"
