"""One instance's state directory: what is in it, what it says is running, how to remove it.

Layout of `<state root>/<name>/`: `pki/`, `etcd-data/`, `<binary>.pid`, `<binary>.log`,
`kubeconfig`, and `state.json`, written last by a successful `up`. Whatever a crashed run left
behind (a stale pid file, a dead process, a half-written directory) reads as STALE here, and
`remove` clears it the same way it stops a healthy instance.
"""

from __future__ import annotations

import enum
import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from vmroll.devcluster import processes
from vmroll.devcluster.flags import Ports
from vmroll.devcluster.node.layout import NodeLayout
from vmroll.devcluster.node.teardown import NODE_PROCESSES, remove_node
from vmroll.devcluster.versions import ETCD, KUBE_APISERVER

# Stop the apiserver before its etcd, so it never logs a storm of connection errors.
_STOP_ORDER = (KUBE_APISERVER, ETCD)


@dataclass(frozen=True)
class InstanceFiles:
    directory: Path

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def state(self) -> Path:
        return self.directory / "state.json"

    @property
    def pki(self) -> Path:
        return self.directory / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.directory / "etcd-data"

    @property
    def cert_dir(self) -> Path:
        return self.directory / "apiserver-certs"

    def log(self, binary: str) -> Path:
        return self.directory / f"{binary}.log"

    def pid_file(self, binary: str) -> Path:
        return self.directory / f"{binary}.pid"

    @property
    def marker(self) -> str:
        """Appears in the command line of every process of this instance, and of no other."""
        return f"{self.directory}/"


@dataclass(frozen=True)
class InstanceRecord:
    """What `up` wrote to state.json once the instance was ready."""

    name: str
    ports: Ports
    bin_dir: str
    kubernetes_version: str
    etcd_version: str
    with_node: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> InstanceRecord:
        data = json.loads(text)
        return cls(**{**data, "ports": Ports(**data["ports"])})


class InstanceState(enum.Enum):
    RUNNING = "running"
    STALE = "stale"
    ABSENT = "absent"


@dataclass(frozen=True)
class InstanceStatus:
    name: str
    files: InstanceFiles
    state: InstanceState
    live_pids: Mapping[str, int]
    record: InstanceRecord | None
    problem: str = ""


def inspect(name: str, files: InstanceFiles) -> InstanceStatus:
    if not files.directory.exists():
        return InstanceStatus(name, files, InstanceState.ABSENT, {}, None)
    live = {}
    for binary in (ETCD, KUBE_APISERVER):
        pid = processes.read_pid(files.pid_file(binary))
        if pid is not None and processes.is_ours(pid, files.marker):
            live[binary] = pid
    record = _read_record(files)
    if record is None:
        return InstanceStatus(
            name, files, InstanceState.STALE, live, None, "no complete start recorded"
        )
    dead = [binary for binary in (ETCD, KUBE_APISERVER) if binary not in live]
    if record.with_node:
        layout = NodeLayout(files.directory)
        dead += [
            process
            for process in NODE_PROCESSES
            if not _alive(processes.read_pid(layout.pid_file(process)), files.marker)
        ]
    if dead:
        problem = f"{' and '.join(dead)} not running"
        return InstanceStatus(name, files, InstanceState.STALE, live, record, problem)
    return InstanceStatus(name, files, InstanceState.RUNNING, live, record)


def remove(
    files: InstanceFiles, handles: Mapping[str, subprocess.Popen[bytes]] | None = None
) -> None:
    """Stop this instance's processes (those still alive) and delete its directory.

    The node goes first, while the apiserver still runs, so that its processes are not left
    retrying a server that is gone.
    """
    remove_node(NodeLayout(files.directory))
    for binary in _STOP_ORDER:
        handle = (handles or {}).get(binary)
        pid = handle.pid if handle is not None else processes.read_pid(files.pid_file(binary))
        if pid is not None:
            processes.stop(pid, files.marker, handle)
    shutil.rmtree(files.directory, ignore_errors=True)


def _alive(pid: int | None, marker: str) -> bool:
    return pid is not None and processes.is_ours(pid, marker)


def _read_record(files: InstanceFiles) -> InstanceRecord | None:
    try:
        return InstanceRecord.from_json(files.state.read_text())
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
