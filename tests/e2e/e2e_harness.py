"""Helpers behind the e2e fixtures: the cluster under test, kubectl, namespaces, processes.

Kept apart from conftest.py so that tests can import the types (`Cluster`, `Kubectl`) and the
helpers (`wait_for`, `background_process`) by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vmroll.devcluster.node.support import SKIP_NODE_TESTS_VARIABLE

T = TypeVar("T")
DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Cluster:
    """The cluster the e2e tests run against: a local control plane or VMROLL_KUBECONFIG's."""

    kubeconfig: Path
    kubectl: Path
    local: bool
    apiserver_restart: Callable[[Callable[[], None]], None] | None = None
    """The session's own control plane's `restart_apiserver`; None for VMROLL_KUBECONFIG's."""

    def restart_apiserver(self, while_down: Callable[[], None] = lambda: None) -> None:
        """Restart kube-apiserver over the same etcd (only a local control plane can be),
        calling `while_down` while it is stopped."""
        if self.apiserver_restart is None:
            raise RuntimeError(
                "the chaos tests restart kube-apiserver, which needs the session's own local "
                "control plane: unset VMROLL_KUBECONFIG"
            )
        self.apiserver_restart(while_down)

    def env(self, base: Mapping[str, str] = os.environ) -> dict[str, str]:
        """Environment for a child process (an operator, a CLI) that talks to this cluster."""
        path = f"{self.kubectl.parent}{os.pathsep}{base.get('PATH', os.defpath)}"
        return {**base, "KUBECONFIG": str(self.kubeconfig), "PATH": path}


class KubectlFailed(subprocess.CalledProcessError):
    def __str__(self) -> str:
        return f"{' '.join(map(str, self.cmd))} exited with {self.returncode}:\n{self.stderr}"


class Kubectl:
    """Runs the built kubectl against the cluster under test; fails loudly unless check=False."""

    def __init__(self, binary: Path, kubeconfig: Path) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binary), "--kubeconfig", str(self.kubeconfig), *args]
        completed = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and completed.returncode != 0:
            raise KubectlFailed(completed.returncode, argv, completed.stdout, completed.stderr)
        return completed

    def json(self, *args: str) -> Any:
        """`kubectl ... -o json`, parsed."""
        return json.loads(self(*args, "-o", "json").stdout)

    def wait_established(self, crd: str, timeout: float = 60) -> None:
        """Until the CRD is served. Not `kubectl wait`: it fails outright, instead of waiting,
        while a just-created CRD has no conditions yet."""

        def established() -> bool | None:
            found = self.json("get", "crd", crd)
            conditions = found.get("status", {}).get("conditions") or []
            ok = any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
            return True if ok else None

        wait_for(f"CRD {crd} to be established", established, timeout)


def node_tests_opted_out(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the user deselected the node's tests, with exactly `VMROLL_SKIP_NODE_TESTS=1`."""
    return environ.get(SKIP_NODE_TESTS_VARIABLE) == "1"


def unique_namespace(test_name: str) -> str:
    """A DNS-1123 label naming the test, unique per run: `e2e-<test>-<random>`."""
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"e2e-{slug}-{secrets.token_hex(3)}"


def create_namespace(api: client.ApiClient, name: str) -> None:
    labels = {"e2e.vmroll.io/test-namespace": "true"}
    body = client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
    client.CoreV1Api(api).create_namespace(body)


def delete_namespace(api: client.ApiClient, name: str) -> None:
    """Delete what tests create, then the namespace.

    A bare apiserver runs no namespace controller, so deleting the namespace alone would leave
    its objects behind (and the namespace Terminating). This removes custom resources of every
    namespaced CRD (clearing finalizers that no controller will ever remove once the test's
    operator has stopped), events, configmaps and secrets, then the namespace itself.
    """
    custom = client.CustomObjectsApi(api)
    for group, version, plural in _namespaced_custom_resources(api):
        for item in _custom_objects(custom, group, version, name, plural):
            object_name = item["metadata"]["name"]
            _ignore_missing(
                custom.delete_namespaced_custom_object, group, version, name, plural, object_name
            )
        for item in _custom_objects(custom, group, version, name, plural):
            unblock = {"metadata": {"finalizers": None}}
            _ignore_missing(
                custom.patch_namespaced_custom_object,
                group,
                version,
                name,
                plural,
                item["metadata"]["name"],
                unblock,
            )
    core = client.CoreV1Api(api)
    core.delete_collection_namespaced_event(name)
    core.delete_collection_namespaced_config_map(name)
    core.delete_collection_namespaced_secret(name)
    _ignore_missing(core.delete_namespace, name)


def _custom_objects(
    custom: client.CustomObjectsApi, group: str, version: str, namespace: str, plural: str
) -> list[dict[str, Any]]:
    listed = cast(
        "dict[str, Any]", custom.list_namespaced_custom_object(group, version, namespace, plural)
    )
    items: list[dict[str, Any]] = listed["items"]
    return items


def _namespaced_custom_resources(api: client.ApiClient) -> Iterator[tuple[str, str, str]]:
    definitions = client.ApiextensionsV1Api(api).list_custom_resource_definition()
    for definition in definitions.items:
        spec = definition.spec
        served = [version.name for version in spec.versions if version.served]
        if spec.scope == "Namespaced" and served:
            yield spec.group, served[0], spec.names.plural


def _ignore_missing(call: Callable[..., T], *args: Any) -> T | None:
    try:
        return call(*args)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    describe: Callable[[], str] = lambda: "",
) -> T:
    """Poll `probe` until it returns something but None; fail naming `what` if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{describe()}")
        time.sleep(0.2)


@dataclass(frozen=True)
class BackgroundProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def background_process(
    argv: list[str], env: Mapping[str, str], log: Path
) -> Iterator[BackgroundProcess]:
    """Run a long-lived process (an operator) for the duration of a test; stop it afterwards.

    Output goes to `log`, so a failing test can show it. SIGTERM first for a clean shutdown,
    SIGKILL after 15 s.
    """
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, env=dict(env), stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        yield BackgroundProcess(process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
