"""Where one node's files live: everything under `<instance>/node/`, nothing in /etc or /var.

Keeping the runtime's root and state, the kubelet's root, the CNI configuration and IPAM state
and the cgroup parent per instance is what lets `down` find and remove all of it, and lets two
instances run side by side.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

NODE_NAME = "localhost"
CONTAINERD = "containerd"


@dataclass(frozen=True)
class NodeLayout:
    """The paths and host-wide names of the node of the instance in `instance_dir`."""

    instance_dir: Path

    @property
    def directory(self) -> Path:
        return self.instance_dir / "node"

    @property
    def _suffix(self) -> str:
        return hashlib.sha256(str(self.instance_dir).encode()).hexdigest()[:8]

    @property
    def marker(self) -> str:
        """In the command line of every process of the instance (shims too), and of no other."""
        return f"{self.instance_dir}/"

    def log(self, process: str) -> Path:
        return self.directory / f"{process}.log"

    def pid_file(self, process: str) -> Path:
        return self.directory / f"{process}.pid"

    @property
    def containerd_config(self) -> Path:
        return self.directory / "containerd.toml"

    @property
    def containerd_root(self) -> Path:
        return self.directory / "containerd-root"

    @property
    def containerd_state(self) -> Path:
        return self.directory / "containerd-state"

    @property
    def containerd_socket(self) -> Path:
        return self.directory / "containerd.sock"

    @property
    def cni_config_dir(self) -> Path:
        return self.directory / "cni"

    @property
    def cni_state_dir(self) -> Path:
        return self.directory / "cni-ipam"

    @property
    def kubelet_root(self) -> Path:
        return self.directory / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.directory / "kubelet-config.yaml"

    @property
    def static_pods(self) -> Path:
        return self.directory / "static-pods"

    @property
    def volume_plugins(self) -> Path:
        return self.directory / "volume-plugins"

    @property
    def images(self) -> Path:
        return self.directory / "images"

    def kubeconfig(self, component: str) -> Path:
        return self.directory / f"{component}.kubeconfig"

    @property
    def bridge(self) -> str:
        """The CNI bridge's link name (15 characters at most, the kernel's limit)."""
        return f"vmroll{self._suffix}"[:15]

    @property
    def cni_network(self) -> str:
        return f"vmroll-{self._suffix}"

    @property
    def pod_subnet(self) -> str:
        """A /24 of 10.89.0.0/16 picked by the instance, so that side-by-side nodes differ."""
        return f"10.89.{int(self._suffix, 16) % 250 + 1}.0/24"

    @property
    def cgroup_parent(self) -> str:
        """The cgroup under which the kubelet puts every pod: `/vmroll-<suffix>`."""
        return f"/vmroll-{self._suffix}"
