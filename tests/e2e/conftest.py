"""Fixtures of the e2e tests: a real Kubernetes API to test against, and ways to drive it.

By default the session starts its own local control plane (real etcd + kube-apiserver built by
`vmroll devcluster build`), named `e2e-session-<pid>`, and stops it at the end; one left by a
killed session is removed by the next. With
`VMROLL_KUBECONFIG=/path/to/kubeconfig` the tests use that cluster instead (kind, for instance);
a vmroll-specific variable, so a user's everyday KUBECONFIG never receives test objects.

Fixtures:
- `cluster` (session): the `Cluster` (kubeconfig, kubectl, whether it is local); its `env()`
  is the environment for a child process (an operator) that should talk to it.
- `kubeconfig` (session): path of its kubeconfig.
- `kubectl` (session): `kubectl(*args, input=None, check=True)` -> CompletedProcess; raises
  `KubectlFailed` (with stderr) on a non-zero exit unless check=False; `.json(*args)` parses.
- `k8s_client` (session): a `kubernetes.client.ApiClient` for the cluster.
- `namespace` (per test): a fresh namespace; at teardown its custom resources (finalizers
  cleared), events, configmaps and secrets are deleted, then the namespace. Objects of other
  kinds, and cluster-scoped objects, are the test's to delete.
- `widget_crd` (session): the test-only CRD `widgets.tests.vmroll.io`, removed at the end.
- `helm` (session): the path of helm from the "helm" tool set, built first when missing.

- `node_cluster` (session, from node_fixtures.py): a second local control plane with a real
  node, for tests marked `node`; VMROLL_SKIP_NODE_TESTS=1 deselects those (never set in CI).

For the whole session the directory of the built kubectl is first on PATH.
Every e2e test module sets `pytestmark = pytest.mark.e2e`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_harness import (
    Cluster,
    Kubectl,
    create_namespace,
    delete_namespace,
    node_tests_opted_out,
    unique_namespace,
)
from kubernetes import client, config
from node_fixtures import node_cluster

from vmroll.chart.helm import ensure_helm
from vmroll.devcluster import LocalControlPlane, ensure_binaries, existing_cluster_kubeconfig
from vmroll.devcluster.instance import InstanceFiles, remove
from vmroll.devcluster.paths import state_root
from vmroll.devcluster.versions import KUBECTL

MANIFESTS = Path(__file__).parent / "manifests"
WIDGET_CRD = "widgets.tests.vmroll.io"
# Each session's control plane is named after its pid, so that sessions run side by side and a
# later session can tell the leftovers of a killed one.
SESSION_PREFIX = "e2e-session-"


__all__ = ["node_cluster"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """VMROLL_SKIP_NODE_TESTS=1 deselects the tests that need a node; nothing else does."""
    if not node_tests_opted_out():
        return
    kept = [item for item in items if item.get_closest_marker("node") is None]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def remove_instances_of_dead_sessions() -> None:
    """Control planes of test sessions that were killed before they could stop theirs."""
    for directory in state_root().glob(f"{SESSION_PREFIX}*"):
        owner = directory.name.removeprefix(SESSION_PREFIX)
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            remove(InstanceFiles(directory))


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    existing = existing_cluster_kubeconfig()
    if existing is not None:
        found = shutil.which("kubectl")
        kubectl = Path(found) if found else ensure_binaries().binary(KUBECTL)
        selected = Cluster(existing, kubectl, local=False)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PATH", selected.env()["PATH"])
            yield selected
        return
    remove_instances_of_dead_sessions()
    with (
        LocalControlPlane(name=f"{SESSION_PREFIX}{os.getpid()}") as control_plane,
        pytest.MonkeyPatch.context() as patch,
    ):
        local = Cluster(
            control_plane.kubeconfig_path,
            control_plane.kubectl_path,
            True,
            control_plane.restart_apiserver,
        )
        patch.setenv("PATH", local.env()["PATH"])
        yield local


@pytest.fixture(scope="session")
def kubeconfig(cluster: Cluster) -> Path:
    return cluster.kubeconfig


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster) -> Kubectl:
    return Kubectl(cluster.kubectl, cluster.kubeconfig)


@pytest.fixture(scope="session")
def k8s_client(cluster: Cluster) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    with api:
        yield api


@pytest.fixture
def namespace(request: pytest.FixtureRequest, k8s_client: client.ApiClient) -> Iterator[str]:
    name = unique_namespace(request.node.name)
    create_namespace(k8s_client, name)
    yield name
    delete_namespace(k8s_client, name)


@pytest.fixture(scope="session")
def widget_crd(kubectl: Kubectl) -> Iterator[str]:
    kubectl("apply", "-f", str(MANIFESTS / "widgets.yaml"))
    kubectl.wait_established(WIDGET_CRD)
    yield WIDGET_CRD
    kubectl("delete", "crd", WIDGET_CRD, "--wait=true", "--timeout=120s")


@pytest.fixture(scope="session")
def helm() -> Path:
    return ensure_helm()
