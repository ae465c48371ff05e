"""ImagePolicy on a real kube-apiserver: the examples are accepted, and what vmroll could not
evaluate is refused by the API server, naming the field. Every accepted example also parses with
the operator's own model, so what the API server stores is what vmroll can act on."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_harness import Kubectl

from vmroll.api.policy import ImagePolicy

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
EXAMPLES = ROOT / "examples"
POLICY_CRD = "imagepolicies.vmroll.io"
POLICY_EXAMPLES = ("policy-patched-30d.yaml", "policy-deny-list.yaml", "policy-paid-images.yaml")


@pytest.fixture(scope="session")
def policy_crd(kubectl: Kubectl) -> str:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    kubectl.wait_established(POLICY_CRD)
    return POLICY_CRD


def example(filename: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / filename).read_text())
    return document


@pytest.mark.parametrize("filename", POLICY_EXAMPLES)
def test_example_policies_are_accepted_and_parse(
    kubectl: Kubectl, policy_crd: str, filename: str
) -> None:
    result = kubectl("apply", "--dry-run=server", "-o", "json", "-f", str(EXAMPLES / filename))
    stored = json.loads(result.stdout)
    policy = ImagePolicy.model_validate(stored)
    assert policy.metadata.name == example(filename)["metadata"]["name"]
    assert policy.spec.enforcement.value == example(filename)["spec"]["enforcement"]


def test_defaults_short_name_and_columns(kubectl: Kubectl, policy_crd: str) -> None:
    document = {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": "defaults-and-columns"},
        "spec": {"rules": {"allowedSources": {"marketplace": [{"publisher": "Canonical"}]}}},
    }
    kubectl("apply", "-f", "-", input=json.dumps(document))
    try:
        spec = kubectl.json("get", "imgpol", "defaults-and-columns")["spec"]
        assert spec["enforcement"] == "Audit"
        assert spec["rules"]["allowedSources"] == {
            "marketplace": [{"publisher": "Canonical", "offer": "*", "sku": "*"}],
            "managedImages": False,
        }
        header, row = kubectl("get", "imgpol", "defaults-and-columns").stdout.splitlines()
        assert header.split() == ["NAME", "ENFORCEMENT", "POOLS", "NON-COMPLIANT", "READY", "AGE"]
        assert row.split()[:2] == ["defaults-and-columns", "Audit"]
    finally:
        kubectl("delete", "imgpol", "defaults-and-columns", "--ignore-not-found")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = document["spec"]
        for key in parents:
            node = node[key] if not key.isdigit() else node[int(key)]
        node[leaf] = value

    return change


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        pytest.param(
            _set("rules.freshness.maxAge", "30d"), "spec.rules.freshness.maxAge", "should match",
            id="days-are-not-a-duration",
        ),
        pytest.param(
            _set("rules.freshness.maxAge", "59m"), "spec.rules.freshness.maxAge",
            "maxAge must be at least 1h", id="max-age-under-an-hour",
        ),
        pytest.param(
            _set("rules.deniedVersions.0.version", "latest"),
            "spec.rules.deniedVersions[0].version", "should match", id="denied-latest",
        ),
        pytest.param(
            _set("rules.deniedVersions.0.reason", ""), "spec.rules.deniedVersions[0].reason",
            "at least 1 chars long", id="denied-without-reason",
        ),
        pytest.param(
            _set("rules.minimumVersions.0.image.galleryImageId",
                 "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g"
                 "/images/i"),
            "spec.rules.minimumVersions[0].image",
            "set at most one of marketplace or galleryImageId", id="two-image-matches",
        ),
        pytest.param(
            _set("rules.minimumVersions.0.image.marketplace.publisher", "Canon[ical"),
            "spec.rules.minimumVersions[0].image.marketplace.publisher", "should match",
            id="bad-pattern",
        ),
        pytest.param(
            _set("enforcement", "Warn"), "spec.enforcement", 'Unsupported value: "Warn"',
            id="unknown-enforcement",
        ),
        pytest.param(
            _set("rules.allowedLocations", ["West Europe"]), "spec.rules.allowedLocations[0]",
            "should match", id="location-display-name",
        ),
    ],
)  # fmt: skip
def test_invalid_policies_are_refused_naming_the_field(
    kubectl: Kubectl,
    policy_crd: str,
    change: Callable[[dict[str, Any]], None],
    field: str,
    message: str,
) -> None:
    policy = copy.deepcopy(example("policy-deny-list.yaml"))
    policy["spec"]["rules"]["freshness"] = {"maxAge": "720h"}
    change(policy)
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(policy), check=False)
    assert result.returncode != 0, f"accepted: {json.dumps(policy['spec'])}"
    assert field in result.stderr
    assert message in result.stderr
