"""What the node tests share: a control plane with a node, pods to run on it, host snapshots.

`node_cluster` (session) starts `LocalControlPlane(with_node=True)` named `e2e-node-<pid>`, apart
from the session's bare control plane. Where the node cannot run (not Linux, not root) starting
it fails, and so do the tests; only VMROLL_SKIP_NODE_TESTS=1 deselects them (conftest.py).

`HostSnapshot` records what a node may leave on the host (links, iptables chains, mounts,
processes, cgroups, shim sockets) so that a test can compare before, during and after.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_harness import Cluster, Kubectl, wait_for

from vmroll.devcluster import LocalControlPlane
from vmroll.devcluster.instance import InstanceFiles, remove
from vmroll.devcluster.node import host
from vmroll.devcluster.node.layout import NodeLayout
from vmroll.devcluster.node.pause import PAUSE_IMAGE
from vmroll.devcluster.paths import state_root

NODE_SESSION_PREFIX = "e2e-node-"
POD_READY_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class NodeCluster:
    cluster: Cluster
    control_plane: LocalControlPlane

    @property
    def kubectl(self) -> Kubectl:
        return Kubectl(self.cluster.kubectl, self.cluster.kubeconfig)


@pytest.fixture(scope="session")
def node_cluster() -> Iterator[NodeCluster]:
    # Nodes of sessions killed before they could stop theirs: cgroups, mounts, bridge and all.
    for directory in state_root().glob(f"{NODE_SESSION_PREFIX}*"):
        owner = directory.name.removeprefix(NODE_SESSION_PREFIX)
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            remove(InstanceFiles(directory))
    with LocalControlPlane(name=f"{NODE_SESSION_PREFIX}{os.getpid()}", with_node=True) as cp:
        yield NodeCluster(Cluster(cp.kubeconfig_path, cp.kubectl_path, local=True), cp)


def pause_pod(name: str, namespace: str, *, host_network: bool) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  hostNetwork: {str(host_network).lower()}
  containers:
  - name: pause
    image: {PAUSE_IMAGE}
    imagePullPolicy: Never
"""


def wait_pod_ready(kubectl: Kubectl, namespace: str, name: str) -> dict[str, object]:
    def ready() -> dict[str, object] | None:
        pod: dict[str, object] = kubectl.json("get", "pod", "-n", namespace, name)
        status = pod.get("status")
        conditions = status.get("conditions", []) if isinstance(status, dict) else []
        is_ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        return pod if is_ready else None

    return wait_for(
        f"pod {namespace}/{name} Ready",
        ready,
        timeout=POD_READY_TIMEOUT_SECONDS,
        describe=lambda: kubectl("describe", "pod", "-n", namespace, name, check=False).stdout,
    )


def _chains(command: str) -> frozenset[str]:
    table = ""
    chains = set()
    dumped = subprocess.run([command], capture_output=True, text=True, check=True).stdout
    for line in dumped.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            chains.add(f"{command}/{table}/{line[1:].split()[0]}")
    return frozenset(chains)


@dataclass(frozen=True)
class HostSnapshot:
    links: frozenset[str]
    chains: frozenset[str]
    mounts: tuple[Path, ...]
    processes: tuple[int, ...]
    cgroups: tuple[Path, ...]
    shim_sockets: tuple[Path, ...]

    @classmethod
    def take(cls, layout: NodeLayout) -> HostSnapshot:
        cgroups = [
            hierarchy / layout.cgroup_parent.lstrip("/") for hierarchy in host.cgroup_hierarchies()
        ]
        return cls(
            links=frozenset(os.listdir("/sys/class/net")),
            chains=_chains("iptables-save") | _chains("ip6tables-save"),
            mounts=tuple(host.mounts_under(layout.instance_dir)),
            processes=tuple(host.stray_processes(layout.marker)),
            cgroups=tuple(path for path in cgroups if path.exists()),
            shim_sockets=tuple(host.shim_sockets(layout.containerd_state)),
        )
