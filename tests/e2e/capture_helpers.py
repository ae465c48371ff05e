"""Helpers of the ImageCapture e2e tests: a capture's manifest, reading it back, a source VM."""

from __future__ import annotations

from typing import Any

from e2e_harness import Kubectl
from pool_helpers import EmulatorProcess, create_vm_out_of_band


def capture_manifest(name: str, account: str, vm_id: str, image_id: str) -> dict[str, Any]:
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "ImageCapture",
        "metadata": {"name": name},
        "spec": {
            "accountRef": {"name": account},
            "resourceGroup": "rg-vmroll",
            "source": {"virtualMachineId": vm_id},
            "target": {
                "imageId": image_id,
                "versionScheme": "NextPatch",
                "regions": [
                    {"name": "westeurope", "replicaCount": 2},
                    {"name": "eastus", "storageAccountType": "Standard_ZRS"},
                ],
            },
        },
    }


def get_capture(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = kubectl.json("get", "-n", namespace, "imagecapture", name)
    return found


def ready(capture: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (c for c in capture.get("status", {}).get("conditions", []) if c["type"] == "Ready"), None
    )


def source_vm(emulator: EmulatorProcess, name: str) -> str:
    create_vm_out_of_band(emulator, "rg-vmroll", name, {"team": "images"})
    subscription = emulator.credentials["subscriptionId"]
    return (
        f"/subscriptions/{subscription}/resourceGroups/rg-vmroll/providers/"
        f"Microsoft.Compute/virtualMachines/{name}"
    )
