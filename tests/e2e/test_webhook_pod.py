"""The chart's admission webhook served by the operator pod on the local node and called by the
real kube-apiserver through the chart's Service and ValidatingWebhookConfiguration.

`helm install` with `webhook.enabled=true` mints the CA and serving certificate, mounts them in
the pod and puts the CA in the configuration's caBundle; the apiserver dials the Service's ready
endpoint (the devcluster's apiserver routes to endpoints, there being no kube-proxy) and verifies
the certificate against that bundle: with another CA in the bundle the same request fails. A Deny
ImagePolicy refuses a violating pool and a violating version bump with its message on kubectl's
stderr; a compliant pool is admitted and reconciled. With the Deployment scaled to 0, creating a
pool is refused (failurePolicy Fail, as values.yaml documents) but deleting one is accepted, and
the operator back finishes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import EmulatorProcess, condition, current, pool_manifest
from release_helpers import TIMEOUT_SECONDS, Release

from vmroll.devcluster.ports import free_port
from vmroll.pki.webhook import write_webhook_certificates

pytestmark = [pytest.mark.e2e, pytest.mark.node]
pytest_plugins = ("pool_fixtures", "release_fixtures")

NEWEST = "24.04.202611100"
DENIED = "24.04.202610220"
REFUSED = 'admission webhook "pools.vmroll.io" denied the request'
UNREACHABLE = 'failed calling webhook "pools.vmroll.io"'
FINALIZER = "vmroll.io/finalizer"


def _pool(name: str, account: str, emulator: EmulatorProcess, version: str) -> dict[str, Any]:
    image = {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                             "sku": "server", "version": version}}  # fmt: skip
    return pool_manifest(name, account, emulator, replicas=0, image=image)


def _policy(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": name},
        "spec": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "rules": {"deniedVersions": [{"version": DENIED, "reason": "CVE-2026-0001"}]},
            "enforcement": "Deny",
        },
    }


def _apply(kubectl: Kubectl, namespace: str, manifest: dict[str, Any]) -> Any:
    return kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest), check=False)


def _ready_endpoints(kubectl: Kubectl, release: Release) -> list[str]:
    service = f"{release.name}-webhook"
    slices = kubectl.json("get", "endpointslices", "-n", release.namespace,
                          "-l", f"kubernetes.io/service-name={service}")["items"]  # fmt: skip
    return [
        address
        for piece in slices
        for endpoint in piece.get("endpoints") or []
        if endpoint.get("conditions", {}).get("ready")
        for address in endpoint["addresses"]
    ]


def _configuration_ca(kubectl: Kubectl, release: Release) -> str:
    configuration = kubectl.json("get", "validatingwebhookconfiguration", release.name)
    (pools,) = [w for w in configuration["webhooks"] if w["name"] == "pools.vmroll.io"]
    ca: str = pools["clientConfig"]["caBundle"]
    return ca


def _set_configuration_ca(kubectl: Kubectl, release: Release, ca_bundle: str) -> None:
    patch = [{"op": "replace", "path": f"/webhooks/{index}/clientConfig/caBundle",
              "value": ca_bundle} for index in (0, 1)]  # fmt: skip
    kubectl("patch", "validatingwebhookconfiguration", release.name, "--type=json",
            "-p", json.dumps(patch))  # fmt: skip


def _scale(kubectl: Kubectl, release: Release, replicas: int) -> None:
    kubectl("scale", "deployment", release.name, "-n", release.namespace,
            f"--replicas={replicas}")  # fmt: skip


def test_the_charts_webhook_on_the_operator_pod_denies_admits_and_never_blocks_deletion(
    release: Release, emulator: EmulatorProcess, tmp_path: Path
) -> None:
    kubectl = release.kubectl
    release.install(webhook={"enabled": True, "port": free_port()})
    pod = release.ready_pod()
    secret = kubectl.json("get", "secret", f"{release.name}-webhook-tls", "-n", release.namespace)
    assert _configuration_ca(kubectl, release) == secret["data"]["ca.crt"]
    assert wait_for("the webhook Service's ready endpoint",
                    lambda: _ready_endpoints(kubectl, release) or None,
                    describe=release.describe) == [pod["status"]["podIP"]]  # fmt: skip

    account = release.add_account(emulator)
    policy = f"deny-{release.pools}"
    kubectl("apply", "-f", "-", input=json.dumps(_policy(policy, release.pools)))
    try:
        denied = _apply(kubectl, release.pools, _pool("cve", account, emulator, DENIED))
        assert denied.returncode != 0
        assert REFUSED in denied.stderr
        assert (
            f"spec.image.marketplace.version: {DENIED} is denied by policy {policy}: "
            f"CVE-2026-0001 (VersionDenied); pin a version policy {policy} allows"
        ) in denied.stderr
        assert kubectl("get", "-n", release.pools, "vmpool", "cve", check=False).returncode != 0

        web = _pool("web", account, emulator, NEWEST)
        admitted = _apply(kubectl, release.pools, web)
        assert admitted.returncode == 0, admitted.stderr

        def reconciled() -> dict[str, Any] | None:
            pool: dict[str, Any] = kubectl.json("get", "-n", release.pools, "vmpool", "web")
            ready = condition(pool, "Ready")
            done = current(pool) and ready is not None and ready["status"] == "True"
            return pool if done and FINALIZER in pool["metadata"]["finalizers"] else None

        wait_for("the admitted pool Ready", reconciled, timeout=TIMEOUT_SECONDS,
                 describe=release.describe)  # fmt: skip
        web["spec"]["image"]["marketplace"]["version"] = DENIED
        bumped = _apply(kubectl, release.pools, web)
        assert bumped.returncode != 0
        assert REFUSED in bumped.stderr
        assert "(VersionDenied)" in bumped.stderr

        # Trusted through the bundle, not by skipping verification: another CA fails the call.
        chart_ca = _configuration_ca(kubectl, release)
        other = write_webhook_certificates(tmp_path / "other-ca")
        _set_configuration_ca(kubectl, release, other.ca_bundle)
        try:
            untrusted = _apply(kubectl, release.pools, _pool("other", account, emulator, NEWEST))
        finally:
            _set_configuration_ca(kubectl, release, chart_ca)
        assert untrusted.returncode != 0
        assert UNREACHABLE in untrusted.stderr
        assert "x509: certificate signed by unknown authority" in untrusted.stderr

        _scale(kubectl, release, 0)
        wait_for("no operator pod", lambda: True if not release.pods() else None,
                 timeout=TIMEOUT_SECONDS, describe=release.describe)  # fmt: skip
        down = _apply(kubectl, release.pools, _pool("while-down", account, emulator, NEWEST))
        assert down.returncode != 0
        assert UNREACHABLE in down.stderr
        kubectl("delete", "-n", release.pools, "vmpool", "web", "--wait=false")
        deleting = kubectl.json("get", "-n", release.pools, "vmpool", "web")
        assert deleting["metadata"]["deletionTimestamp"]

        _scale(kubectl, release, 1)
        release.ready_pod()

        def gone() -> bool | None:
            found = kubectl("get", "-n", release.pools, "vmpool", "web", check=False)
            return True if found.returncode != 0 and "NotFound" in found.stderr else None

        wait_for("the deleted pool gone", gone, timeout=TIMEOUT_SECONDS,
                 describe=release.describe)  # fmt: skip
    finally:
        kubectl("delete", "imgpol", policy, "--ignore-not-found")
