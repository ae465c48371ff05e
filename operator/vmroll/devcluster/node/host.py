"""The host-wide state a node leaves behind, and how `down` removes it: cgroups, mounts, links.

Container processes outlive the kubelet and containerd (the shims keep them), mounts outlive the
processes that made them, and a bridge outlives every pod. Each is found by what the instance
owns alone: processes in the instance's cgroup parent or naming its directory, mounts under its
directory, the bridge by its per-instance name. Nothing else on the host is touched. Linux only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from vmroll.devcluster import processes

CGROUP_ROOT = Path("/sys/fs/cgroup")
_NETWORK_LINKS = Path("/sys/class/net")
_SETTLE_SECONDS = 10.0


def cgroup_hierarchies(root: Path = CGROUP_ROOT) -> list[Path]:
    """The root of every mounted hierarchy: `root` itself on cgroup v2, its children on v1."""
    if (root / "cgroup.procs").exists():
        return [root]
    return sorted(path for path in root.iterdir() if (path / "cgroup.procs").exists())


def create_cgroup_parent(parent: str) -> None:
    """kubelet's cgroupfs driver refuses a `cgroupRoot` that does not exist in each hierarchy."""
    for hierarchy in cgroup_hierarchies():
        (hierarchy / parent.lstrip("/")).mkdir(exist_ok=True)


def _cgroups_under(parent: str) -> list[Path]:
    """Every cgroup below (and including) `parent`, deepest first."""
    found: list[Path] = []
    for hierarchy in cgroup_hierarchies():
        top = hierarchy / parent.lstrip("/")
        if top.is_dir():
            found += [Path(walked[0]) for walked in os.walk(top)]
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def _pids_in(cgroups: list[Path]) -> set[int]:
    pids: set[int] = set()
    for cgroup in cgroups:
        with contextlib.suppress(FileNotFoundError):
            pids |= {int(line) for line in (cgroup / "cgroup.procs").read_text().split()}
    return pids


def remove_cgroup_parent(parent: str) -> None:
    """Kill every process in the pods' cgroups, then remove the cgroups, deepest first."""
    deadline = time.monotonic() + _SETTLE_SECONDS
    while (pids := _pids_in(_cgroups_under(parent))) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for cgroup in _cgroups_under(parent):
        for _ in range(50):
            try:
                cgroup.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def stray_processes(marker: str) -> list[int]:
    """Live processes whose command line names the instance's directory (containerd shims)."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and processes.is_ours(int(entry.name), marker)
    ]


def kill_stray_processes(marker: str) -> None:
    """SIGKILL at once: what is left once containerd is gone (its shims) has nothing to save."""
    deadline = time.monotonic() + _SETTLE_SECONDS
    while (pids := stray_processes(marker)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def shim_sockets(containerd_state: Path) -> list[Path]:
    """The shims' sockets, which containerd 1.6 puts in /run/containerd/s whatever its state dir.

    Each task's bundle records its shim's address; a shim killed rather than shut down leaves
    its socket behind, so `down` reads these before the shims go and deletes them after.
    """
    bundles = containerd_state / "io.containerd.runtime.v2.task"
    sockets = set()
    for address in bundles.glob("*/*/address"):
        with contextlib.suppress(OSError):
            sockets.add(Path(address.read_text().strip().removeprefix("unix://")))
    return sorted(sockets)


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as three-digit octal escapes.
    for code in ("040", "011", "012", "134"):
        field = field.replace(f"\\{code}", chr(int(code, 8)))
    return field


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below `directory`, deepest first."""
    prefix = str(directory)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape(line.split()[4])
        if point == prefix or point.startswith(prefix + "/"):
            points.append(Path(point))
    return sorted(set(points), key=lambda path: len(path.parts), reverse=True)


def unmount_under(directory: Path) -> None:
    for point in mounts_under(directory):
        if subprocess.run(["umount", str(point)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "--lazy", str(point)], capture_output=True, check=False)


def link_exists(name: str) -> bool:
    return (_NETWORK_LINKS / name).exists()


def bridge_ports(name: str) -> list[str]:
    brif = _NETWORK_LINKS / name / "brif"
    return sorted(port.name for port in brif.iterdir()) if brif.is_dir() else []


def delete_bridge(name: str) -> None:
    """The bridge and the host ends of any veth still plugged into it."""
    for port in bridge_ports(name):
        subprocess.run(["ip", "link", "delete", port], capture_output=True, check=False)
    if link_exists(name):
        subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)
