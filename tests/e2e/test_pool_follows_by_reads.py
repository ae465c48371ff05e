"""A pool in a resource group of 1,000 other VMs: the group's lists at work are 6 s apart (20
pages, plan/list_pacing.py), so the pool at work follows its writes by name (reconcile/
following.py), each accepted write's answer standing for the GET that would follow it. Rolled
while ARM loses answers to its writes, or with the operator killed mid-rollout, it makes no VM
twice, never exceeds replicas + maxSurge VMs, touches none of the others, and ends Ready on the
new version.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    RolloutBounds,
    apply,
    fast_catalog_data,
    pool_manifest,
    start_vms_out_of_band,
    wait_condition,
)
from test_pool_lost_responses import VM_WRITES, lost_responses, peak_of, ubuntu, wait_rolled

from vmroll.plan.list_pacing import AT_WORK, list_period, pages
from vmroll.plan.ownership import POOL_UID_TAG
from vmroll.reconcile.following import follows_by_reads

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"
REPLICAS = 3
OTHERS = 1000
"""20 pages of 50: the group's lists at work spend 2/3 of Compute's High-cost refill 6 s apart,
above following.FOLLOW_BY_READS_AFTER."""
OTHERS_TAGS = {"team": "others"}


@pytest.fixture
def emulator_catalog() -> dict[str, Any]:
    """Quotas that fit the others, and ARM's writes bucket large enough to create them at once."""
    data = fast_catalog_data()
    for subscription in data["subscriptions"]:
        quota = subscription["quotas"]["westeurope"]
        quota["totalRegionalCores"] = 2 * (OTHERS + 2 * REPLICAS)
        quota["families"]["standardDSv5Family"] = 2 * (OTHERS + 2 * REPLICAS)
    data["throttling"]["writes"]["capacity"] = OTHERS + 200
    return data


def _crowd(emulator: EmulatorProcess) -> None:
    group = emulator.credentials["resourceGroup"]
    start_vms_out_of_band(emulator, group, [f"other-{i}" for i in range(OTHERS)], OTHERS_TAGS)
    wait_for("the others created", lambda: True if all(
        vm["provisioningState"] == "Succeeded" for vm in emulator.all_vms()
    ) else None, timeout=120)  # fmt: skip


def _requests(emulator: EmulatorProcess, operation: str, status: str) -> int:
    operations = emulator.admin("GET", "requests")["operations"]
    return int(operations.get(operation, {}).get("byStatus", {}).get(status, 0))


@pytest.mark.parametrize("adversity", ["lost-responses", "operator-killed"])
def test_a_pool_in_a_crowded_group_follows_its_writes_by_name_and_rolls_within_bounds(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    operator: Operator,
    adversity: str,
) -> None:
    _crowd(emulator)
    manifest = pool_manifest("web", account, emulator, replicas=REPLICAS, image=ubuntu(OLD))
    manifest["spec"]["strategy"] = {
        "type": "RollingReplace", "rollingUpdate": {"maxSurge": REPLICAS, "maxUnavailable": 0}
    }  # fmt: skip
    apply(kubectl, namespace, manifest)
    ready = wait_condition(kubectl, namespace, "web", "Ready", operator, timeout=180)
    uid = ready["metadata"]["uid"]
    assert len(emulator.vms(namespace)) == REPLICAS

    if adversity == "lost-responses":
        lost_responses(emulator)
    manifest["spec"]["image"] = ubuntu(NEW)
    bounds = RolloutBounds(emulator, namespace, REPLICAS, REPLICAS, 0)
    apply(kubectl, namespace, manifest)
    if adversity == "operator-killed":
        wait_for("a VM on the new version", lambda: True if any(
            vm["exactVersion"] == NEW for vm in bounds.poll()
        ) else None, timeout=120, describe=operator.output)  # fmt: skip
        operator.kill()
        operator.start()

    wait_rolled(kubectl, namespace, emulator, operator, bounds, NEW)

    vms = emulator.vms(namespace)
    others = [vm for vm in emulator.all_vms() if vm["tags"] == OTHERS_TAGS]
    assert peak_of(emulator, uid) <= 2 * REPLICAS
    assert len(vms) == REPLICAS
    assert all(vm["provisioningState"] == "Succeeded" for vm in vms)
    assert {vm["tags"][POOL_UID_TAG] for vm in vms} == {uid}
    assert len(others) == OTHERS
    assert all(vm["provisioningState"] == "Succeeded" for vm in others)
    if adversity == "lost-responses":
        assert sum(_requests(emulator, op, "0") for op in VM_WRITES) > 0


def test_the_crowd_makes_the_pool_follow_its_writes_by_name() -> None:
    """What the scenarios above rely on, by the operator's own rule: with the bucket full (a
    lower remainder spaces lists further), the crowded group's lists at work are far enough
    apart for its pools at work to follow their writes by name."""
    period = list_period(pages(OTHERS + REPLICAS), AT_WORK)
    assert follows_by_reads(period)
