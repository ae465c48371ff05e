"""Everything the chart renders is valid on a real kube-apiserver, for the default values and for
the combinations users set; the operator's Pod is admitted in a namespace that enforces Pod
Security "restricted", and one that breaks it (hostNetwork) is refused there.

Each rendering is applied with `kubectl apply --dry-run=server`: the apiserver validates every
object (schemas, CRD structure, RBAC references) and persists nothing; the ServiceMonitor against
the Prometheus Operator's own CRD (the `service_monitor_crd` fixture).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chart_helpers import as_list, container_args, of_kind, only, pod_of, render
from cryptography import x509
from e2e_harness import Kubectl
from pool_helpers import CRD_NAMES

from vmroll.admission.registration import webhook_configuration
from vmroll.admission.server import PATH
from vmroll.cli import build_parser

pytestmark = pytest.mark.e2e
pytest_plugins = ("chart_fixtures",)

CLIENT_ID = "00000000-0000-0000-0000-0000000000aa"
TENANT_ID = "00000000-0000-0000-0000-0000000000bb"
Check = Callable[[list[dict[str, Any]], str], None]


def _defaults(objects: list[dict[str, Any]], namespace: str) -> None:
    args = container_args(objects)
    assert args == ["run", "--liveness", "http://0.0.0.0:8081/healthz",
                    "--metrics", "0.0.0.0:8080", "--log-level", "info",
                    "--cluster-resource-namespace", namespace]  # fmt: skip
    assert only(objects, "Service")["spec"]["ports"][0]["targetPort"] == "metrics"
    assert of_kind(objects, "Role") == []
    crds = of_kind(objects, "CustomResourceDefinition")
    assert sorted(crd["metadata"]["name"] for crd in crds) == sorted(CRD_NAMES)


def _metrics_off(objects: list[dict[str, Any]], namespace: str) -> None:
    assert "--metrics" not in container_args(objects)
    assert of_kind(objects, "Service") == []
    (container,) = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [port["name"] for port in container["ports"]] == ["health"]


def _two_replicas(objects: list[dict[str, Any]], namespace: str) -> None:
    args = container_args(objects)
    election = args.index("--leader-elect")
    assert args[election + 1 : election + 3] == ["--leader-election-namespace", namespace]
    role = only(objects, "Role")
    assert role["metadata"]["namespace"] == namespace
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"get", "create", "update"}
    assert only(objects, "RoleBinding")["roleRef"]["name"] == role["metadata"]["name"]
    assert only(objects, "Deployment")["spec"]["replicas"] == 2


def _workload_identity(objects: list[dict[str, Any]], namespace: str) -> None:
    account = only(objects, "ServiceAccount")["metadata"]
    assert account["annotations"] == {
        "azure.workload.identity/client-id": CLIENT_ID,
        "azure.workload.identity/tenant-id": TENANT_ID,
    }
    labels = only(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert labels["azure.workload.identity/use"] == "true"


def _one_namespace(objects: list[dict[str, Any]], namespace: str) -> None:
    args = container_args(objects)
    assert args[args.index("-n") + 1] == "pools"
    assert args.count("-n") == 1


def _pdb_and_service_monitor(objects: list[dict[str, Any]], namespace: str) -> None:
    budget = only(objects, "PodDisruptionBudget")["spec"]
    pod_labels = only(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
    assert budget["minAvailable"] == 1
    monitor = only(objects, "ServiceMonitor")
    service = only(objects, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selected = monitor["spec"]["selector"]["matchLabels"]
    assert selected.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [namespace]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]


def _webhook(objects: list[dict[str, Any]], namespace: str) -> None:
    """Served by every replica, registered as vmroll/admission/registration.py describes it,
    towards the Service, trusting the CA that signed the Secret's certificate for that name."""
    args = container_args(objects)
    assert args[args.index("--webhook") + 1] == "0.0.0.0:9443"
    assert args[args.index("--webhook-cert-dir") + 1] == "/etc/vmroll/webhook"
    service = next(
        s for s in of_kind(objects, "Service") if s["metadata"]["name"].endswith("-webhook")
    )
    secret = only(objects, "Secret")
    configuration = only(objects, "ValidatingWebhookConfiguration")
    client_config = {
        "service": {"name": service["metadata"]["name"], "namespace": namespace,
                    "path": PATH, "port": 443},
        "caBundle": secret["data"]["ca.crt"],
    }  # fmt: skip
    assert configuration["webhooks"] == webhook_configuration(client_config)["webhooks"]
    authority = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    leaf = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    leaf.verify_directly_issued_by(authority)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    host = f"{service['metadata']['name']}.{namespace}.svc"
    assert host in names.get_values_for_type(x509.DNSName)
    mounts = only(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"secretName": secret["metadata"]["name"], "defaultMode": 0o440} in [
        m.get("secret") for m in mounts
    ]


CASES: list[tuple[str, dict[str, Any], Check]] = [
    ("defaults", {}, _defaults),
    ("metrics off", {"metrics": {"enabled": False}}, _metrics_off),
    ("two replicas", {"replicas": 2}, _two_replicas),
    ("workload identity", {"azure": {"allowCustomEndpoints": True, "workloadIdentity": {
        "enabled": True, "clientId": CLIENT_ID, "tenantId": TENANT_ID}}}, _workload_identity),
    ("one namespace, debug", {"watchNamespaces": ["pools"], "logLevel": "debug"}, _one_namespace),
    ("pdb and service monitor", {"replicas": 2, "crds": {"install": False},
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}},
     _pdb_and_service_monitor),
    ("webhook, two replicas", {"replicas": 2, "webhook": {"enabled": True}}, _webhook),
]  # fmt: skip


@pytest.mark.parametrize("values", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_vmroll_run_accepts_the_arguments_the_chart_passes(
    helm: Path, values: dict[str, Any]
) -> None:
    """The chart's container args are `vmroll run`'s flags, parsed by vmroll's own parser."""
    objects = render(helm, release="vmroll", namespace="vmroll-system", values=values)
    args = build_parser().parse_args(container_args(objects))
    assert args.command == "run"
    assert args.log_level == values.get("logLevel", "info")
    assert args.namespace == values.get("watchNamespaces", [])
    metrics = values.get("metrics", {}).get("enabled", True)
    assert (args.metrics is not None) == metrics
    assert args.leader_elect == (values.get("replicas", 1) > 1)
    assert args.cluster_resource_namespace == "vmroll-system"
    custom = values.get("azure", {}).get("allowCustomEndpoints", False)
    assert args.allow_custom_endpoints == custom
    assert (args.webhook is not None) == values.get("webhook", {}).get("enabled", False)
    if args.leader_elect:
        lease = (args.leader_election_namespace, args.leader_election_name)
        assert lease == ("vmroll-system", "vmroll")


def restrict(kubectl: Kubectl, namespace: str) -> None:
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/enforce-version=latest")  # fmt: skip


@pytest.mark.parametrize(("values", "check"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_rendering_is_valid_and_its_pod_is_admitted_as_restricted(
    helm: Path,
    kubectl: Kubectl,
    namespace: str,
    service_monitor_crd: str,
    values: dict[str, Any],
    check: Check,
) -> None:
    restrict(kubectl, namespace)
    objects = render(helm, release="vmroll", namespace=namespace, values=values)
    check(objects, namespace)

    applied = kubectl("apply", "--dry-run=server", "-f", "-", input=as_list(objects))
    assert applied.stdout.count("(server dry run)") == len(objects), applied.stdout
    pod = pod_of(only(objects, "Deployment"), "vmroll-dry-run")
    admitted = kubectl("apply", "-n", namespace, "--dry-run=server", "-f", "-",
                       input=json.dumps(pod))  # fmt: skip
    assert "pod/vmroll-dry-run created (server dry run)" in admitted.stdout
    assert warnings(applied.stderr + admitted.stderr) == []


SESSION_ARTEFACT = "is missing the kubectl.kubernetes.io/last-applied-configuration annotation"
"""Other tests of the session apply vmroll's CRDs server-side; a client-side apply of the
chart's copy over them says so. That is about how the CRDs got there, not about the chart."""


def warnings(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    return [line for line in lines if "Warning" in line and SESSION_ARTEFACT not in line]


def test_host_network_is_refused_by_the_restricted_namespace(
    helm: Path, kubectl: Kubectl, namespace: str
) -> None:
    """The control: the namespace really enforces, so the admissions above mean something."""
    restrict(kubectl, namespace)
    objects = render(helm, release="vmroll", namespace=namespace, values={"hostNetwork": True})
    pod = pod_of(only(objects, "Deployment"), "vmroll-dry-run")
    refused = kubectl("apply", "-n", namespace, "--dry-run=server", "-f", "-",
                      input=json.dumps(pod), check=False)  # fmt: skip
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest": host namespaces' in refused.stderr


def test_extra_env_reaches_the_container(helm: Path) -> None:
    secret = {"secretKeyRef": {"name": "s", "key": "k"}}
    extra = [{"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
             {"name": "FROM_SECRET", "valueFrom": secret}]  # fmt: skip
    objects = render(helm, release="vmroll", namespace="ns", values={"extraEnv": extra})
    (container,) = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    names = [e["name"] for e in container["env"]]
    assert names == ["POD_NAME", "POD_NAMESPACE", "KUBERNETES_SERVICE_HOST", "FROM_SECRET"]
