"""Start the local stack in order, and take it down in reverse, whatever happens in between.

Order: control plane (or the cluster named by VMROLL_KUBECONFIG), the Azure emulator, the CRDs,
the emulator's Secret and AzureAccount, then the operator. The emulator and the operator are
child processes run exactly as a user would run them (`vmroll emulator serve`, `vmroll run`),
so `vmroll dev` exercises the same code paths as a real installation. The operator is told to
trust the emulator's endpoints and CA (`--allow-custom-endpoints`) and to read the account's
Secret from the namespace an installed operator would run in (`--cluster-resource-namespace`).
It also serves the admission webhook at `https://127.0.0.1:<port>` with a certificate from a CA
of the stack's own, registered with that CA as the bundle, so `kubectl apply` of a pool the
operator could not act on is refused as in a cluster with the chart's `webhook.enabled`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from vmroll.admission.registration import url_client_config, webhook_configuration
from vmroll.api.crd import render_crds
from vmroll.devcluster.controlplane import LocalControlPlane
from vmroll.devcluster.paths import KUBECONFIG_VARIABLE
from vmroll.devstack.manifests import (
    SYSTEM_NAMESPACE,
    credentials_secret,
    emulator_account,
    system_namespace,
)
from vmroll.pki.webhook import WebhookCertificates, write_webhook_certificates

INSTANCE_NAME = "dev"
WEBHOOK_CONFIGURATION = "vmroll-dev"
EMULATOR_READY_TIMEOUT_SECONDS = 60.0
WEBHOOK_READY_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0
TRUST_EMULATOR = ("--allow-custom-endpoints", "--cluster-resource-namespace", SYSTEM_NAMESPACE)
"""The emulator is a custom endpoint with its own CA; its Secret is in the system namespace."""

Report = Callable[[str], None]


class DevStackError(Exception):
    """The local stack could not start; the message says which part and why."""


class DevStack:
    """The running local stack; use as a context manager so that everything stops on exit."""

    def __init__(
        self,
        *,
        run_operator: bool = True,
        with_node: bool = False,
        operator_args: Sequence[str] = (),
        catalog: Path | None = None,
        report: Report = print,
    ) -> None:
        self._run_operator = run_operator
        self._with_node = with_node
        self.control_plane: LocalControlPlane | None = None
        self._operator_args = tuple(operator_args)
        self._catalog = catalog
        self._report = report
        self._exit = ExitStack()
        self.kubeconfig = Path()
        self.kubectl = "kubectl"
        self.credentials: dict[str, Any] = {}
        self.operator: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DevStack:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._exit.close()

    def _start(self) -> None:
        self._start_cluster()
        workdir = Path(tempfile.mkdtemp(prefix="vmroll-dev-"))
        self._exit.callback(shutil.rmtree, workdir, ignore_errors=True)
        self.credentials, ca_pem = self._start_emulator(workdir / "emulator")
        self._install(self.credentials, ca_pem, workdir)
        if self._run_operator:
            certificates = write_webhook_certificates(workdir / "webhook")
            port = _free_port()
            self.operator = self._spawn(
                ["run", *TRUST_EMULATOR, "--webhook", f"127.0.0.1:{port}",
                 "--webhook-cert-dir", str(certificates.directory), *self._operator_args],
                log=None,
                env={"KUBECONFIG": str(self.kubeconfig)},
            )  # fmt: skip
            self._wait_webhook(self.operator, port, certificates)
            self._register_webhook(port, certificates)

    def _wait_webhook(
        self, operator: subprocess.Popen[bytes], port: int, certificates: WebhookCertificates
    ) -> None:
        """Until the operator's webhook completes a TLS handshake verified against its CA: a
        pool applied right after `vmroll dev` prints its instructions must not find it absent."""
        trust = ssl.create_default_context(cadata=certificates.ca_pem.decode())
        deadline = time.monotonic() + WEBHOOK_READY_TIMEOUT_SECONDS
        while True:
            try:
                with (
                    socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
                    trust.wrap_socket(raw, server_hostname="127.0.0.1"),
                ):
                    return
            except OSError as error:
                if operator.poll() is not None:
                    raise DevStackError(
                        f"the operator exited with {operator.returncode} before serving its webhook"
                    ) from error
                if time.monotonic() > deadline:
                    raise DevStackError(
                        f"the operator's webhook did not answer on 127.0.0.1:{port}: {error}"
                    ) from error
            time.sleep(0.2)

    def _register_webhook(self, port: int, certificates: WebhookCertificates) -> None:
        """Register the served webhook with the stack's CA as its bundle; unregister on exit."""
        directory = certificates.directory
        client_config = url_client_config(f"https://127.0.0.1:{port}", certificates.ca_bundle)
        manifest = webhook_configuration(client_config, name=WEBHOOK_CONFIGURATION)
        configuration = directory / "webhook.json"
        configuration.write_text(json.dumps(manifest))
        self.kubectl_run("apply", "-f", str(configuration))
        self._exit.callback(
            self.kubectl_run, "delete", "-f", str(configuration), "--ignore-not-found"
        )

    def _start_cluster(self) -> None:
        existing = os.environ.get(KUBECONFIG_VARIABLE)
        if existing:
            self._report(f"Using the cluster of {KUBECONFIG_VARIABLE}={existing}")
            self.kubeconfig = Path(existing)
            self.kubectl = shutil.which("kubectl") or "kubectl"
            return
        self._report("Starting the local control plane (etcd + kube-apiserver)...")
        plane = LocalControlPlane(
            name=INSTANCE_NAME, with_node=self._with_node, report=self._report
        )
        plane.start()
        self._exit.callback(plane.stop)
        self.control_plane = plane
        self.kubeconfig = plane.kubeconfig_path
        self.kubectl = str(plane.kubectl_path)

    def _start_emulator(self, data_dir: Path) -> tuple[dict[str, Any], str]:
        self._report("Starting the Azure emulator...")
        data_dir.mkdir(parents=True)
        serve = ["emulator", "serve", "--port", "0", "--data-dir", str(data_dir)]
        if self._catalog is not None:
            serve += ["--catalog", str(self._catalog)]
        process = self._spawn(serve, log=data_dir / "emulator.log")
        credentials_file = data_dir / "credentials.json"
        deadline = time.monotonic() + EMULATOR_READY_TIMEOUT_SECONDS
        while not credentials_file.exists():
            if process.poll() is not None:
                log = (data_dir / "emulator.log").read_text(errors="replace")[-2000:]
                raise DevStackError(f"the Azure emulator exited with {process.returncode}:\n{log}")
            if time.monotonic() > deadline:
                raise DevStackError("the Azure emulator did not write credentials.json in time")
            time.sleep(0.1)
        credentials: dict[str, Any] = json.loads(credentials_file.read_text())
        ca_pem = Path(credentials["caBundle"]).read_text()
        self._report(f"Azure emulator: {credentials['resourceManagerEndpoint']}")
        return credentials, ca_pem

    def _install(self, credentials: dict[str, Any], ca_pem: str, workdir: Path) -> None:
        self._report("Installing the CRDs and the emulator's AzureAccount...")
        crd_dir = workdir / "crds"
        crd_dir.mkdir()
        for filename, text in render_crds().items():
            (crd_dir / filename).write_text(text)
        self.kubectl_run("apply", "--server-side", "-f", str(crd_dir))
        self._wait_established(crd_dir)
        manifests = [
            system_namespace(),
            credentials_secret(credentials),
            emulator_account(credentials, ca_pem),
        ]
        account_file = workdir / "account.yaml"
        account_file.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
        self.kubectl_run("apply", "-f", str(account_file))

    def _wait_established(self, crd_dir: Path) -> None:
        # `kubectl wait` fails outright, instead of waiting, while a just-created CRD's
        # status.conditions is still null ("accessor error"): ask again until it has them.
        deadline = time.monotonic() + 60
        while True:
            try:
                self.kubectl_run(
                    "wait", "--for=condition=Established", "--timeout=60s", "-f", str(crd_dir)
                )
                return
            except DevStackError as error:
                if "accessor error" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(0.5)

    def kubectl_run(self, *args: str) -> str:
        result = subprocess.run(
            [self.kubectl, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DevStackError(f"kubectl {' '.join(args[:2])} failed: {result.stderr.strip()}")
        return result.stdout

    def _spawn(
        self,
        vmroll_args: Sequence[str],
        *,
        log: Path | None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        output = log.open("wb") if log is not None else None
        if output is not None:
            self._exit.callback(output.close)
        process = subprocess.Popen(
            [sys.executable, "-m", "vmroll.cli", *vmroll_args],
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            env={**os.environ, **(env or {})},
        )
        self._exit.callback(_stop, process)
        return process


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
