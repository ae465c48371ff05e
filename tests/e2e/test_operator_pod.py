"""vmroll installed with its Helm chart and run as a pod on the local node, as users run it
(release_fixtures.py says how). The scenario: the pod becomes Ready, a pool becomes Ready, a
rollout starts, the operator pod is deleted mid-rollout, and the Deployment's new pod finishes
the rollout, with the surge ceiling and the availability floor checked against the emulator at
every poll.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    RolloutBounds,
    apply,
    condition,
    current,
    get_pool,
    pool_manifest,
)
from release_helpers import TIMEOUT_SECONDS, Release

from vmroll import __version__

pytestmark = [pytest.mark.e2e, pytest.mark.node]
pytest_plugins = ("pool_fixtures", "release_fixtures")

OLD, NEW = "24.04.202609160", "24.04.202610220"
REPLICAS = 3
SURGE, UNAVAILABLE = 1, 0


def _ubuntu(version: str) -> dict[str, Any]:
    return {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                            "sku": "server", "version": version}}  # fmt: skip


def _wait_pool(
    kubectl: Kubectl,
    namespace: str,
    describe: Callable[[], str],
    done: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        pool = get_pool(kubectl, namespace, "web")
        return pool if done(pool) else None

    return wait_for("the pool", probe, timeout=TIMEOUT_SECONDS, describe=describe)


def _ready(pool: dict[str, Any]) -> bool:
    ready = condition(pool, "Ready")
    return current(pool) and ready is not None and ready["status"] == "True"


def test_the_operator_pod_runs_a_pool_and_its_replacement_finishes_the_rollout(
    release: Release, emulator: EmulatorProcess
) -> None:
    kubectl = release.kubectl
    release.install()
    first = release.ready_pod()
    assert first["spec"]["serviceAccountName"] == "vmroll"
    assert first["spec"]["hostNetwork"] is True
    (container,) = first["status"]["containerStatuses"]
    assert container["image"] == f"docker.io/vmroll/vmroll:{__version__}"

    account = release.add_account(emulator)
    manifest = pool_manifest("web", account, emulator, replicas=REPLICAS, image=_ubuntu(OLD))
    manifest["spec"]["strategy"] = {
        "type": "RollingReplace",
        "rollingUpdate": {"maxSurge": SURGE, "maxUnavailable": UNAVAILABLE},
    }
    apply(kubectl, release.pools, manifest)
    _wait_pool(kubectl, release.pools, release.describe, _ready)

    bounds = RolloutBounds(emulator, release.pools, REPLICAS, SURGE, UNAVAILABLE)
    manifest["spec"]["image"] = _ubuntu(NEW)
    apply(kubectl, release.pools, manifest)

    def started() -> bool | None:
        vms = bounds.poll()
        return True if any(vm["exactVersion"] == NEW for vm in vms) else None

    wait_for("the rollout's first new VM", started, timeout=TIMEOUT_SECONDS,
             describe=release.describe)  # fmt: skip
    deleted = first["metadata"]["name"]
    kubectl("delete", "pod", "-n", release.namespace, deleted, "--wait=false")

    def deleted_pod_gone() -> list[dict[str, Any]] | None:
        vms = bounds.poll()
        names = {pod["metadata"]["name"] for pod in release.pods()}
        return None if deleted in names else vms

    # The replacement must have had work left: the rollout was not over when the old pod went.
    at_deletion = wait_for("the deleted operator pod to be gone", deleted_pod_gone,
                           timeout=TIMEOUT_SECONDS, describe=release.describe)  # fmt: skip
    assert not all(vm["exactVersion"] == NEW for vm in at_deletion), at_deletion

    def rolled() -> dict[str, Any] | None:
        vms = bounds.poll()
        pool = get_pool(kubectl, release.pools, "web")
        finished = _ready(pool) and all(vm["exactVersion"] == NEW for vm in vms)
        return pool if finished else None

    pool = wait_for("the rollout, finished by the new pod", rolled, timeout=TIMEOUT_SECONDS,
                    describe=release.describe)  # fmt: skip
    replacement = release.ready_pod(other_than=deleted)
    assert replacement["metadata"]["name"] != deleted
    vms = emulator.vms(release.pools)
    assert len(vms) == REPLICAS
    assert all(vm["provisioningState"] == "Succeeded" for vm in vms)
    assert pool["status"]["updatedReplicas"] == REPLICAS
    assert pool["status"]["history"][0]["imageVersion"] == NEW
    assert pool["status"]["history"][0]["outcome"] == "Succeeded"
