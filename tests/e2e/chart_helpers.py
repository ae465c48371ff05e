"""Helpers of the chart's e2e tests: render charts/vmroll with helm (the same call as
`vmroll manifests`) and lint it, pick objects out of a rendering, build a Pod from the
Deployment, and the chart's ServiceAccount with a kubeconfig for it (fixture: chart_fixtures.py).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vmroll.chart import helm as chart_helm
from vmroll.devcluster.versions import KUBERNETES_VERSION

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "vmroll"
MANIFESTS = ROOT / "manifests"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def render(
    helm: Path, *, release: str, namespace: str, values: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The chart's objects for these values; raises `HelmFailed` when helm refuses them."""
    with tempfile.TemporaryDirectory() as directory:
        values_file = Path(directory) / "values.yaml"
        values_file.write_text(yaml.safe_dump(values or {}))
        text = chart_helm.template(
            helm, CHART, release=release, namespace=namespace, values_files=[values_file]
        )
    return [document for document in yaml.safe_load_all(text) if document]


def lint(helm: Path, chart: Path, *, strict: bool = True) -> str:
    """`helm lint` of a chart, against the Kubernetes version the chart is rendered for."""
    args = ["lint", str(chart), "--kube-version", KUBERNETES_VERSION]
    return chart_helm.run_helm(helm, *args, *(["--strict"] if strict else []))


def of_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [document for document in documents if document["kind"] == kind]


def only(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = of_kind(documents, kind)
    return found


def container_args(documents: list[dict[str, Any]]) -> list[str]:
    (container,) = only(documents, "Deployment")["spec"]["template"]["spec"]["containers"]
    args: list[str] = container["args"]
    return args


def pod_of(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    """A Pod as the Deployment's ReplicaSet would create it: what Pod Security admits or not."""
    template = deployment["spec"]["template"]
    metadata = {**template["metadata"], "name": name}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}


def as_list(documents: list[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": documents})


@dataclass(frozen=True)
class ChartServiceAccount:
    """The chart's ServiceAccount in its release namespace, and a kubeconfig authenticated as it."""

    namespace: str
    name: str
    release: str
    kubeconfig: Path
    cluster_role: dict[str, Any]
    role: dict[str, Any]

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


def token_kubeconfig(admin: Path, token: str, namespace: str) -> dict[str, Any]:
    """The admin kubeconfig's cluster, with the token as its only user."""
    config = yaml.safe_load(admin.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": "vmroll", "user": {"token": token}}],
        "contexts": [{"name": "vmroll", "context": {
            "cluster": cluster["name"], "user": "vmroll", "namespace": namespace}}],
        "current-context": "vmroll",
    }  # fmt: skip
