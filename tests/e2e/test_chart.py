"""The Helm chart: `helm lint --strict` passes, the values schema refuses unknown keys, and
manifests/ is what the chart renders (applicable with `kubectl apply -k`, and its Deployment
admitted under Pod Security "restricted").

helm is the built tool set (the `helm` fixture); renders go through `vmroll.chart.helm`, the
same code as `vmroll manifests`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chart_helpers import CHART, MANIFESTS, lint, only, pod_of, render
from e2e_harness import Kubectl
from pool_helpers import CRD_NAMES

from vmroll.chart import helm as chart_helm
from vmroll.chart.cli import NAMESPACE, RELEASE
from vmroll.chart.kustomize import KUSTOMIZATION, kustomize_base

pytestmark = pytest.mark.e2e


def test_helm_lint_strict_passes(helm: Path) -> None:
    output = lint(helm, CHART, strict=True)
    assert "1 chart(s) linted, 0 chart(s) failed" in output
    assert "[WARNING]" not in output
    assert "[ERROR]" not in output


@pytest.mark.parametrize(
    ("values", "offending"),
    [
        ({"replica": 2}, "additional properties 'replica' not allowed"),
        ({"metrics": {"serviceMonitor": {"enable": True}}}, "'enable' not allowed"),
        ({"serviceAccount": {"annotation": {}}}, "'annotation' not allowed"),
        ({"logLevel": "trace"}, "logLevel"),
    ],
    ids=["top level", "nested", "service account", "log level"],
)
def test_the_values_schema_refuses_what_it_does_not_know(
    helm: Path, values: dict[str, object], offending: str
) -> None:
    with pytest.raises(chart_helm.HelmFailed, match=offending):
        render(helm, release="vmroll", namespace="vmroll-system", values=values)


def test_manifests_are_what_the_chart_renders(helm: Path) -> None:
    rendered = chart_helm.template(helm, CHART, release=RELEASE, namespace=NAMESPACE)
    expected = kustomize_base(rendered, NAMESPACE)
    committed = {path.name: path.read_text() for path in MANIFESTS.glob("*.yaml")}
    assert sorted(committed) == sorted(expected), "manifests/ is stale: run `make manifests`"
    for name, text in expected.items():
        assert committed[name] == text, f"manifests/{name} is stale: run `make manifests`"


@pytest.fixture
def release_namespace(kubectl: Kubectl) -> Iterator[str]:
    """The base's namespace, created for real: a server-side dry run persists nothing, so the
    namespaced objects of the same dry run would not find it."""
    existed = kubectl("get", "namespace", NAMESPACE, check=False).returncode == 0
    kubectl("apply", "-f", str(MANIFESTS / "namespace.yaml"))
    yield NAMESPACE
    if not existed:
        kubectl("delete", "namespace", NAMESPACE, "--wait=false")


def test_the_kustomize_base_applies_and_its_pod_is_admitted_as_restricted(
    kubectl: Kubectl, release_namespace: str
) -> None:
    applied = kubectl("apply", "-k", str(MANIFESTS), "--dry-run=server")
    built = [d for d in yaml.safe_load_all(kubectl("kustomize", str(MANIFESTS)).stdout) if d]
    kinds = sorted(d["kind"] for d in built)
    assert kinds == sorted(
        ["Namespace", *["CustomResourceDefinition"] * len(CRD_NAMES), "ServiceAccount",
         "ClusterRole", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "Service",
         "Deployment"]
    )  # fmt: skip
    assert len(applied.stdout.strip().splitlines()) == len(built), applied.stdout
    deployment = only(built, "Deployment")
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kustomize"
    pod = pod_of(deployment, "vmroll-dry-run")
    admitted = kubectl("apply", "-n", release_namespace, "--dry-run=server", "-f", "-",
                       input=json.dumps(pod))  # fmt: skip
    assert "created (server dry run)" in admitted.stdout
    assert "Warning" not in admitted.stderr, admitted.stderr


def test_the_kustomization_lists_every_rendered_file() -> None:
    kustomization = yaml.safe_load((MANIFESTS / KUSTOMIZATION).read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in MANIFESTS.glob("*.yaml")} - {KUSTOMIZATION}
