"""The admission webhook on a real kube-apiserver: what the schema lets through but the operator
could not act on is refused, naming the field, as kubectl prints it; good objects pass; the
API server trusts the webhook through the configuration's CA bundle only; and the webhook being
down blocks neither deleting a pool nor writing its status.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import EmulatorProcess, Operator, apply, free_port, pool_manifest
from webhook_helpers import Webhook, register, registered_webhook

from vmroll.pki.webhook import write_webhook_certificates

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures", "webhook_fixtures")

FINALIZER = "vmroll.io/finalizer"
TOO_BIG = "1.0.2147483648"
"""Azure keeps each part of an image version as a 32-bit integer: one past its largest."""


def _create(kubectl: Kubectl, namespace: str, manifest: dict[str, Any]) -> Any:
    return kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(manifest), check=False)


def _account(name: str, selector: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "AzureAccount",
        "metadata": {"name": name},
        "spec": {
            "subscriptionId": "00000000-0000-4000-8000-000000000001",
            "tenantId": "00000000-0000-4000-8000-000000000002",
            "auth": {"defaultChain": {}},
            "allowedNamespaces": {"selector": selector},
            "allowedResourceGroups": ["*"],
        },
    }


def test_refuses_a_version_azure_cannot_hold_naming_the_field(
    kubectl: Kubectl,
    namespace: str,
    emulator: EmulatorProcess,
    serving_operator: Operator,
) -> None:
    bad = pool_manifest("web", "emu", emulator)
    bad["spec"]["image"]["marketplace"]["version"] = TOO_BIG

    refused = _create(kubectl, namespace, bad)

    assert refused.returncode != 0
    assert 'admission webhook "pools.vmroll.io" denied the request' in refused.stderr
    assert "spec.image.marketplace.version" in refused.stderr
    assert "at most 2147483647" in refused.stderr
    assert kubectl("get", "-n", namespace, "vmpool", "web", check=False).returncode != 0


def test_accepts_a_good_pool_and_refuses_a_bad_spec_change(
    kubectl: Kubectl,
    namespace: str,
    emulator: EmulatorProcess,
    serving_operator: Operator,
) -> None:
    good = pool_manifest("web", "emu", emulator, replicas=0)
    assert _create(kubectl, namespace, good).returncode == 0

    # A patch, not a replace of what was read: the operator's finalizer and status writes bump
    # the resourceVersion meanwhile, and a replace would meet a Conflict before the webhook.
    change = {"spec": {"image": {"marketplace": {"version": TOO_BIG}}}}
    refused = kubectl("patch", "-n", namespace, "vmpool", "web", "--type=merge",
                      "-p", json.dumps(change), check=False)  # fmt: skip
    assert refused.returncode != 0
    assert 'admission webhook "pools.vmroll.io" denied the request' in refused.stderr
    assert "spec.image.marketplace.version" in refused.stderr

    kubectl("label", "-n", namespace, "vmpool", "web", "team=web")
    labelled = kubectl.json("get", "-n", namespace, "vmpool", "web")
    assert labelled["metadata"]["labels"] == {"team": "web"}
    assert labelled["spec"]["image"]["marketplace"]["version"] == "latest"


def test_refuses_an_account_whose_selector_kubernetes_would_reject(
    kubectl: Kubectl, namespace: str, serving_operator: Operator
) -> None:
    long_prefix = (
        ".".join(["a" * 63] * 4) + "/team"
    )  # a 255-character prefix: Kubernetes allows 253
    account = _account(f"bad-{namespace}", {"matchLabels": {long_prefix: "web"}})

    refused = _create(kubectl, namespace, account)

    assert refused.returncode != 0
    assert 'admission webhook "accounts.vmroll.io" denied the request' in refused.stderr
    assert "spec.allowedNamespaces.selector.matchLabels" in refused.stderr
    good = _account(f"good-{namespace}", {"matchLabels": {"team": "web"}})
    try:
        assert _create(kubectl, namespace, good).returncode == 0
    finally:
        kubectl("delete", "azureaccount", f"good-{namespace}", "--ignore-not-found")


def test_the_api_server_trusts_only_the_configurations_ca_bundle(
    kubectl: Kubectl,
    namespace: str,
    emulator: EmulatorProcess,
    webhook: Webhook,
    serving_operator: Operator,
    tmp_path: Path,
) -> None:
    stranger = write_webhook_certificates(tmp_path / "stranger")
    register(kubectl, namespace, webhook.url, stranger.ca_bundle, webhook.configuration)

    untrusted = _create(kubectl, namespace, pool_manifest("web", "emu", emulator, replicas=0))

    assert untrusted.returncode != 0
    assert 'failed calling webhook "pools.vmroll.io"' in untrusted.stderr
    assert "x509" in untrusted.stderr

    register(kubectl, namespace, webhook.url, webhook.certificates.ca_bundle, webhook.configuration)
    trusted = _create(kubectl, namespace, pool_manifest("web", "emu", emulator, replicas=0))
    assert trusted.returncode == 0, trusted.stderr


def test_a_webhook_that_is_down_blocks_neither_deletion_nor_status(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    operator: Operator,
    tmp_path: Path,
) -> None:
    """The operator runs without --webhook: the registered address answers nothing."""
    apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=1))
    wait_for(
        "the operator's finalizer on the pool",
        lambda: (
            True
            if FINALIZER
            in kubectl.json("get", "-n", namespace, "vmpool", "web")["metadata"].get(
                "finalizers", []
            )
            else None
        ),
        describe=operator.output,
    )
    with registered_webhook(kubectl, namespace, tmp_path / "webhook", port=free_port()):
        refused = _create(kubectl, namespace, pool_manifest("api", account, emulator))
        assert refused.returncode != 0
        assert 'failed calling webhook "pools.vmroll.io"' in refused.stderr

        status = {"status": {"observedGeneration": 1}}
        kubectl("patch", "-n", namespace, "vmpool", "web", "--subresource=status",
                "--type=merge", "-p", json.dumps(status))  # fmt: skip
        kubectl("label", "-n", namespace, "vmpool", "web", "team=web")

        kubectl("delete", "-n", namespace, "vmpool", "web", "--timeout=90s", timeout=120)

        assert kubectl("get", "-n", namespace, "vmpool", "web", check=False).returncode != 0
        assert emulator.vms(namespace) == []
