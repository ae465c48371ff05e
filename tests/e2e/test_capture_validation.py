"""The ImageCapture CRD, installed in a real kube-apiserver, refuses what vmroll could not act on.

Driven through kubectl as a user would: a capture with no source or with two, two ways to name
the version, a region listed twice, a malformed VM or definition ID, or any change to the spec
of a capture (it is made once) is refused by the API server, which names the field. A builder
source is accepted, its defaults filled.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_harness import Kubectl

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "vmroll.io_imagecaptures.yaml"
EXAMPLE = ROOT / "examples" / "capture-ubuntu.yaml"
VM_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-images/providers/"
    "Microsoft.Compute/virtualMachines/configured"
)


@pytest.fixture(scope="session")
def capture_crd(kubectl: Kubectl) -> str:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    kubectl.wait_established("imagecaptures.vmroll.io")
    return "imagecaptures.vmroll.io"


def example() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return document


def apply(kubectl: Kubectl, namespace: str, document: dict[str, Any]) -> Any:
    return kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(document), check=False)


def test_the_example_is_accepted_with_defaults_filled(
    kubectl: Kubectl, namespace: str, capture_crd: str
) -> None:
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    stored = kubectl.json("get", "-n", namespace, "imgcap", "web-golden")

    assert stored["spec"]["target"]["regions"][1] == {
        "name": "eastus",
        "replicaCount": 1,
        "storageAccountType": "Standard_LRS",
    }
    assert stored["spec"]["target"]["excludeFromLatest"] is False


def test_an_explicit_version_is_accepted(
    kubectl: Kubectl, namespace: str, capture_crd: str
) -> None:
    document = example()
    document["spec"]["target"]["version"] = "1.4.0"
    del document["spec"]["target"]["versionScheme"]
    result = apply(kubectl, namespace, document)

    assert result.returncode == 0, result.stderr


def test_a_builder_source_is_accepted_with_its_defaults_filled(
    kubectl: Kubectl, namespace: str, capture_crd: str
) -> None:
    document = example()
    document["metadata"]["name"] = "built"
    document["spec"]["source"] = {"builder": BUILDER}
    result = apply(kubectl, namespace, document)
    assert result.returncode == 0, result.stderr
    stored = kubectl.json("get", "-n", namespace, "imgcap", "built")["spec"]["source"]["builder"]

    assert stored["completion"] == {"signal": "GuestHealthy", "timeoutSeconds": 3600}
    assert stored["disposal"] == "Delete"


def _edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = copy.deepcopy(example())
    change(document["spec"])
    return document


BUILDER = {
    "location": "westeurope",
    "image": {
        "marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
    },
    "template": {
        "vmSize": "Standard_D2s_v5",
        "subnetId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/"
        "providers/Microsoft.Network/virtualNetworks/vnet/subnets/builders",
        "sshPublicKeys": [
            {"keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8Ue6bS2dGf0a9bT4X"}
        ],
    },
}


def _both_sources(spec: dict[str, Any]) -> None:
    spec["source"]["builder"] = BUILDER


def _no_source(spec: dict[str, Any]) -> None:
    spec["source"] = {}


def _version_twice(spec: dict[str, Any]) -> None:
    spec["target"]["version"] = "1.4.0"


def _region_twice(spec: dict[str, Any]) -> None:
    spec["target"]["regions"].append({"name": "eastus", "replicaCount": 3})


def _bad_vm_id(spec: dict[str, Any]) -> None:
    spec["source"] = {"virtualMachineId": "/subscriptions/x/virtualMachines/vm"}


def _version_not_three_numbers(spec: dict[str, Any]) -> None:
    del spec["target"]["versionScheme"]
    spec["target"]["version"] = "latest"


def _no_regions(spec: dict[str, Any]) -> None:
    spec["target"]["regions"] = []


def _too_many_replicas(spec: dict[str, Any]) -> None:
    spec["target"]["regions"][0]["replicaCount"] = 101


def _definition_with_version(spec: dict[str, Any]) -> None:
    spec["target"]["imageId"] += "/versions/1.0.0"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_both_sources, "set exactly one of virtualMachineId or builder"),
        (_no_source, "set exactly one of virtualMachineId or builder"),
        (_version_twice, "set at most one of version or versionScheme"),
        (_region_twice, "spec.target.regions: Invalid value"),
        (_bad_vm_id, "spec.source.virtualMachineId"),
        (_version_not_three_numbers, "spec.target.version"),
        (_no_regions, "spec.target.regions"),
        (_too_many_replicas, "spec.target.regions[0].replicaCount"),
        (_definition_with_version, "spec.target.imageId"),
    ],
    ids=[
        "two-sources",
        "no-source",
        "two-ways-to-name-the-version",
        "region-twice",
        "vm-id",
        "version-latest",
        "no-regions",
        "replicas",
        "definition-id",
    ],
)
def test_invalid_captures_are_refused_naming_the_field(
    kubectl: Kubectl,
    namespace: str,
    capture_crd: str,
    change: Callable[[dict[str, Any]], None],
    words: str,
) -> None:
    result = apply(kubectl, namespace, _edit(change))

    assert result.returncode != 0
    assert words in result.stderr, result.stderr


def test_the_spec_of_a_capture_cannot_change(
    kubectl: Kubectl, namespace: str, capture_crd: str
) -> None:
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    changed = _edit(lambda spec: spec["target"].update(excludeFromLatest=True))
    result = apply(kubectl, namespace, changed)

    assert result.returncode != 0
    assert "spec is immutable: a capture is made once" in result.stderr


def test_get_shows_the_capture_columns(kubectl: Kubectl, namespace: str, capture_crd: str) -> None:
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    header = kubectl("get", "-n", namespace, "imagecaptures", "-o", "wide").stdout.splitlines()[0]

    assert header.split() == [
        "NAME",
        "VERSION",
        "PHASE",
        "REPLICATED",
        "STATUS",
        "DEFINITION",
        "AGE",
    ]
