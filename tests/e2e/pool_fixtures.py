"""Fixtures of the VirtualMachinePool e2e tests: vmroll's CRDs, an emulator, an AzureAccount
for it, and the operator.

The emulator is per test, so that counters, accepted terms and faults never leak from one test
into another. A test module uses them with `pytest_plugins = ("pool_fixtures",)`.

The operator authenticates as the cluster's admin, or, for a module that sets
`pytestmark = BY_CREDENTIAL` (with `pytest.mark.e2e`), once as the admin and once as the Helm
chart's ServiceAccount with only the RBAC the chart grants: every scenario of such a module then
proves that the chart's ClusterRole is enough.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_helpers import ChartServiceAccount
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import (
    ADMIN,
    CRD_NAMES,
    CRDS,
    EmulatorProcess,
    Operator,
    account_manifest,
    fast_catalog_data,
)

pytest_plugins = ("chart_fixtures",)


@pytest.fixture(scope="session")
def pool_crds(kubectl: Kubectl) -> tuple[str, ...]:
    """vmroll's CRDs, applied once per session (applying again changes nothing)."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    for name in CRD_NAMES:
        kubectl.wait_established(name)
    return CRD_NAMES


@pytest.fixture
def emulator_catalog() -> dict[str, Any]:
    """The emulator's catalog; a module overrides this fixture to test in another world."""
    return fast_catalog_data()


@pytest.fixture
def emulator(tmp_path: Path, emulator_catalog: dict[str, Any]) -> Iterator[EmulatorProcess]:
    data_dir = tmp_path / "emulator"
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(emulator_catalog))
    log = tmp_path / "emulator.log"
    argv = [sys.executable, "-m", "vmroll.cli", "emulator", "serve", "--port", "0",
            "--data-dir", str(data_dir), "--catalog", str(catalog)]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
    try:
        credentials_file = data_dir / "credentials.json"
        wait_for(
            "the emulator's credentials.json",
            lambda: True if credentials_file.exists() or process.poll() is not None else None,
            timeout=60, describe=log.read_text,
        )  # fmt: skip
        assert process.poll() is None, log.read_text()
        credentials = json.loads(credentials_file.read_text())
        yield EmulatorProcess(process, credentials, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def account(
    kubectl: Kubectl, namespace: str, emulator: EmulatorProcess, pool_crds: tuple[str, ...]
) -> Iterator[str]:
    """An AzureAccount for the emulator that admits the test's namespace; its Secret there."""
    secret = base64.b64encode(emulator.credentials["clientSecret"].encode()).decode()
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "azure"},
        "data": {"secret": secret},
    }))  # fmt: skip
    name = f"emu-{namespace}"
    kubectl("apply", "-f", "-", input=json.dumps(
        account_manifest(name, emulator, namespace, [namespace])
    ))  # fmt: skip
    yield name
    kubectl("delete", "azureaccount", name, "--ignore-not-found", "--wait=false")


@pytest.fixture
def operator_credential(request: pytest.FixtureRequest) -> Path | None:
    """The operator's kubeconfig: None for the admin's, else the chart ServiceAccount's."""
    if getattr(request, "param", ADMIN) == ADMIN:
        return None
    account: ChartServiceAccount = request.getfixturevalue("chart_service_account")
    return account.kubeconfig


@pytest.fixture
def operator(
    cluster: Cluster,
    namespace: str,
    account: str,
    tmp_path: Path,
    operator_credential: Path | None,
) -> Iterator[Operator]:
    runner = Operator(cluster, namespace, tmp_path / "operator.log", operator_credential)
    runner.start()
    yield runner
    runner.stop()
