"""The ImageCapture models accept the example and refuse what the CRD's rules refuse."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from vmroll.api.capture import ImageCapture, StorageAccountType
from vmroll.api.capture_status import CapturePhase

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "capture-ubuntu.yaml"
SUBNET = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.Network/virtualNetworks/vnet/subnets/default"
)
KEYS = [{"keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8Ue6bS2dGf0a9bT x"}]
VM_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.Compute/virtualMachines/configured"
)


def example() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return document


def test_the_example_parses_with_defaults() -> None:
    capture = ImageCapture.model_validate(example())

    assert capture.spec.source.virtual_machine_id is not None
    assert capture.spec.target.exclude_from_latest is False
    assert [
        (r.name, r.replica_count, r.storage_account_type) for r in capture.spec.target.regions
    ] == [
        ("westeurope", 2, StorageAccountType.STANDARD_ZRS),
        ("eastus", 1, StorageAccountType.STANDARD_LRS),
    ]
    assert capture.status is None


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        (("source", "virtualMachineId"), None, "set exactly one of virtualMachineId or builder"),
        (("target", "version"), "1.2.3", "set at most one of version or versionScheme"),
        (("target", "regions"), [{"name": "eastus"}, {"name": "eastus"}], "listed once"),
        (("target", "regions"), [], "at least 1 item"),
        (("target", "imageId"), VM_ID, "String should match pattern"),
        (("target", "versionScheme"), "Weekly", "Input should be 'NextPatch' or 'Date'"),
    ],
    ids=["two-sources", "version-twice", "region-twice", "no-region", "not-a-definition", "scheme"],
)
def test_refusals(path: tuple[str, str], value: Any, complaint: str) -> None:
    document = copy.deepcopy(example())
    document["spec"][path[0]][path[1]] = value
    with pytest.raises(ValidationError) as refused:
        ImageCapture.model_validate(document)
    assert complaint in str(refused.value)


def test_an_explicit_version_must_fit_azures_32_bit_parts() -> None:
    document = example()
    del document["spec"]["target"]["versionScheme"]
    document["spec"]["target"]["version"] = f"1.0.{2**31}"
    with pytest.raises(ValidationError) as refused:
        ImageCapture.model_validate(document)
    assert "at most 2147483647" in str(refused.value)


def test_a_status_round_trips() -> None:
    document = example()
    document["status"] = {
        "phase": "Replicating",
        "version": "1.0.4",
        "replicated": "1/2",
        "regions": [
            {"name": "westeurope", "state": "Completed", "progress": 100},
            {"name": "eastus", "state": "Replicating", "progress": 0},
        ],
    }
    capture = ImageCapture.model_validate(document)

    assert capture.status is not None
    assert capture.status.phase is CapturePhase.REPLICATING
    assert capture.to_wire()["status"]["replicated"] == "1/2"


def test_a_builder_source_is_refused_until_vmroll_carries_it_out() -> None:
    document = example()
    document["spec"]["source"] = {
        "builder": {
            "location": "westeurope",
            "image": {"marketplace": {"publisher": "Canonical", "offer": "o", "sku": "s"}},
            "template": {"vmSize": "Standard_D2s_v5", "subnetId": SUBNET, "sshPublicKeys": KEYS},
        }
    }
    with pytest.raises(ValidationError) as refused:
        ImageCapture.model_validate(document)
    assert "spec.source.builder is not carried out by this version of vmroll" in str(refused.value)
