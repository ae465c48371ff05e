"""A version that boots unhealthy is rolled back: the pool returns to its previous revision, at
that revision's own image version whatever the spec or `latest` says now, says so once
(`Stalled` reason `RolledBack` naming the bad version, one event, a truthful history entry), and
then writes nothing more, to Azure or to its status, while the spec stays the same. A VM whose
provisioning Azure failed for its own reason (an internal error) is replaced, not held against the
version."""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    condition,
    get_pool,
    pool_manifest,
    publish_marketplace_version,
    vm_writes,
    wait_condition,
    warnings,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

GOOD, BAD = "24.04.202611100", "24.04.202612020"
OLDER = "24.04.202610220"
"""A version before GOOD in the test catalog."""
"""The newest marketplace version of the test catalog, and one published to boot unhealthy."""
GALLERY_GOOD, GALLERY_BAD = "1.1.0", "1.2.0"
"""Gallery ubuntu-web versions of the built-in catalog; 1.2.0 boots unhealthy."""
DEADLINE_SECONDS = 60
"""The smallest progressDeadlineSeconds the API allows."""
QUIET_SECONDS = 20
"""How long a rolled-back pool is watched for writes: ten resync intervals of the test operator."""
REIMAGE = {"type": "RollingReimage", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


def _rolling_back(manifest: dict[str, Any], strategy: dict[str, Any] | None = None) -> None:
    manifest["spec"]["strategy"].update(strategy or {})
    manifest["spec"]["strategy"]["progressDeadlineSeconds"] = DEADLINE_SECONDS
    manifest["spec"]["strategy"]["rollback"] = {"onFailure": True, "maxUnhealthyPercent": 0}


def _assert_rolled_back(
    kubectl: Kubectl, namespace: str, emulator: EmulatorProcess, operator: Operator,
    *, good: str, bad: str, replicas: int,
) -> dict[str, Any]:  # fmt: skip
    pool = wait_condition(
        kubectl, namespace, "web", "Stalled", operator, reason="RolledBack",
        timeout=DEADLINE_SECONDS + 150,
    )  # fmt: skip
    # VMs that boot unhealthy are the ones whose instance view each pass reads: paced by
    # Azure's per-VM Low Cost Get bucket (plan/read_pacing.py), the reads are never throttled.
    throttled = emulator.admin("GET", "requests")["throttledByPolicy"]
    assert "Microsoft.Compute/LowCostGet" not in throttled, throttled
    vms = emulator.vms(namespace)
    assert len(vms) == replicas
    assert {vm["exactVersion"] for vm in vms} == {good}
    assert all(vm["healthy"] for vm in vms)
    status = pool["status"]
    assert {i["imageVersion"] for i in status["instances"]} == {good}
    assert {i["revision"] for i in status["instances"]} == {status["currentRevision"]}
    history = status["history"]
    assert (history[0]["revision"], history[0]["imageVersion"], history[0]["outcome"]) == (
        status["currentRevision"],
        good,
        "Succeeded",
    )
    assert (history[1]["imageVersion"], history[1]["outcome"]) == (bad, "RolledBack")
    assert status["image"]["resolvedVersion"] == good
    stalled = condition(pool, "Stalled")
    assert stalled is not None
    assert bad in stalled["message"]
    image = condition(pool, "ImageResolved")
    assert image is not None
    assert bad in image["message"]
    assert good in image["message"]
    return pool


def _assert_quiet(
    kubectl: Kubectl, namespace: str, emulator: EmulatorProcess, pool: dict[str, Any]
) -> None:
    """No VM write, no status write and no second event while the spec stays the same."""
    writes = vm_writes(emulator)
    time.sleep(QUIET_SECONDS)
    after = get_pool(kubectl, namespace, "web")
    assert vm_writes(emulator) == writes
    assert after["metadata"]["resourceVersion"] == pool["metadata"]["resourceVersion"]
    assert warnings(kubectl, namespace, "RolledBack") == 1


def test_an_unhealthy_version_is_rolled_back(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    publish_marketplace_version(emulator, BAD, boots_unhealthy=True)
    manifest = pool_manifest("web", account, emulator, replicas=2)
    manifest["spec"]["image"]["marketplace"]["version"] = GOOD
    _rolling_back(manifest)
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)

    manifest["spec"]["image"]["marketplace"]["version"] = BAD
    apply(kubectl, namespace, manifest)

    pool = _assert_rolled_back(kubectl, namespace, emulator, operator, good=GOOD, bad=BAD,
                               replicas=2)  # fmt: skip
    _assert_quiet(kubectl, namespace, emulator, pool)


def test_a_pinned_gallery_version_reimaged_pool_rolls_back_to_the_previous_version(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    gallery = {"gallery": {"imageId": emulator.gallery_image(), "version": GALLERY_GOOD}}
    manifest = pool_manifest("web", account, emulator, replicas=2, image=gallery)
    _rolling_back(manifest, REIMAGE)
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)

    manifest["spec"]["image"]["gallery"]["version"] = GALLERY_BAD
    apply(kubectl, namespace, manifest)

    pool = _assert_rolled_back(kubectl, namespace, emulator, operator, good=GALLERY_GOOD,
                               bad=GALLERY_BAD, replicas=2)  # fmt: skip
    _assert_quiet(kubectl, namespace, emulator, pool)


def test_a_reimaged_pool_following_latest_rolls_back_from_a_bad_published_version(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    manifest = pool_manifest("web", account, emulator, replicas=2)
    manifest["spec"]["updatePolicy"] = {"track": "Latest", "checkInterval": "1m"}
    _rolling_back(manifest, REIMAGE)
    apply(kubectl, namespace, manifest)
    ready = wait_condition(kubectl, namespace, "web", "Ready", operator)
    assert ready["status"]["image"]["resolvedVersion"] == GOOD

    publish_marketplace_version(emulator, BAD, boots_unhealthy=True)

    pool = _assert_rolled_back(kubectl, namespace, emulator, operator, good=GOOD, bad=BAD,
                               replicas=2)  # fmt: skip
    assert pool["status"]["image"]["latestAvailable"] == BAD
    _assert_quiet(kubectl, namespace, emulator, pool)


def test_an_unhealthy_share_rolls_back_after_the_health_grace_not_at_the_deadline(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    """With an hour's deadline, only the unhealthy share past a 5 s grace can end the rollout."""
    publish_marketplace_version(emulator, BAD, boots_unhealthy=True)
    manifest = pool_manifest("web", account, emulator, replicas=2)
    manifest["spec"]["image"]["marketplace"]["version"] = GOOD
    _rolling_back(manifest, REIMAGE)
    manifest["spec"]["strategy"]["progressDeadlineSeconds"] = 3600
    manifest["spec"]["strategy"]["rollback"]["healthGraceSeconds"] = 5
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)

    manifest["spec"]["image"]["marketplace"]["version"] = BAD
    apply(kubectl, namespace, manifest)

    _assert_rolled_back(kubectl, namespace, emulator, operator, good=GOOD, bad=BAD, replicas=2)


def test_an_operator_restart_does_not_restart_the_progress_deadline(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    """The operator is down for longer than the deadline while the bad VM fails: back, it rolls
    back at once. With the clock restarted it could not before a new deadline had passed,
    longer than the wait allows."""
    gallery = {"gallery": {"imageId": emulator.gallery_image(), "version": GALLERY_GOOD}}
    manifest = pool_manifest("web", account, emulator, replicas=2, image=gallery)
    _rolling_back(manifest, REIMAGE)
    manifest["spec"]["strategy"]["rollback"]["healthGraceSeconds"] = 3600
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    manifest["spec"]["image"]["gallery"]["version"] = GALLERY_BAD
    apply(kubectl, namespace, manifest)

    def clock_recorded() -> bool | None:
        status = get_pool(kubectl, namespace, "web").get("status", {})
        bad_vm = any(vm["exactVersion"] == GALLERY_BAD for vm in emulator.vms(namespace))
        running = (status.get("progress") or {}).get("revision") == status.get("updateRevision")
        return True if bad_vm and running and not status.get("pendingOperations") else None

    wait_for("the bad VM and the progress clock in status", clock_recorded, timeout=60,
             describe=operator.output)  # fmt: skip
    operator.kill()
    time.sleep(DEADLINE_SECONDS + 10)
    operator.start()

    wait_condition(kubectl, namespace, "web", "Stalled", operator, reason="RolledBack",
                   timeout=DEADLINE_SECONDS - 15)  # fmt: skip
    assert {vm["exactVersion"] for vm in emulator.vms(namespace)} == {GALLERY_GOOD}


def test_a_vm_azure_fails_to_create_for_its_own_reason_is_replaced_not_rolled_back(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    """The first create of the rollout ends `InternalExecutionError`, an error of Azure's: even
    with no unhealthy VM allowed, the failed VM is replaced and the rollout completes."""
    manifest = pool_manifest("web", account, emulator, replicas=2)
    manifest["spec"]["image"]["marketplace"]["version"] = OLDER
    _rolling_back(manifest)
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    emulator.admin("PUT", "faults", {"rules": [{
        "operation": "VirtualMachines_CreateOrUpdate", "kind": "lroFailed",
        "code": "InternalExecutionError", "remaining": 1,
    }]})  # fmt: skip

    manifest["spec"]["image"]["marketplace"]["version"] = GOOD
    apply(kubectl, namespace, manifest)

    def rolled() -> dict[str, Any] | None:
        pool = get_pool(kubectl, namespace, "web")
        ready = condition(pool, "Ready")
        done = ready is not None and ready["status"] == "True"
        on_good = {vm["exactVersion"] for vm in emulator.vms(namespace)} == {GOOD}
        return pool if done and on_good and pool["status"]["observedGeneration"] == 2 else None

    pool = wait_for("the rollout past Azure's failed create", rolled, timeout=180)
    assert emulator.admin("GET", "faults")["injected"] == 1
    history = pool["status"]["history"]
    assert [(h["imageVersion"], h["outcome"]) for h in history] == [
        (GOOD, "Succeeded"), (OLDER, "Succeeded"),
    ]  # fmt: skip
    assert warnings(kubectl, namespace, "RolledBack") == 0
    assert len(emulator.vms(namespace)) == 2
