"""`LocalNode`: one real Kubernetes node beside a local control plane, so that pods run.

containerd (Debian's, with its own root, state and socket under the instance's directory), a
kubelet registered as `localhost`, and the two controllers a cluster needs before a pod runs: the
scheduler and the controller-manager. The pod sandbox image is built from the Kubernetes sources
and imported, since no registry is reachable; other images are imported the same way
(`import_image`). `stop` is `teardown.remove_node`, which `down` also runs from the files alone.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vmroll.devcluster import health, processes
from vmroll.devcluster.certs import Pki
from vmroll.devcluster.errors import StartFailed
from vmroll.devcluster.kubeconfig import render_kubeconfig
from vmroll.devcluster.node import config, host
from vmroll.devcluster.node.layout import CONTAINERD, NODE_NAME, NodeLayout
from vmroll.devcluster.node.pause import build_pause_archive
from vmroll.devcluster.node.teardown import remove_node
from vmroll.devcluster.paths import STATE_DIR_VARIABLE
from vmroll.devcluster.ports import free_port
from vmroll.devcluster.versions import KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER, KUBELET

CONTAINERD_READY_TIMEOUT_SECONDS = 30.0
NODE_READY_TIMEOUT_SECONDS = 120.0
_LOG_TAIL_LINES = 25
_MAX_SOCKET_PATH = 107


class LocalNode:
    """The node of the instance whose directory is `instance_dir`."""

    def __init__(
        self,
        instance_dir: Path,
        *,
        report: Callable[[str], None],
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.layout = NodeLayout(instance_dir)
        self._report = report
        self._environ = environ
        self._handles: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, *, name: str, server: str, pki: Pki, bin_dir: Path, kubernetes_dir: Path
    ) -> None:
        """Start every part and return once the node is Ready; `kubernetes_dir` has pause.c."""
        started = time.monotonic()
        self._write_files(name, server, pki)
        self._launch(CONTAINERD, config.containerd_args(self.layout))
        self._await_containerd()
        self.import_image(build_pause_archive(kubernetes_dir, self.layout.images))
        self._launch(
            KUBE_CONTROLLER_MANAGER,
            config.controller_manager_args(
                bin_dir / KUBE_CONTROLLER_MANAGER,
                self.layout,
                root_ca=pki.serving_ca,
                service_account_key=pki.service_account_key,
            ),
        )
        self._launch(KUBE_SCHEDULER, config.scheduler_args(bin_dir / KUBE_SCHEDULER, self.layout))
        self._launch(KUBELET, config.kubelet_args(bin_dir / KUBELET, self.layout))
        tls = health.admin_tls(pki)
        self._await_node_ready(server, tls)
        # ServiceAccount admission refuses pods until the namespace's account exists.
        self._await(
            f"the ServiceAccount default/default (from {KUBE_CONTROLLER_MANAGER})",
            lambda: _exists(f"{server}/api/v1/namespaces/default/serviceaccounts/default", tls),
            KUBE_CONTROLLER_MANAGER,
        )
        self._report(f"node {NODE_NAME!r} Ready in {time.monotonic() - started:.1f}s")

    def stop(self) -> None:
        remove_node(self.layout, self._handles)
        self._handles.clear()

    def ctr(self, *args: str) -> list[str]:
        """The argv of a `ctr` command against this node's containerd, in the CRI namespace."""
        return ["ctr", f"--address={self.layout.containerd_socket}", "--namespace=k8s.io", *args]

    def import_image(self, archive: Path) -> None:
        """Import an image archive (OCI layout or `docker save` tarball) for the kubelet to run."""
        completed = subprocess.run(
            self.ctr("images", "import", str(archive)), capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise StartFailed(f"`ctr images import {archive}` failed: {completed.stderr.strip()}")

    def _write_files(self, name: str, server: str, pki: Pki) -> None:
        layout = self.layout
        # containerd also listens on `<socket>.ttrpc`; the kernel caps socket paths at 107 bytes.
        if len(str(layout.containerd_socket)) + len(".ttrpc") > _MAX_SOCKET_PATH:
            raise StartFailed(
                f"the node's socket path {layout.containerd_socket} is too long for a unix "
                f"socket: use a shorter {STATE_DIR_VARIABLE} or instance name"
            )
        for directory in (layout.cni_config_dir, layout.static_pods, layout.images):
            directory.mkdir(parents=True)
        layout.containerd_config.write_text(config.containerd_config(layout))
        (layout.cni_config_dir / "10-vmroll.conflist").write_text(config.cni_config(layout))
        layout.kubelet_config.write_text(config.kubelet_config(layout, free_port(), free_port()))
        for user in (KUBELET, KUBE_SCHEDULER, KUBE_CONTROLLER_MANAGER):
            kubeconfig = layout.kubeconfig(user)
            kubeconfig.touch(mode=0o600)
            kubeconfig.write_text(render_kubeconfig(name, server, pki, user))
        host.create_cgroup_parent(layout.cgroup_parent)

    def _launch(self, process: str, argv: list[str]) -> None:
        handle = processes.start_detached(argv, self.layout.log(process))
        self._handles[process] = handle
        self.layout.pid_file(process).write_text(f"{handle.pid}\n")

    def _check_alive(self) -> None:
        for process, handle in self._handles.items():
            if handle.poll() is not None:
                raise StartFailed(
                    f"{process} exited with code {handle.returncode}:\n{self._log_tail(process)}"
                )

    def _await_containerd(self) -> None:
        deadline = time.monotonic() + CONTAINERD_READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self._check_alive()
            version = subprocess.run(self.ctr("version"), capture_output=True, check=False)
            if version.returncode == 0:
                return
            time.sleep(0.2)
        raise StartFailed(
            f"containerd did not answer within {CONTAINERD_READY_TIMEOUT_SECONDS:.0f}s:\n"
            f"{self._log_tail(CONTAINERD)}"
        )

    def _await(self, what: str, done: Callable[[], bool], process: str) -> None:
        deadline = time.monotonic() + NODE_READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self._check_alive()
            if done():
                return
            time.sleep(0.2)
        raise StartFailed(
            f"{what} did not appear within {NODE_READY_TIMEOUT_SECONDS:.0f}s; the log of "
            f"{process} ends with:\n{self._log_tail(process)}"
        )

    def _await_node_ready(self, server: str, tls: ssl.SSLContext) -> None:
        deadline = time.monotonic() + NODE_READY_TIMEOUT_SECONDS
        ready: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            self._check_alive()
            ready = _ready_condition(server, tls)
            if ready is not None and ready.get("status") == "True":
                return
            time.sleep(0.5)
        seen = f"its Ready condition: {ready}" if ready else "it never registered"
        raise StartFailed(
            f"node {NODE_NAME!r} not Ready within {NODE_READY_TIMEOUT_SECONDS:.0f}s ({seen}); "
            f"the kubelet's log ends with:\n{self._log_tail(KUBELET)}"
        )

    def _log_tail(self, process: str) -> str:
        lines = self.layout.log(process).read_text(errors="replace").splitlines()
        return "\n".join(lines[-_LOG_TAIL_LINES:])


def _exists(url: str, tls: ssl.SSLContext) -> bool:
    answer = health.get(url, tls)
    return answer is not None and answer[0] == 200


def _ready_condition(server: str, tls: ssl.SSLContext) -> dict[str, Any] | None:
    answer = health.get(f"{server}/api/v1/nodes/{NODE_NAME}", tls)
    if answer is None or answer[0] != 200:
        return None
    node: dict[str, Any] = json.loads(answer[1])
    for condition in node.get("status", {}).get("conditions", []):
        if condition.get("type") == "Ready":
            return dict(condition)
    return None
