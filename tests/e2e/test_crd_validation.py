"""The generated CRDs, installed in a real kube-apiserver, validate and present pools as designed.

Driven through kubectl as a user would: the API server, not vmroll, must refuse a bad spec, and
name the field to fix.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_harness import Kubectl, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
EXAMPLES = ROOT / "examples"
CRD_NAMES = (
    "virtualmachinepools.vmroll.io",
    "azureaccounts.vmroll.io",
    "imagepolicies.vmroll.io",
)


@pytest.fixture(scope="session")
def vmroll_crds(kubectl: Kubectl) -> tuple[str, ...]:
    """The committed CRDs, applied once per session; applying again changes nothing."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    for name in CRD_NAMES:
        kubectl.wait_established(name)
    return CRD_NAMES


def example_pool() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / "pool-marketplace.yaml").read_text())
    return document


def apply(kubectl: Kubectl, namespace: str, document: dict[str, Any]) -> Any:
    return kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(document), check=False)


@pytest.mark.parametrize(
    "filename",
    ["pool-marketplace.yaml", "pool-gallery.yaml", "pool-managed.yaml", "pool-golden-latest.yaml"],
)
def test_example_pools_are_accepted(
    kubectl: Kubectl, namespace: str, vmroll_crds: tuple[str, ...], filename: str
) -> None:
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / filename))
    name = yaml.safe_load((EXAMPLES / filename).read_text())["metadata"]["name"]
    stored = kubectl.json("get", "-n", namespace, "vmpool", name)
    assert stored["spec"]["replicas"] >= 1


def test_example_account_is_accepted(kubectl: Kubectl, vmroll_crds: tuple[str, ...]) -> None:
    result = kubectl("apply", "--dry-run=server", "-f", str(EXAMPLES / "azureaccount.yaml"))
    assert "azureaccount.vmroll.io/prod" in result.stdout


def test_api_server_fills_defaults(
    kubectl: Kubectl, namespace: str, vmroll_crds: tuple[str, ...]
) -> None:
    pool = example_pool()
    for optional in ("strategy", "updatePolicy", "deletionPolicy"):
        del pool["spec"][optional]
    del pool["spec"]["template"]["osDisk"]
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pool))
    spec = kubectl.json("get", "-n", namespace, "vmpool", "web")["spec"]
    assert spec["strategy"]["type"] == "RollingReplace"
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert spec["strategy"]["progressDeadlineSeconds"] == 1800
    assert spec["updatePolicy"]["checkInterval"] == "1h"
    assert spec["template"]["osDisk"]["storageAccountType"] == "Premium_LRS"
    assert spec["deletionPolicy"] == "Delete"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = document["spec"]
        for key in parents:
            node = node[key]
        node[leaf] = value

    return change


GALLERY_IMAGE = {
    "imageId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
    "/providers/Microsoft.Compute/galleries/g/images/web"
}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        pytest.param(
            _set("image.gallery", GALLERY_IMAGE),
            "spec.image",
            "set exactly one of marketplace, gallery or managedImageId",
            id="two-image-sources",
        ),
        pytest.param(
            _set("image.marketplace.version", "24.04"),
            "spec.image.marketplace.version",
            "should match",
            id="bad-version",
        ),
        pytest.param(
            _set("replicas", -1),
            "spec.replicas",
            "greater than or equal to 0",
            id="negative-replicas",
        ),
        pytest.param(
            _set("strategy.rollingUpdate", {"maxSurge": 0, "maxUnavailable": "0%"}),
            "spec.strategy.rollingUpdate",
            "maxSurge and maxUnavailable must not both be 0",
            id="surge-and-unavailable-zero",
        ),
        pytest.param(
            _set("strategy.type", "BlueGreen"),
            "spec.strategy.type",
            'Unsupported value: "BlueGreen"',
            id="unknown-strategy",
        ),
        pytest.param(
            _set("template.tags", {"vmroll.io_pool-uid": "forged"}),
            "spec.template.tags",
            "reserved for vmroll",
            id="reserved-tag",
        ),
        pytest.param(
            _set("updatePolicy.maintenanceWindows", ["Sat 22:00 169h"]),
            "spec.updatePolicy.maintenanceWindows[0]",
            "a maintenance window lasts more than 0 and at most 168h",
            id="window-longer-than-a-week",
        ),
        pytest.param(
            _set("template.restartedAt", "yesterday"),
            "spec.template.restartedAt",
            "date-time",
            id="restart-stamp-not-a-time",
        ),
        pytest.param(
            lambda pool: pool["spec"]["template"].update(
                restartedAt="2026-11-28T21:00:00Z", tags={f"t{i}": "x" for i in range(45)}
            ),
            "spec.template",
            "with restartedAt set, at most 44 tags",
            id="restart-stamp-needs-a-tag",
        ),
        pytest.param(
            _set("strategy.rollingUpdate.maxSurge", "150%"),
            "spec.strategy.rollingUpdate.maxSurge",
            "should match",
            id="surge-over-100-percent",
        ),
        pytest.param(
            _set("template.tags", {"t" * 513: "long"}),
            "spec.template.tags",
            "tag names must be 1 to 512 characters",
            id="tag-name-over-512",
        ),
        pytest.param(
            _set(
                "template.subnetId",
                "/subscriptions/prod/resourceGroups/rg/providers/"
                "Microsoft.Network/virtualNetworks/v/subnets/s",
            ),
            "spec.template.subnetId",
            "should match",
            id="subnet-subscription-not-a-guid",
        ),
        pytest.param(
            _set(
                "template.subnetId",
                "/subscriptions/00000000-0000-0000-0000-000000000000/"
                "resourceGroups/rg net/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
            ),
            "spec.template.subnetId",
            "should match",
            id="subnet-with-whitespace",
        ),
    ],
)
def test_invalid_pools_are_refused_naming_the_field(
    kubectl: Kubectl,
    namespace: str,
    vmroll_crds: tuple[str, ...],
    change: Callable[[dict[str, Any]], None],
    field: str,
    message: str,
) -> None:
    pool = copy.deepcopy(example_pool())
    change(pool)
    result = apply(kubectl, namespace, pool)
    assert result.returncode != 0, f"accepted: {json.dumps(pool['spec'])}"
    assert field in result.stderr
    assert message in result.stderr


def test_resource_group_cannot_change(
    kubectl: Kubectl, namespace: str, vmroll_crds: tuple[str, ...]
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(example_pool()))
    patch = json.dumps({"spec": {"resourceGroup": "rg-other"}})
    result = kubectl(
        "patch", "-n", namespace, "vmpool", "web", "--type=merge", "-p", patch, check=False
    )
    assert result.returncode != 0
    assert "spec.resourceGroup" in result.stderr
    assert "resourceGroup is immutable" in result.stderr


def test_account_ref_cannot_change(
    kubectl: Kubectl, namespace: str, vmroll_crds: tuple[str, ...]
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(example_pool()))
    patch = json.dumps({"spec": {"accountRef": {"name": "another"}}})
    result = kubectl(
        "patch", "-n", namespace, "vmpool", "web", "--type=merge", "-p", patch, check=False
    )
    assert result.returncode != 0
    assert "spec.accountRef" in result.stderr
    assert "accountRef is immutable" in result.stderr
    assert "create a new pool" in result.stderr
    unchanged = kubectl.json("get", "-n", namespace, "vmpool", "web")["spec"]["accountRef"]
    assert unchanged == example_pool()["spec"]["accountRef"]


def test_other_spec_fields_of_a_pool_still_change(
    kubectl: Kubectl, namespace: str, vmroll_crds: tuple[str, ...]
) -> None:
    """The transition rule on accountRef holds only accountRef: a spec update passes it."""
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(example_pool()))
    patch = json.dumps({"spec": {"replicas": 5}})
    kubectl("patch", "-n", namespace, "vmpool", "web", "--type=merge", "-p", patch)
    assert kubectl.json("get", "-n", namespace, "vmpool", "web")["spec"]["replicas"] == 5


def test_an_accounts_subscription_cannot_change_but_its_tenant_can(
    kubectl: Kubectl, namespace: str, vmroll_crds: tuple[str, ...]
) -> None:
    account = yaml.safe_load((EXAMPLES / "azureaccount.yaml").read_text())
    name = account["metadata"]["name"] = f"prod-{namespace}"
    kubectl("apply", "-f", "-", input=json.dumps(account))
    try:
        other = json.dumps({"spec": {"subscriptionId": "33333333-3333-3333-3333-333333333333"}})
        refused = kubectl("patch", "azureaccount", name, "--type=merge", "-p", other, check=False)
        tenant = json.dumps({"spec": {"tenantId": "44444444-4444-4444-4444-444444444444"}})
        kubectl("patch", "azureaccount", name, "--type=merge", "-p", tenant)
        stored = kubectl.json("get", "azureaccount", name)["spec"]
    finally:
        kubectl("delete", "azureaccount", name, "--ignore-not-found")
    assert refused.returncode != 0
    assert "spec.subscriptionId" in refused.stderr
    assert "subscriptionId is immutable" in refused.stderr
    assert "create another AzureAccount" in refused.stderr
    assert stored["subscriptionId"] == account["spec"]["subscriptionId"]
    assert stored["tenantId"] == "44444444-4444-4444-4444-444444444444"


def test_explain_shows_descriptions(kubectl: Kubectl, vmroll_crds: tuple[str, ...]) -> None:
    def explained() -> str | None:
        result = kubectl("explain", "virtualmachinepool.spec.image", check=False)
        return result.stdout if result.returncode == 0 else None

    text = " ".join(wait_for("kubectl explain to know VirtualMachinePool", explained).split())
    assert "The OS image: exactly one of marketplace, gallery or managedImageId." in text
    assert "acceptTerms <boolean>" in text
    assert "Accept the marketplace terms of a paid image" in text
    surge = kubectl("explain", "vmpool.spec.strategy.rollingUpdate.maxSurge").stdout
    assert "a count, or a percentage of replicas rounded up" in " ".join(surge.split())


def test_get_shows_printer_columns(
    kubectl: Kubectl, namespace: str, vmroll_crds: tuple[str, ...]
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(example_pool()))
    status = {
        "status": {
            "image": {
                "source": "Marketplace",
                "requested": "Canonical:ubuntu-24_04-lts:server:latest",
                "resolvedVersion": "24.04.202411010",
            },
            "replicas": 3,
            "readyReplicas": 2,
            "updatedReplicas": 1,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "RollingOut",
                    "message": "1 of 3 VMs on the target revision",
                    "lastTransitionTime": "2026-11-25T17:00:00Z",
                }
            ],
        }
    }
    kubectl(
        "patch", "-n", namespace, "vmpool", "web", "--subresource=status", "--type=merge",
        "-p", json.dumps(status),
    )  # fmt: skip
    header, row = kubectl("get", "-n", namespace, "vmpool").stdout.splitlines()[:2]
    assert header.split() == [
        "NAME",
        "IMAGE",
        "DESIRED",
        "READY",
        "UP-TO-DATE",
        "STATUS",
        "POLICY",
        "AGE",
    ]
    assert row.split()[:6] == ["web", "24.04.202411010", "3", "2", "1", "RollingOut"]


def test_short_name_and_category(
    kubectl: Kubectl, namespace: str, vmroll_crds: tuple[str, ...]
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(example_pool()))
    listed = kubectl("get", "-n", namespace, "vmroll", "-o", "name").stdout.split()
    assert "virtualmachinepool.vmroll.io/web" in listed
    assert kubectl("get", "azacct").returncode == 0


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        pytest.param(
            {"auth": {"defaultChain": {}, "workloadIdentity": {"clientId": "x"}}},
            "spec.auth",
            "set exactly one of clientSecret, workloadIdentity or defaultChain",
            id="two-auth-methods",
        ),
        pytest.param(
            {"subscriptionId": "prod"},
            "spec.subscriptionId",
            "should match",
            id="subscription-not-a-uuid",
        ),
        pytest.param(
            {"allowedResourceGroups": []},
            "spec.allowedResourceGroups",
            "should have at least 1 items",
            id="no-resource-groups",
        ),
        pytest.param(
            {
                "allowedNamespaces": {
                    "selector": {"matchExpressions": [{"key": "team", "operator": "In"}]}
                }
            },
            "spec.allowedNamespaces.selector.matchExpressions[0]",
            "values must be non-empty for In and NotIn",
            id="selector-in-without-values",
        ),
        pytest.param(
            {"allowedNamespaces": {"selector": {"matchLabels": {"team": "web app"}}}},
            "spec.allowedNamespaces.selector.matchLabels.team",
            "should match",
            id="selector-value-with-a-space",
        ),
    ],
)
def test_invalid_accounts_are_refused_naming_the_field(
    kubectl: Kubectl,
    vmroll_crds: tuple[str, ...],
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    account = yaml.safe_load((EXAMPLES / "azureaccount.yaml").read_text())
    account["spec"].update(change)
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(account), check=False)
    assert result.returncode != 0, f"accepted: {json.dumps(account['spec'])}"
    assert field in result.stderr
    assert message in result.stderr
