"""`kubectl vmroll images` run as kubectl runs a plugin, against the real local stack.

The plugin reads the test's AzureAccount and its Secret with the caller's kubeconfig and talks to
the emulator over HTTPS with the real SDKs, trusting the emulator's CA from the account's
`caBundle` (which needs `--allow-custom-endpoints`, as the operator does). It lists the
marketplace level by level, marks the version `latest` resolves to, shows a paid image's terms
before and after they are accepted in the subscription, lists a gallery's versions with their
regions, shows a POLICY column only once ImagePolicy is served (its CRD) that judges each image
by the live ImagePolicies (`unknown` for a user who may not list them), and fails with
a message saying what to change: no such account, a Secret the caller may not read, a missing
Secret, custom endpoints without the flag, a wrong client secret.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.mgmt.marketplaceordering import MarketplaceOrderingAgreements
from chart_helpers import token_kubeconfig
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import CRDS, EmulatorProcess, emulator_credential, fast_catalog_data
from test_kubectl_plugin import Plugin, failed, ok

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

Completed = subprocess.CompletedProcess[str]
RABBIT = ("bitnami", "rabbitmq", "rabbitmq")
"""The emulator's paid image: publisher, product (offer) and plan (sku)."""


class Images:
    """`kubectl vmroll images --account A -l LOCATION ...` with the emulator's trust flags."""

    def __init__(self, plugin: Plugin, account: str, namespace: str) -> None:
        self.plugin = plugin
        self.flags = ("--account", account, "--allow-custom-endpoints",
                      "--cluster-resource-namespace", namespace)  # fmt: skip

    def __call__(
        self, *args: str, location: str = "westeurope"
    ) -> subprocess.CompletedProcess[str]:
        return self.plugin("images", *args, "-l", location, *self.flags)

    def rows(self, *args: str, location: str = "westeurope") -> list[dict[str, Any]]:
        loaded: list[dict[str, Any]] = json.loads(ok(self(*args, "-o", "json", location=location)))
        return loaded


def table(text: str) -> list[list[str]]:
    """A table's rows, empty cells left out (cells hold single spaces, columns at least 3)."""
    return [re.split(r" {2,}", line.strip()) for line in text.splitlines()]


def accept_terms(emulator: EmulatorProcess) -> None:
    """Accept the paid image's terms as a subscription owner would (`az vm image terms accept`)."""
    creds = emulator.credentials
    credential = emulator_credential(emulator)
    agreements = MarketplaceOrderingAgreements(
        credential, creds["subscriptionId"], base_url=emulator.base_url,
        credential_scopes=[f"{emulator.base_url}/.default"], connection_verify=creds["caBundle"],
    )  # fmt: skip
    with agreements, credential:
        assert agreements.marketplace_agreements.sign(*RABBIT).state == "Active"


@pytest.fixture
def images(cluster: Cluster, namespace: str, account: str) -> Images:
    return Images(Plugin(cluster, namespace), account, namespace)


POLICY_CRD = "imagepolicies.vmroll.io"


def wait_policy_served(kubectl: Kubectl, served: bool) -> None:
    def check() -> bool | None:
        shown = '"ImagePolicy"' in kubectl("get", "--raw", "/apis/vmroll.io/v1alpha1").stdout
        return True if shown == served else None

    wait_for(f"ImagePolicy {'in' if served else 'out of'} the API server's discovery", check,
             timeout=60)  # fmt: skip


def apply_policy_crd(kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "--force-conflicts", "-f",
            str(CRDS / "vmroll.io_imagepolicies.yaml"))  # fmt: skip
    kubectl.wait_established(POLICY_CRD)
    wait_policy_served(kubectl, served=True)


def remove_policy_crd(kubectl: Kubectl) -> None:
    kubectl("delete", "crd", POLICY_CRD, "--ignore-not-found")
    wait_policy_served(kubectl, served=False)


@pytest.fixture(scope="module", autouse=True)
def image_policy_not_served(kubectl: Kubectl, pool_crds: tuple[str, ...]) -> Iterator[None]:
    """This module's tests run without the ImagePolicy CRD (every other CRD stays), as on a
    cluster that has not installed it; the session gets it back afterwards."""
    remove_policy_crd(kubectl)
    try:
        yield
    finally:
        apply_policy_crd(kubectl)


def test_marketplace_levels_newest_and_paid_terms(
    images: Images, emulator: EmulatorProcess
) -> None:
    publishers = table(ok(images("publishers")))
    assert publishers[0] == ["PUBLISHER"]
    assert {"Canonical", "bitnami"} <= {row[0] for row in publishers[1:]}
    assert images.rows("publishers") == [{"publisher": row[0]} for row in publishers[1:]]
    offers = images.rows("offers", "--publisher", "Canonical")
    assert {"ubuntu-24_04-lts", "ubuntu-22_04-lts"} <= {row["offer"] for row in offers}
    skus = images.rows("skus", "--publisher", "Canonical", "--offer", "ubuntu-24_04-lts")
    assert {row["sku"] for row in skus} == {"server", "server-arm64"}

    every = ["--publisher", "Canonical", "--offer", "ubuntu-24_04-lts", "--sku", "server", "--all"]
    west = images.rows(*every)
    assert [(r["version"], r["newest"]) for r in west] == [
        ("24.04.202608110", False), ("24.04.202609160", False), ("24.04.202610220", False),
        ("24.04.202611100", True),
    ]  # fmt: skip
    assert {(r["plan"], r["termsAccepted"]) for r in west} == {(None, None)}
    east = images.rows(*every, location="eastus")
    assert [r["version"] for r in east if r["newest"]] == ["24.04.202610220"]
    newest_only = table(ok(images(*every[:-1])))
    assert newest_only == [
        ["PUBLISHER", "OFFER", "SKU", "VERSION", "NEWEST", "PLAN", "TERMS"],
        ["Canonical", "ubuntu-24_04-lts", "server", "24.04.202611100", "*", "-", "-"],
    ]
    assert "POLICY" not in ok(images(*every))

    paid = ["--publisher", "bitnami", "--offer", "rabbitmq", "--all"]
    before = table(ok(images(*paid)))
    assert [row[3:] for row in before[1:]] == [
        ["4.0.5", "bitnami/rabbitmq/rabbitmq", "not accepted"],
        ["4.0.9", "bitnami/rabbitmq/rabbitmq", "not accepted"],
        ["4.0.18", "*", "bitnami/rabbitmq/rabbitmq", "not accepted"],
    ]
    accept_terms(emulator)
    after = yaml.safe_load(ok(images(*paid, "-o", "yaml")))
    assert [(r["version"], r["newest"], r["termsAccepted"]) for r in after] == [
        ("4.0.5", False, True), ("4.0.9", False, True), ("4.0.18", True, True),
    ]  # fmt: skip


def test_gallery_versions_with_regions(images: Images, emulator: EmulatorProcess) -> None:
    gallery = emulator.gallery_image().rsplit("/images/", 1)[0]
    west = {r["version"]: r for r in images.rows("--gallery", gallery, "--image", "ubuntu-web")}
    assert sorted(west) == ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    assert [name for name, r in west.items() if r["newest"]] == ["1.3.0"]
    assert west["1.3.0"]["targetRegions"] == ["West Europe"]
    assert west["1.2.0"]["excludeFromLatest"] is True
    assert west["1.1.0"]["targetRegions"] == ["West Europe", "East US"]
    east = images.rows("--gallery", "vmrollGallery", "-g", "rg-vmroll", location="eastus")
    by_key = {(r["image"], r["version"]): r for r in east}
    newest = [key for key, r in by_key.items() if r["newest"]]
    assert newest == [("ubuntu-web", "1.1.0"), ("rabbitmq-hardened", "4.0.18")]
    assert by_key[("ubuntu-web", "1.3.0")]["availableInLocation"] is False
    assert by_key[("ubuntu-canary", "0.1.0")]["newest"] is False
    paid = [r for r in east if r["image"] == "rabbitmq-hardened"]
    assert paid
    assert {(r["plan"], r["termsAccepted"]) for r in paid} == {("bitnami/rabbitmq/rabbitmq", False)}
    shown = table(ok(images("--gallery", gallery, "--image", "ubuntu-web", location="eastus")))
    assert shown[0] == ["IMAGE", "VERSION", "NEWEST", "IN REGION", "TARGET REGIONS",
                        "EXCLUDED FROM LATEST", "END OF LIFE", "PLAN", "TERMS"]  # fmt: skip
    assert ["ubuntu-web", "1.3.0", "no", "West Europe", "no", "-", "-", "-"] in shown


def test_unknown_account_and_unknown_names(images: Images) -> None:
    unknown = Images(images.plugin, "no-such-account", images.plugin.namespace)
    error = failed(unknown("publishers"))
    assert 'azureaccounts.vmroll.io "no-such-account" not found' in error
    assert "--account" in error
    error = failed(images("--publisher", "Canonical", "--offer", "no-such-offer"))
    assert "no-such-offer" in error
    assert "check --location and the names given" in error
    assert "needs --publisher and --offer" in failed(images("skus"))


def test_a_region_with_nothing_is_said_so(images: Images) -> None:
    result = images("publishers", location="nowhere")
    assert ok(result) == ""
    assert result.stderr == "No publishers found in nowhere.\n"
    assert images.rows("publishers", location="nowhere") == []


def test_custom_endpoints_need_the_flag(images: Images, account: str) -> None:
    trusting_nothing = (
        "--account",
        account,
        "--cluster-resource-namespace",
        images.plugin.namespace,
    )
    error = failed(images.plugin("images", "publishers", "-l", "westeurope", *trusting_nothing))
    assert "spec.endpoints.resourceManager" in error
    assert "pass --allow-custom-endpoints" in error


def test_a_secret_the_user_may_not_read_or_that_is_missing(
    images: Images, cluster: Cluster, kubectl: Kubectl, namespace: str, account: str,
    emulator: EmulatorProcess, tmp_path: Path,
) -> None:  # fmt: skip
    reader = f"images-reader-{namespace}"[:63]
    kubectl("create", "serviceaccount", "images-reader", "-n", namespace)
    kubectl("create", "clusterrole", reader, "--verb=get,list",
            "--resource=azureaccounts.vmroll.io")  # fmt: skip
    kubectl("create", "clusterrolebinding", reader, f"--clusterrole={reader}",
            f"--serviceaccount={namespace}:images-reader")  # fmt: skip
    try:
        token = kubectl("create", "token", "images-reader", "-n", namespace).stdout.strip()
        config = tmp_path / "reader.kubeconfig"
        config.write_text(yaml.safe_dump(token_kubeconfig(cluster.kubeconfig, token, namespace)))
        error = failed(images("publishers", "--kubeconfig", str(config)))
    finally:
        kubectl("delete", "clusterrolebinding,clusterrole", reader, "--ignore-not-found")
    assert f"forbidden: your RBAC does not allow get on secrets in namespace {namespace}" in error
    assert f"secrets {namespace}/azure" in error
    secret = emulator.credentials["clientSecret"]
    assert secret not in error

    kubectl("delete", "secret", "azure", "-n", namespace)
    error = failed(images("publishers"))
    assert f"Secret {namespace}/azure has no key secret" in error
    assert "create it or fix the reference" in error


def test_azure_refuses_an_identity_without_a_role(
    images: Images, kubectl: Kubectl, namespace: str, account: str
) -> None:
    (nobody,) = [p for p in fast_catalog_data()["principals"] if p["name"] == "vmroll-nobody"]
    secret = json.dumps({"stringData": {"secret": nobody["clientSecret"]}})
    kubectl("patch", "secret", "azure", "-n", namespace, "--type=merge", "-p", secret)
    client_id = json.dumps({"spec": {"auth": {"clientSecret": {"clientId": nobody["clientId"]}}}})
    kubectl("patch", "azureaccount", account, "--type=merge", "-p", client_id)
    error = failed(images("publishers"))
    assert f"Azure refused AzureAccount {account}: list image publishers in westeurope" in error
    assert "AuthorizationFailed" in error
    assert "has a role on the subscription that may read images" in error
    assert nobody["clientSecret"] not in error


def test_azure_refuses_a_wrong_client_secret(
    images: Images, kubectl: Kubectl, namespace: str
) -> None:
    patch = json.dumps({"stringData": {"secret": "not-the-secret"}})
    kubectl("patch", "secret", "azure", "-n", namespace, "--type=merge", "-p", patch)
    error = failed(images("publishers"))
    assert "Azure refused AzureAccount" in error
    assert "check the account's client ID and Secret" in error
    assert "not-the-secret" not in error


@pytest.fixture
def image_policy_served(kubectl: Kubectl) -> Iterator[str]:
    """vmroll's own ImagePolicy CRD, for one test: discovery sees it."""
    apply_policy_crd(kubectl)
    try:
        yield POLICY_CRD
    finally:
        remove_policy_crd(kubectl)


POLICIES = """
apiVersion: vmroll.io/v1alpha1
kind: ImagePolicy
metadata: {name: no-bad-ubuntu}
spec:
  enforcement: Deny
  rules:
    deniedVersions:
      - image: {marketplace: {publisher: Canonical}}
        version: 24.04.202609160
        reason: broken cloud-init
---
apiVersion: vmroll.io/v1alpha1
kind: ImagePolicy
metadata: {name: fresh}
spec:
  enforcement: Audit
  rules: {freshness: {maxVersionsBehind: 2}}
---
apiVersion: vmroll.io/v1alpha1
kind: ImagePolicy
metadata: {name: web-ubuntu-only}
spec:
  enforcement: Remediate
  namespaceSelector: {matchLabels: {team: web}}
  poolSelector: {matchLabels: {app: web}}
  rules: {allowedSources: {marketplace: [{publisher: Canonical}]}}
"""
UBUNTU = ("--publisher", "Canonical", "--offer", "ubuntu-24_04-lts", "--sku", "server", "--all")
RABBITMQ = ("--publisher", "bitnami", "--offer", "rabbitmq", "--all")


def policy_cells(result: Completed) -> list[tuple[str, str]]:
    """(VERSION, POLICY) of each row of a versions table."""
    shown = table(ok(result))
    assert shown[0][-1] == "POLICY"
    version = shown[0].index("VERSION")
    return [(row[version], row[-1]) for row in shown[1:]]


def test_the_policy_column_judges_each_image_by_the_image_policies(
    images: Images, kubectl: Kubectl, namespace: str, image_policy_served: str
) -> None:
    assert {cell for _, cell in policy_cells(images(*UBUNTU))} == {"allowed"}
    kubectl("apply", "-f", "-", input=POLICIES)

    result = images(*UBUNTU)
    assert result.stderr == ""
    assert policy_cells(result) == [
        ("24.04.202608110", "audit: fresh/TooManyVersionsBehind"),
        ("24.04.202609160", "denied: no-bad-ubuntu/VersionDenied"),
        ("24.04.202610220", "allowed"),
        ("24.04.202611100", "allowed"),
    ]
    denied = next(r for r in images.rows(*UBUNTU) if r["version"] == "24.04.202609160")
    assert denied["policy"]["decision"] == "denied"
    (violation,) = denied["policy"]["violations"]
    assert (violation["policy"], violation["enforcement"], violation["rule"]) == (
        "no-bad-ubuntu", "Deny", "VersionDenied",
    )  # fmt: skip
    assert "broken cloud-init" in violation["message"]
    assert denied["policy"]["newestCompliantVersion"] == "24.04.202611100"

    # Every policy's rules by default, selectors ignored: bitnami is outside web's sources.
    assert {cell for _, cell in policy_cells(images(*RABBITMQ))} == {
        "remediate: web-ubuntu-only/ImageSourceNotAllowed"
    }
    skus = table(ok(images("skus", "--publisher", "bitnami", "--offer", "rabbitmq")))
    assert skus[1][-1] == "remediate: web-ubuntu-only/ImageSourceNotAllowed"
    # For a namespace, only the policies that select a pool there (its labels, read live).
    for_namespace = ("--for-namespace", namespace)
    assert {cell for _, cell in policy_cells(images(*RABBITMQ, *for_namespace))} == {"allowed"}
    kubectl("label", "namespace", namespace, "team=web")
    assert {cell for _, cell in policy_cells(images(*RABBITMQ, *for_namespace))} == {"allowed"}
    for_web = (*for_namespace, "--pool-labels", "app=web,tier=front")
    assert {cell for _, cell in policy_cells(images(*RABBITMQ, *for_web))} == {
        "remediate: web-ubuntu-only/ImageSourceNotAllowed"
    }
    error = failed(images(*RABBITMQ, "--pool-labels", "app=web"))
    assert "--pool-labels needs --for-namespace" in error
    error = failed(images(*RABBITMQ, *for_namespace, "--pool-labels", "app"))
    assert "--pool-labels: 'app' is not key=value" in error
    assert "POLICY" not in ok(images("offers", "--publisher", "bitnami"))


def test_a_user_who_may_not_list_image_policies_sees_unknown(
    images: Images, cluster: Cluster, kubectl: Kubectl, namespace: str, tmp_path: Path,
    image_policy_served: str,
) -> None:  # fmt: skip
    kubectl("apply", "-f", "-", input=POLICIES)
    reader = f"images-browser-{namespace}"[:63]
    kubectl("create", "serviceaccount", "images-browser", "-n", namespace)
    kubectl("create", "role", "secrets", "--verb=get", "--resource=secrets", "-n", namespace)
    kubectl("create", "rolebinding", "secrets", "--role=secrets", "-n", namespace,
            f"--serviceaccount={namespace}:images-browser")  # fmt: skip
    kubectl("create", "clusterrole", reader, "--verb=get,list",
            "--resource=azureaccounts.vmroll.io")  # fmt: skip
    kubectl("create", "clusterrolebinding", reader, f"--clusterrole={reader}",
            f"--serviceaccount={namespace}:images-browser")  # fmt: skip
    try:
        token = kubectl("create", "token", "images-browser", "-n", namespace).stdout.strip()
        config = tmp_path / "browser.kubeconfig"
        config.write_text(yaml.safe_dump(token_kubeconfig(cluster.kubeconfig, token, namespace)))
        result = images(*UBUNTU, "--kubeconfig", str(config))
    finally:
        kubectl("delete", "clusterrolebinding,clusterrole", reader, "--ignore-not-found")
    assert {cell for _, cell in policy_cells(result)} == {"unknown"}
    assert "cannot list ImagePolicies (403 Forbidden)" in result.stderr
