"""Helpers of the ImageCapture e2e tests: a capture's manifest (of a VM or a builder), reading it
back, a source VM, a builder's cloud-init Secret and the builder VMs."""

from __future__ import annotations

import base64
import json
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


def builder_capture_manifest(
    name: str, account: str, emulator: EmulatorProcess, image_id: str, secret: str
) -> dict[str, Any]:
    """A capture of a builder vmroll creates from the marketplace Ubuntu image, its cloud-init
    in the Secret `secret` (key customData), into `image_id`."""
    manifest = capture_manifest(name, account, "", image_id)
    marketplace = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
    manifest["spec"]["source"] = {
        "builder": {
            "location": "westeurope",
            "image": {"marketplace": marketplace},
            "template": {
                "vmSize": "Standard_D2s_v5",
                "subnetId": emulator.subnet_id(),
                "sshPublicKeys": [{"keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8U"
                                   "e6bS2dGf0a9bT4XqvD2Fh1nQj7k3mPz5Lc e2e@vmroll"}],
                "customData": {"secretRef": {"name": secret, "key": "customData"}},
                "tags": {"team": "images"},
            },
            "completion": {"signal": "GuestHealthy", "timeoutSeconds": 600},
        }
    }  # fmt: skip
    return manifest


def cloud_init_secret(kubectl: Kubectl, namespace: str, name: str, text: str) -> None:
    encoded = base64.b64encode(text.encode()).decode()
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "data": {"customData": encoded},
    }))  # fmt: skip


def builder_vms(emulator: EmulatorProcess, capture_uid: str) -> list[dict[str, Any]]:
    """The VMs tagged as the builder of the capture `capture_uid`."""
    return [
        vm for vm in emulator.all_vms() if vm["tags"].get("vmroll.io_capture-uid") == capture_uid
    ]
