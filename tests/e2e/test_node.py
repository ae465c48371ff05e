"""The local node: pods run on it from imported images, and `down` leaves the host as it was.

The teardown test drives the CLI as a user does (`up --with-node`, then `down` from another
process, which knows the node only from its files), with a pod on the pod network and one on
the host network running, so that there are shims, mounts, a bridge and a veth to remove.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_harness import Kubectl, unique_namespace
from node_fixtures import HostSnapshot, NodeCluster, pause_pod, wait_pod_ready

from vmroll.devcluster.instance import InstanceFiles, InstanceRecord
from vmroll.devcluster.node.layout import NodeLayout
from vmroll.devcluster.paths import instance_dir

pytestmark = [pytest.mark.e2e, pytest.mark.node]


def test_pods_run_on_the_pod_network_and_the_host_network(
    node_cluster: NodeCluster, request: pytest.FixtureRequest
) -> None:
    kubectl = node_cluster.kubectl
    namespace = unique_namespace(request.node.name)
    kubectl("create", "namespace", namespace)
    try:
        kubectl("apply", "-f", "-", input=pause_pod("bridged", namespace, host_network=False))
        kubectl("apply", "-f", "-", input=pause_pod("hosted", namespace, host_network=True))
        bridged = wait_pod_ready(kubectl, namespace, "bridged")
        hosted = wait_pod_ready(kubectl, namespace, "hosted")
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")
    layout = node_cluster.control_plane.node.layout
    assert isinstance(bridged["status"], dict)
    assert isinstance(hosted["status"], dict)
    pod_ip = ipaddress.ip_address(bridged["status"]["podIP"])
    assert pod_ip in ipaddress.ip_network(layout.pod_subnet)
    assert hosted["status"]["podIP"] == hosted["status"]["hostIP"]
    # ServiceAccount admission runs with the node: the pod got a projected token volume.
    assert isinstance(bridged["spec"], dict)
    volumes = [volume["name"] for volume in bridged["spec"]["volumes"]]
    assert any(name.startswith("kube-api-access-") for name in volumes)


def _vmroll(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vmroll.cli", "devcluster", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_down_leaves_no_process_mount_link_or_chain_behind(request: pytest.FixtureRequest) -> None:
    name = f"e2e-node-down-{os.getpid()}"
    namespace = unique_namespace(request.node.name)
    layout = NodeLayout(instance_dir(name))
    before = HostSnapshot.take(layout)
    up = _vmroll("up", "--name", name, "--with-node")
    try:
        assert up.returncode == 0, up.stderr
        files = InstanceFiles(instance_dir(name))
        record = InstanceRecord.from_json(files.state.read_text())
        assert record.with_node
        kubectl = Kubectl(Path(record.bin_dir) / "kubectl", files.kubeconfig)
        kubectl("create", "namespace", namespace)
        kubectl("apply", "-f", "-", input=pause_pod("bridged", namespace, host_network=False))
        kubectl("apply", "-f", "-", input=pause_pod("hosted", namespace, host_network=True))
        wait_pod_ready(kubectl, namespace, "bridged")
        wait_pod_ready(kubectl, namespace, "hosted")
        running = HostSnapshot.take(layout)
    finally:
        down = _vmroll("down", "--name", name)
    assert down.returncode == 0, down.stderr
    after = HostSnapshot.take(layout)

    # What the node put on the host while it ran: the checks below have something to find.
    assert layout.bridge in running.links
    assert len(running.links - before.links) >= 2, "the bridge and a pod's veth"
    assert running.mounts
    assert running.processes
    assert running.cgroups
    assert running.shim_sockets

    # Other nodes (the session's) may come and go meanwhile: nothing new may remain.
    assert after.links <= before.links
    assert after.chains <= before.chains
    assert after.mounts == ()
    assert after.processes == ()
    assert after.cgroups == ()
    assert not any(path.exists() for path in running.shim_sockets)
    assert not layout.instance_dir.exists()
    status = _vmroll("status", "--name", name)
    assert status.returncode == 1
    assert f"control plane {name!r}: not running" in status.stdout
