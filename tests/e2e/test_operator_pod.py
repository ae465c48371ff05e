"""vmroll installed with its Helm chart and run as a pod on the local node, as users run it.

The operator image (`dist/vmroll-<version>.oci.tar`, built or taken from the cache) is imported
into the node's containerd; `helm install` deploys the chart with it. The pod runs with the
chart's ServiceAccount token, so every API call of the scenario goes through the RBAC the chart
grants. It reaches the apiserver and the emulator on 127.0.0.1 with host networking (the local
apiserver advertises 127.0.0.1, so the `kubernetes` Service has no endpoint a pod network could
use). The scenario: the pod becomes Ready, a pool becomes Ready, a rollout starts, the operator
pod is deleted mid-rollout, and the Deployment's new pod finishes the rollout, with the surge
ceiling and the availability floor checked against the emulator at every poll.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_helpers import CHART
from e2e_harness import Kubectl, wait_for
from node_fixtures import NodeCluster
from pool_helpers import (
    EmulatorProcess,
    RolloutBounds,
    account_manifest,
    apply,
    condition,
    current,
    get_pool,
    pool_manifest,
)

from vmroll import __version__
from vmroll.devcluster.ports import free_port
from vmroll.imagebuild.build import build_image

pytestmark = [pytest.mark.e2e, pytest.mark.node]
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"
REPLICAS = 3
SURGE, UNAVAILABLE = 1, 0
TIMEOUT_SECONDS = 300.0


def _ubuntu(version: str) -> dict[str, Any]:
    return {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                            "sku": "server", "version": version}}  # fmt: skip


@pytest.fixture(scope="session")
def operator_image() -> Path:
    """The image archive `make image` writes, from the image cache when nothing changed."""
    return build_image().archive


class Release:
    """The chart installed in its own namespace, watching one namespace of pools."""

    def __init__(self, node_cluster: NodeCluster, helm: Path, work: Path) -> None:
        suffix = secrets.token_hex(3)
        self.kubectl = node_cluster.kubectl
        self.kubeconfig = node_cluster.cluster.kubeconfig
        self.helm = helm
        self.work = work
        self.name = f"vmroll-{suffix}"
        self.namespace = f"e2e-vmroll-system-{suffix}"
        self.pools = f"e2e-operator-pod-{suffix}"
        self.apiserver_port = node_cluster.control_plane.ports.apiserver

    def values(self) -> dict[str, Any]:
        # Host networking shares the host's ports: free ones, not the chart's 8080/8081.
        return {
            "hostNetwork": True,
            # The emulator is a custom endpoint with its own CA.
            "azure": {"allowCustomEndpoints": True},
            "watchNamespaces": [self.pools],
            "health": {"port": free_port()},
            "metrics": {"port": free_port()},
            "logLevel": "debug",
            "extraEnv": [
                {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
                {"name": "KUBERNETES_SERVICE_PORT", "value": str(self.apiserver_port)},
            ],
        }

    def helm_run(self, *args: str) -> None:
        completed = subprocess.run(
            [str(self.helm), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        assert completed.returncode == 0, f"helm {' '.join(args)}:\n{completed.stderr}"

    def install(self) -> None:
        values = self.work / "values.yaml"
        values.write_text(yaml.safe_dump(self.values()))
        self.helm_run("install", self.name, str(CHART), "--namespace", self.namespace,
                      "--values", str(values))  # fmt: skip

    def pods(self) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/instance={self.name}"
        listed: list[dict[str, Any]] = self.kubectl.json(
            "get", "pods", "-n", self.namespace, "-l", selector
        )["items"]
        return listed

    def ready_pod(self, other_than: str | None = None) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            for pod in self.pods():
                if pod["metadata"]["name"] == other_than or pod["metadata"].get(
                    "deletionTimestamp"
                ):
                    continue
                conditions = pod.get("status", {}).get("conditions", [])
                if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                    return pod
            return None

        return wait_for("a Ready operator pod", probe, timeout=TIMEOUT_SECONDS,
                        describe=self.describe)  # fmt: skip

    def describe(self) -> str:
        pods = self.kubectl("describe", "pods", "-n", self.namespace, check=False).stdout
        logs = self.kubectl("logs", "-n", self.namespace, f"deployment/{self.name}",
                            "--tail=60", check=False)  # fmt: skip
        return f"{pods}\nlogs:\n{logs.stdout}{logs.stderr}"


@pytest.fixture
def release(
    node_cluster: NodeCluster,
    helm: Path,
    operator_image: Path,
    emulator: EmulatorProcess,
    tmp_path: Path,
) -> Iterator[Release]:
    """The release, removed before the emulator stops: deleting a pool deletes its VMs there.
    The pool and the account go while the operator still runs, to remove their finalizers."""
    node_cluster.control_plane.node.import_image(operator_image)
    installed = Release(node_cluster, helm, tmp_path)
    kubectl = installed.kubectl
    for namespace in (installed.namespace, installed.pools):
        kubectl("create", "namespace", namespace)
    try:
        yield installed
        kubectl("delete", "vmpool", "--all", "-n", installed.pools, "--timeout=240s",
                timeout=TIMEOUT_SECONDS)  # fmt: skip
        kubectl("delete", "azureaccount", f"emu-{installed.pools}", "--ignore-not-found",
                "--timeout=120s", timeout=TIMEOUT_SECONDS)  # fmt: skip
    finally:
        installed.helm_run("uninstall", installed.name, "--namespace", installed.namespace,
                           "--wait", "--timeout", "120s")  # fmt: skip
        for namespace in (installed.namespace, installed.pools):
            kubectl("delete", "namespace", namespace, "--wait=false")


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

    # The account's Secret lives where the operator reads Secrets from: its own namespace.
    secret = base64.b64encode(emulator.credentials["clientSecret"].encode()).decode()
    kubectl("apply", "-n", release.namespace, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "azure"},
        "data": {"secret": secret},
    }))  # fmt: skip
    account = f"emu-{release.pools}"
    admitted = account_manifest(account, emulator, release.namespace, [release.pools])
    kubectl("apply", "-f", "-", input=json.dumps(admitted))
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
