"""Remove a node completely, from its files alone: `down` runs in another process than `up`.

Order matters: the controllers and the kubelet stop first so that nothing restarts containers;
then the pods' processes are killed through their cgroups, containerd and its shims stop, and
only then can the mounts (container root filesystems, network namespaces, volumes) be unmounted
and the bridge deleted. Every step is safe on a node that is half started or already gone.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

from vmroll.devcluster import processes
from vmroll.devcluster.node import host
from vmroll.devcluster.node.layout import CONTAINERD, NodeLayout
from vmroll.devcluster.versions import KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER, KUBELET

_STOP_FIRST = (KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER, KUBELET)
NODE_PROCESSES = (*_STOP_FIRST, CONTAINERD)


def _stop(layout: NodeLayout, name: str, handles: Mapping[str, subprocess.Popen[bytes]]) -> None:
    handle = handles.get(name)
    pid = handle.pid if handle is not None else processes.read_pid(layout.pid_file(name))
    if pid is not None:
        processes.stop(pid, layout.marker, handle)


def remove_node(
    layout: NodeLayout, handles: Mapping[str, subprocess.Popen[bytes]] | None = None
) -> None:
    """Stop the node's processes and undo what they did to the host; its files stay."""
    if not layout.directory.exists():
        return
    for name in _STOP_FIRST:
        _stop(layout, name, handles or {})
    host.remove_cgroup_parent(layout.cgroup_parent)
    shim_sockets = host.shim_sockets(layout.containerd_state)
    _stop(layout, CONTAINERD, handles or {})
    host.kill_stray_processes(layout.marker)
    for socket in shim_sockets:
        socket.unlink(missing_ok=True)
    host.unmount_under(layout.instance_dir)
    host.delete_bridge(layout.bridge)
