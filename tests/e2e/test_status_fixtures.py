"""The status objects that Argo CD's and Flux's health checks are tested on, reached for real.

Each test drives the operator to one of the moments GitOps tools must judge (Ready; a spec
change not yet observed; rolling; paused; Stalled for each reason a human must act on; being
deleted; an AzureAccount Ready and not) and captures the object there (see status_capture.py:
`make status-fixtures` rewrites tests/fixtures/status/, a plain run checks them against the
operator's behaviour). Emulator latency faults hold the pool in a moment long enough to see it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    account_manifest,
    apply,
    condition,
    current,
    get_pool,
    pool_manifest,
    wait_condition,
)
from status_capture import capture

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

OLD, NEW, BAD = "24.04.202609160", "24.04.202610220", "24.04.202612020"
NEWEST_UBUNTU = "24.04.202611100"
"""Offered in westeurope only."""
DEADLINE_SECONDS = 60
"""The smallest progressDeadlineSeconds the API allows."""
POOL = "VirtualMachinePool"


def _hold(emulator: EmulatorProcess, operation: str, seconds: float) -> None:
    rule = {"operation": operation, "kind": "latency", "latencySeconds": seconds}
    emulator.admin("PUT", "faults", {"rules": [rule]})


def _pinned(account: str, emulator: EmulatorProcess, version: str, **kwargs: Any) -> dict[str, Any]:
    manifest = pool_manifest("web", account, emulator, **kwargs)
    manifest["spec"]["image"]["marketplace"]["version"] = version
    return manifest


def _reconciling(
    kubectl: Kubectl, namespace: str, name: str, operator: Operator, reason: str
) -> dict[str, Any]:
    return wait_condition(kubectl, namespace, name, "Reconciling", operator, reason=reason)


def test_ready_unobserved_rolling_and_paused(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    manifest = _pinned(account, emulator, OLD, replicas=3)
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    capture(kubectl, "vmpool", "web", "ready", namespace)

    operator.stop()
    manifest["spec"]["image"]["marketplace"]["version"] = NEW
    apply(kubectl, namespace, manifest)
    unobserved = capture(kubectl, "vmpool", "web", "spec-change-not-observed", namespace)
    assert unobserved["status"]["observedGeneration"] < unobserved["metadata"]["generation"]

    _hold(emulator, "VirtualMachines_CreateOrUpdate", 5)
    operator.start()
    _reconciling(kubectl, namespace, "web", operator, "RollingOut")
    capture(kubectl, "vmpool", "web", "rolling", namespace)

    manifest["spec"]["strategy"]["paused"] = True
    apply(kubectl, namespace, manifest)
    pool = _reconciling(kubectl, namespace, "web", operator, "Paused")
    assert (condition(pool, "RolloutPaused") or {}).get("status") == "True"
    assert pool["status"]["updatedReplicas"] < 3
    capture(kubectl, "vmpool", "web", "paused", namespace)


def test_stalled_for_each_reason_a_human_must_act_on(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    emulator.admin("POST", "images/marketplace/versions", {
        "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
        "version": BAD, "locations": ["westeurope"], "bootsUnhealthy": True,
    })  # fmt: skip
    unavailable = _pinned(account, emulator, NEWEST_UBUNTU, replicas=1, location="eastus")
    unavailable["metadata"]["name"] = "image-not-available"
    denied = pool_manifest("access-denied", account, emulator, replicas=1,
                           resource_group="rg-elsewhere")  # fmt: skip
    failing: dict[str, dict[str, Any]] = {}
    for name, on_failure in (("rolled-back", True), ("deadline-exceeded", False)):
        failing[name] = _pinned(account, emulator, OLD, replicas=1)
        failing[name]["metadata"]["name"] = name
        strategy = failing[name]["spec"]["strategy"]
        strategy["progressDeadlineSeconds"] = DEADLINE_SECONDS
        strategy["rollback"] = {"onFailure": on_failure, "maxUnhealthyPercent": 0}
    for manifest in (unavailable, denied, *failing.values()):
        apply(kubectl, namespace, manifest)
    for name, manifest in failing.items():
        wait_condition(kubectl, namespace, name, "Ready", operator)
        manifest["spec"]["image"]["marketplace"]["version"] = BAD
        apply(kubectl, namespace, manifest)

    for name, reason, fixture in (
        ("image-not-available", "ImageNotAvailable", "stalled-image-not-available"),
        ("access-denied", "AccessDenied", "stalled-access-denied"),
        ("rolled-back", "RolledBack", "stalled-rolled-back"),
        ("deadline-exceeded", "ProgressDeadlineExceeded", "stalled-progress-deadline-exceeded"),
    ):
        pool = wait_condition(
            kubectl, namespace, name, "Stalled", operator, reason=reason,
            timeout=DEADLINE_SECONDS + 90,
        )  # fmt: skip
        assert condition(pool, "Reconciling") is None
        capture(kubectl, "vmpool", name, fixture, namespace)


def test_being_deleted(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    apply(kubectl, namespace, _pinned(account, emulator, OLD, replicas=2))
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    _hold(emulator, "VirtualMachines_Delete", 5)

    kubectl("delete", "-n", namespace, "vmpool", "web", "--wait=false")

    pool = _reconciling(kubectl, namespace, "web", operator, "Deleting")
    assert "deletionTimestamp" in pool["metadata"]
    capture(kubectl, "vmpool", "web", "deleting", namespace)


def test_account_ready_and_not(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    def settled(name: str) -> dict[str, Any] | None:
        found = kubectl.json("get", "azureaccount", name)
        return found if current(found) and condition(found, "Ready") else None

    wait_for("the account to be checked", lambda: settled(account), timeout=90,
             describe=operator.output)  # fmt: skip
    capture(kubectl, "azureaccount", account, "ready")

    broken = account_manifest(f"nosecret-{namespace}", emulator, namespace, [namespace])
    broken["spec"]["auth"]["clientSecret"]["secretRef"]["name"] = "missing"
    kubectl("apply", "-f", "-", input=json.dumps(broken))
    try:
        name = broken["metadata"]["name"]
        found = wait_for("the broken account to be checked", lambda: settled(name), timeout=90,
                         describe=operator.output)  # fmt: skip
        ready = condition(found, "Ready") or {}
        assert (ready.get("status"), ready.get("reason")) == ("False", "CredentialsNotFound")
        capture(kubectl, "azureaccount", name, "not-ready")
    finally:
        kubectl("delete", "azureaccount", broken["metadata"]["name"], "--ignore-not-found")


def test_a_new_pool_says_reconciling_before_its_first_vms_are_requested(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    """Without conditions or observedGeneration, kstatus (Flux's `wait`) takes a pool for
    Current: the first status vmroll writes must already say Reconciling."""
    _hold(emulator, "VirtualMachines_CreateOrUpdate", 5)
    apply(kubectl, namespace, _pinned(account, emulator, OLD, replicas=2))

    def pool_once(requested: bool) -> Callable[[], dict[str, Any] | None]:
        def probe() -> dict[str, Any] | None:
            pool = get_pool(kubectl, namespace, "web")
            status = pool.get("status") or {}
            return pool if (status.get("pendingOperations") if requested else status) else None

        return probe

    pool = wait_for("the pool's first status", pool_once(requested=False), timeout=60,
                    describe=operator.output)  # fmt: skip
    assert current(pool), pool["status"]
    assert (condition(pool, "Reconciling") or {}).get("status") == "True", pool["status"]
    wait_for("the first VMs to be requested", pool_once(requested=True), timeout=60,
             describe=operator.output)  # fmt: skip
    capture(kubectl, "vmpool", "web", "creating", namespace)
