"""The operator image and a chart release on the local node (release_helpers.Release), removed
when the test ends. A module uses them with `pytest_plugins = ("pool_fixtures",
"release_fixtures")`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from node_fixtures import NodeCluster
from pool_helpers import EmulatorProcess
from release_helpers import TIMEOUT_SECONDS, Release

from vmroll.imagebuild.build import build_image


@pytest.fixture(scope="session")
def operator_image() -> Path:
    """The image archive `make image` writes, from the image cache when nothing changed."""
    return build_image().archive


@pytest.fixture
def release(
    node_cluster: NodeCluster,
    helm: Path,
    operator_image: Path,
    emulator: EmulatorProcess,
    tmp_path: Path,
) -> Iterator[Release]:
    """The release, removed before the emulator stops: deleting a pool deletes its VMs there.
    The pools and the account go while the operator still runs, to remove their finalizers."""
    node_cluster.control_plane.node.import_image(operator_image)
    installed = Release(node_cluster, helm, tmp_path)
    kubectl = installed.kubectl
    for namespace in (installed.namespace, installed.pools):
        kubectl("create", "namespace", namespace)
    try:
        yield installed
        kubectl("delete", "vmpool", "--all", "-n", installed.pools, "--timeout=240s",
                timeout=TIMEOUT_SECONDS)  # fmt: skip
        kubectl("delete", "azureaccount", f"emu-{installed.pools}", "--ignore-not-found",
                "--timeout=120s", timeout=TIMEOUT_SECONDS)  # fmt: skip
    finally:
        installed.helm_run("uninstall", installed.name, "--namespace", installed.namespace,
                           "--ignore-not-found", "--wait", "--timeout", "120s")  # fmt: skip
        for namespace in (installed.namespace, installed.pools):
            kubectl("delete", "namespace", namespace, "--wait=false")
