"""`LocalControlPlane`: start a real etcd and kube-apiserver on loopback, and stop them again.

Used by `vmroll devcluster up/down` and, as a context manager, by the e2e test fixtures:

    with LocalControlPlane(name="e2e") as cp:
        subprocess.run([cp.kubectl_path, "--kubeconfig", cp.kubeconfig_path, "get", "ns"])

Ports are picked by the kernel (bind to port 0) unless one is asked for; when another process
takes a picked port before the server binds it, the start is retried on fresh ports.

With `with_node=True` a real node joins it once the apiserver is ready (see `node/`), so that
pods run; the apiserver is then started with the admission and authorization a node needs.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from vmroll.devcluster import health, processes
from vmroll.devcluster.build import Report, ensure_binaries, ensure_tools
from vmroll.devcluster.cache import BinaryCache
from vmroll.devcluster.certs import Pki, generate_pki
from vmroll.devcluster.errors import DevclusterError, PortInUse, StartFailed
from vmroll.devcluster.flags import Ports, apiserver_args, apiserver_url, etcd_args, etcd_url
from vmroll.devcluster.gobuild import find_go
from vmroll.devcluster.instance import (
    InstanceFiles,
    InstanceRecord,
    InstanceState,
    inspect,
    remove,
)
from vmroll.devcluster.kubeconfig import render_kubeconfig
from vmroll.devcluster.node.local_node import LocalNode
from vmroll.devcluster.node.packages import ensure_node_packages
from vmroll.devcluster.node.pause import kubernetes_source
from vmroll.devcluster.node.support import require_node_support
from vmroll.devcluster.paths import DEFAULT_INSTANCE_NAME, HACK_ROOT, instance_dir, wrapper_module
from vmroll.devcluster.ports import free_port, port_in_use_message, require_free
from vmroll.devcluster.toolsets import NODE
from vmroll.devcluster.versions import (
    ETCD,
    ETCD_VERSION,
    KUBE_APISERVER,
    KUBECTL,
    KUBERNETES_VERSION,
)

_log = logging.getLogger(__name__)

ETCD_READY_TIMEOUT_SECONDS = 30.0
APISERVER_READY_TIMEOUT_SECONDS = 90.0
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 25


class _PortTaken(Exception):
    """A server found its port taken between our probe and its bind: retry on new ports."""

    def __init__(self, binary: str) -> None:
        super().__init__(f"{binary} found its port taken")
        self.binary = binary


class LocalControlPlane:
    """One named local control plane; `start()`/`stop()` or use it as a context manager."""

    def __init__(
        self,
        name: str = DEFAULT_INSTANCE_NAME,
        *,
        apiserver_port: int | None = None,
        with_node: bool = False,
        environ: Mapping[str, str] = os.environ,
        report: Report = _log.info,
    ) -> None:
        self.name = name
        self.files = InstanceFiles(instance_dir(name, environ))
        self.node = LocalNode(self.files.directory, report=report, environ=environ)
        self.with_node = with_node
        self._apiserver_port = apiserver_port
        self._environ = environ
        self._report = report
        self._handles: dict[str, subprocess.Popen[bytes]] = {}
        self._binaries: BinaryCache | None = None
        self._ports: Ports | None = None

    @property
    def kubeconfig_path(self) -> Path:
        return self.files.kubeconfig

    @property
    def kubectl_path(self) -> Path:
        return self._started_binaries().binary(KUBECTL)

    @property
    def ports(self) -> Ports:
        if self._ports is None:
            raise DevclusterError(f"the control plane {self.name!r} is not started")
        return self._ports

    @property
    def server(self) -> str:
        return apiserver_url(self.ports)

    def start(self) -> None:
        status = inspect(self.name, self.files)
        if status.state is InstanceState.RUNNING:
            raise DevclusterError(
                f"the control plane {self.name!r} is already running; stop it with "
                f"`vmroll devcluster down --name {self.name}` or choose another --name"
            )
        if status.state is InstanceState.STALE:
            self._report(
                f"cleaning up leftovers of an earlier run of {self.name!r} ({status.problem})"
            )
            remove(self.files)
        if self._apiserver_port is not None:
            require_free(self._apiserver_port, "--port")
        if self.with_node:
            require_node_support()
            ensure_node_packages(self._report, self._environ)
            node_binaries = ensure_tools(NODE, report=self._report, environ=self._environ)
        self._binaries = ensure_binaries(report=self._report, environ=self._environ)
        try:
            self._start_servers(self._binaries)
            if self.with_node:
                self._start_node(node_binaries.bin_dir)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the node and both servers, delete the instance's directory; safe to call twice."""
        self.node.stop()
        remove(self.files, self._handles)
        self._handles.clear()
        self._ports = None

    def _start_node(self, bin_dir: Path) -> None:
        go = find_go(self._environ)
        module = wrapper_module("node", HACK_ROOT)
        self.node.start(
            name=self.name,
            server=self.server,
            pki=Pki(self.files.pki),
            bin_dir=bin_dir,
            kubernetes_dir=kubernetes_source(go, module, self._environ),
        )

    def __enter__(self) -> LocalControlPlane:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _started_binaries(self) -> BinaryCache:
        if self._binaries is None:
            raise DevclusterError(f"the control plane {self.name!r} is not started")
        return self._binaries

    def _start_servers(self, binaries: BinaryCache) -> None:
        self.files.directory.mkdir(parents=True)
        pki = generate_pki(self.files.pki)
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            ports = self._pick_ports()
            try:
                self._start_on(ports, pki, binaries)
            except _PortTaken as taken:
                if self._apiserver_port is not None and taken.binary == KUBE_APISERVER:
                    raise PortInUse(port_in_use_message(self._apiserver_port, "--port")) from None
                if attempt == _PORT_ATTEMPTS:
                    raise StartFailed(f"{taken}, {attempt} times; giving up") from None
                self._report(f"{taken}; retrying on other ports")
                self._stop_servers()
                continue
            self._ports = ports
            self._write_state(ports, pki, binaries)
            return

    def _start_on(self, ports: Ports, pki: Pki, binaries: BinaryCache) -> None:
        self._launch(ETCD, etcd_args(binaries.binary(ETCD), ports, self.files.etcd_data))
        etcd_ready = functools.partial(health.etcd_healthy, etcd_url(ports))
        self._await(ETCD, etcd_ready, ETCD_READY_TIMEOUT_SECONDS)
        self._start_apiserver(ports, pki, binaries)

    def restart_apiserver(self, while_down: Callable[[], None] = lambda: None) -> None:
        """Stop kube-apiserver, call `while_down`, and start it again on its port over the same
        etcd, as a crash or an upgrade of the control plane does: clients' connections and
        watches break, no data is lost. The chaos tests and benchmark restart it mid-rollout."""
        binaries = self._started_binaries()
        handle = self._handles.pop(KUBE_APISERVER)
        processes.stop(handle.pid, self.files.marker, handle)
        while_down()
        self._start_apiserver(self.ports, Pki(self.files.pki), binaries)

    def _start_apiserver(self, ports: Ports, pki: Pki, binaries: BinaryCache) -> None:
        args = apiserver_args(
            binaries.binary(KUBE_APISERVER),
            ports,
            pki,
            self.files.cert_dir,
            with_node=self.with_node,
        )
        self._launch(KUBE_APISERVER, args)
        tls = health.admin_tls(pki)
        apiserver_ready = functools.partial(health.apiserver_ready, apiserver_url(ports), tls)
        self._await(KUBE_APISERVER, apiserver_ready, APISERVER_READY_TIMEOUT_SECONDS)

    def _pick_ports(self) -> Ports:
        wanted = 2 if self._apiserver_port else 3
        picked: list[int] = []
        while len(picked) < wanted:
            port = free_port()
            if port not in picked and port != self._apiserver_port:
                picked.append(port)
        return Ports(picked[0], picked[1], self._apiserver_port or picked[2])

    def _launch(self, binary: str, argv: list[str]) -> None:
        handle = processes.start_detached(argv, self.files.log(binary))
        self._handles[binary] = handle
        self.files.pid_file(binary).write_text(f"{handle.pid}\n")

    def _await(self, binary: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        handle = self._handles[binary]
        while time.monotonic() < deadline:
            if handle.poll() is not None:
                log = self._log_tail(binary)
                if "address already in use" in log:
                    raise _PortTaken(binary)
                raise StartFailed(f"{binary} exited with code {handle.returncode}:\n{log}")
            if ready():
                return
            time.sleep(0.1)
        raise StartFailed(
            f"{binary} did not become ready within {timeout:.0f}s:\n{self._log_tail(binary)}"
        )

    def _stop_servers(self) -> None:
        for binary in (KUBE_APISERVER, ETCD):
            handle = self._handles.pop(binary, None)
            if handle is not None:
                processes.stop(handle.pid, self.files.marker, handle)
        shutil.rmtree(self.files.etcd_data, ignore_errors=True)

    def _log_tail(self, binary: str) -> str:
        lines = self.files.log(binary).read_text(errors="replace").splitlines()
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    def _write_state(self, ports: Ports, pki: Pki, binaries: BinaryCache) -> None:
        self.files.kubeconfig.touch(mode=0o600)
        self.files.kubeconfig.write_text(render_kubeconfig(self.name, apiserver_url(ports), pki))
        record = InstanceRecord(
            name=self.name,
            ports=ports,
            bin_dir=str(binaries.bin_dir),
            kubernetes_version=KUBERNETES_VERSION,
            etcd_version=ETCD_VERSION,
            with_node=self.with_node,
        )
        self.files.state.write_text(record.to_json())
