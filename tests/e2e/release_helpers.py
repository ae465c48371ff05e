"""The chart installed with `helm install` and run as a pod on the local node, as users run it.

The operator image is imported into the node's containerd (release_fixtures.py); `helm install`
deploys the chart with it. The pod runs with the chart's ServiceAccount token, so every API call
goes through the RBAC the chart grants. It reaches the apiserver and the emulator on 127.0.0.1
with host networking (the local apiserver advertises 127.0.0.1, so the `kubernetes` Service has
no endpoint a pod network could use), and so listens on free host ports rather than the chart's
defaults.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import yaml
from chart_helpers import CHART
from e2e_harness import wait_for
from node_fixtures import NodeCluster
from pool_helpers import EmulatorProcess, account_manifest

from vmroll.devcluster.ports import free_port

TIMEOUT_SECONDS = 300.0
CRD = "virtualmachinepools.vmroll.io"


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
        # Host networking shares the host's ports: free ones, not the chart's 8080/8081/9443.
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

    def install(self, **extra: Any) -> None:
        """`helm install` with the values above, top-level keys of `extra` replacing theirs.
        The CRDs outlive a release (helm.sh/resource-policy: keep) and stay owned by the one that
        installed them, so a later release in the same cluster leaves them out, as a user's
        second release must."""
        installed = self.kubectl("get", "crd", CRD, check=False).returncode == 0
        values = self.work / "values.yaml"
        crds = {"crds": {"install": False}} if installed else {}
        values.write_text(yaml.safe_dump({**self.values(), **crds, **extra}))
        self.helm_run("install", self.name, str(CHART), "--namespace", self.namespace,
                      "--values", str(values))  # fmt: skip

    def add_account(self, emulator: EmulatorProcess) -> str:
        """An AzureAccount for the emulator admitting the pools' namespace; its Secret lives
        where the operator reads Secrets from, the release namespace. Returns its name."""
        secret = base64.b64encode(emulator.credentials["clientSecret"].encode()).decode()
        self.kubectl("apply", "-n", self.namespace, "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "azure"},
            "data": {"secret": secret},
        }))  # fmt: skip
        account = f"emu-{self.pools}"
        admitted = account_manifest(account, emulator, self.namespace, [self.pools])
        self.kubectl("apply", "-f", "-", input=json.dumps(admitted))
        return account

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
