"""Fixtures of the e2e tests: a real Kubernetes API to test against, and ways to drive it.

By default the session starts its own local control plane (real etcd + kube-apiserver built by
`vmroll devcluster build`) in a temporary state directory and stops it at the end. With
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

For the whole session the directory of the built kubectl is first on PATH.
Every e2e test module sets `pytestmark = pytest.mark.e2e`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_harness import Cluster, Kubectl, create_namespace, delete_namespace, unique_namespace
from kubernetes import client, config

from vmroll.devcluster import LocalControlPlane, ensure_binaries, existing_cluster_kubeconfig
from vmroll.devcluster.versions import KUBECTL

MANIFESTS = Path(__file__).parent / "manifests"
WIDGET_CRD = "widgets.tests.vmroll.io"


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    existing = existing_cluster_kubeconfig()
    if existing is not None:
        found = shutil.which("kubectl")
        kubectl = Path(found) if found else ensure_binaries().binary(KUBECTL)
        selected = Cluster(existing, kubectl, local=False)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PATH", selected.env()["PATH"])
            yield selected
        return
    state = tmp_path_factory.mktemp("devcluster-state")
    environ = {**os.environ, "VMROLL_STATE_DIR": str(state)}
    with (
        LocalControlPlane(name="e2e", environ=environ) as control_plane,
        pytest.MonkeyPatch.context() as patch,
    ):
        local = Cluster(control_plane.kubeconfig_path, control_plane.kubectl_path, local=True)
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
    kubectl("wait", "--for=condition=Established", f"crd/{WIDGET_CRD}", "--timeout=60s")
    yield WIDGET_CRD
    kubectl("delete", "crd", WIDGET_CRD, "--wait=true", "--timeout=120s")
