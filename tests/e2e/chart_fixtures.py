"""The chart's ServiceAccount with its RBAC on the real apiserver, and a kubeconfig holding a
token for it, so that an operator process runs with exactly the rights the chart grants; and the
Prometheus Operator's ServiceMonitor CRD, so that the chart's ServiceMonitor is validated too.

The local apiserver runs without the ServiceAccount admission plugin and without a controller
manager, so no token Secret appears; the TokenRequest API (`kubectl create token`) issues one
as the kubelet would for a pod. A module uses the fixture with
`pytest_plugins = ("chart_fixtures",)` (pool_fixtures does).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chart_helpers import (
    RBAC_KINDS,
    ROOT,
    ChartServiceAccount,
    as_list,
    of_kind,
    only,
    render,
    token_kubeconfig,
)
from e2e_harness import Cluster, Kubectl, create_namespace, delete_namespace
from kubernetes import client

from vmroll.devcluster.gobuild import find_go, go_build_environment

MONITORING_MODULE = ROOT / "hack" / "monitoring"
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator"
SERVICE_MONITOR_CRD_FILE = (
    "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
)
SERVICE_MONITOR_CRD = "servicemonitors.monitoring.coreos.com"
TOKEN_LIFETIME = "4h"
"""Longer than any test session; a pod's projected token is renewed, this one need not be."""


@pytest.fixture(scope="session")
def chart_service_account(
    helm: Path,
    cluster: Cluster,
    kubectl: Kubectl,
    k8s_client: client.ApiClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ChartServiceAccount]:
    suffix = secrets.token_hex(3)
    namespace, release = f"e2e-vmroll-system-{suffix}", f"vmroll-{suffix}"
    create_namespace(k8s_client, namespace)
    # Leader election on, so that its Role in the release namespace is granted (and listed) too.
    values = {"leaderElection": {"enabled": True}}
    objects = render(helm, release=release, namespace=namespace, values=values)
    rbac = [o for o in objects if o["kind"] in RBAC_KINDS]
    bound = only(objects, "ClusterRoleBinding")["roleRef"]["name"]
    (cluster_role,) = [o for o in of_kind(objects, "ClusterRole") if o["metadata"]["name"] == bound]
    kubectl("apply", "-f", "-", input=as_list(rbac))
    name = only(objects, "ServiceAccount")["metadata"]["name"]
    token = kubectl("create", "token", name, "-n", namespace, "--duration", TOKEN_LIFETIME)
    path = tmp_path_factory.mktemp("chart-service-account") / "kubeconfig"
    path.write_text(yaml.safe_dump(token_kubeconfig(cluster.kubeconfig, token.stdout.strip(),
                                                    namespace)))  # fmt: skip
    path.chmod(0o600)
    yield ChartServiceAccount(namespace, name, release, path, cluster_role, only(objects, "Role"))
    for kind in ("ClusterRoleBinding", "ClusterRole"):
        names = [o["metadata"]["name"] for o in of_kind(rbac, kind)]
        kubectl("delete", kind.lower(), *names, "--ignore-not-found")
    delete_namespace(k8s_client, namespace)


@pytest.fixture(scope="session")
def service_monitor_crd(kubectl: Kubectl) -> Iterator[str]:
    """The ServiceMonitor CRD as the Prometheus Operator publishes it, from its Go module at the
    version hack/monitoring pins (downloaded into the Go module cache, checked against go.sum).
    A cluster that already has it (VMROLL_KUBECONFIG) keeps its own, untouched."""
    if kubectl("get", "crd", SERVICE_MONITOR_CRD, check=False).returncode == 0:
        yield SERVICE_MONITOR_CRD
        return
    completed = subprocess.run(
        [find_go(), "mod", "download", "-json", PROMETHEUS_OPERATOR],
        cwd=MONITORING_MODULE, env=go_build_environment(os.environ), capture_output=True,
        text=True, check=False, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    crd = Path(json.loads(completed.stdout)["Dir"]) / SERVICE_MONITOR_CRD_FILE
    kubectl("apply", "--server-side", "-f", str(crd))
    kubectl.wait_established(SERVICE_MONITOR_CRD)
    yield SERVICE_MONITOR_CRD
    kubectl("delete", "crd", SERVICE_MONITOR_CRD, "--wait=false")
