"""An ImageCapture whose source is a builder, on the real local stack: vmroll creates the VM from
the marketplace Ubuntu image with cloud-init from a Secret, waits for its guest to report healthy,
captures it into the gallery, replicates the version, and deletes the builder.

A canary in the cloud-init Secret must show up in no status, event or operator log line. An
operator SIGKILLed while the builder is being created or waited for resumes: exactly one builder
VM (one create request) and one version come out of it, since the builder's ID was in status
before its create was sent and its name is derived from the capture's UID.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from capture_helpers import (
    builder_capture_manifest,
    builder_vms,
    cloud_init_secret,
    get_capture,
    ready,
)
from e2e_harness import Kubectl, wait_for
from pool_helpers import EmulatorProcess, Operator, apply, fast_catalog_data

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

CAPTURED = "1.3.1"


@pytest.fixture
def emulator_catalog() -> dict[str, Any]:
    """The fast catalog; a VM create takes 5 s, the copy 3 s and each region 10 s."""
    data = fast_catalog_data()
    data["latencies"] = {
        **data.get("latencies", {}), "create": 500, "capture": 300, "replicate": 1000,
    }  # fmt: skip
    return data


def events_of(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = kubectl.json(
        "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}"
    )["items"]
    return found


def wait_ready(
    kubectl: Kubectl, namespace: str, name: str, operator: Operator, seen: list[str]
) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        capture = get_capture(kubectl, namespace, name)
        phase = capture.get("status", {}).get("phase", "")
        if phase and (not seen or seen[-1] != phase):
            seen.append(phase)
        found = ready(capture)
        return capture if found is not None and found["status"] == "True" else None

    def describe() -> str:
        status = get_capture(kubectl, namespace, name).get("status")
        return f"{json.dumps(status)}\n{operator.output()}"

    return wait_for(f"the capture {name} to be Ready", done, timeout=240, describe=describe)


def test_a_builder_is_created_configured_captured_and_deleted(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    canary = f"canary-{secrets.token_hex(8)}"
    cloud_init_secret(kubectl, namespace, "build-init", f"#cloud-config\n# {canary}\n")
    image_id = emulator.gallery_image("ubuntu-web")
    manifest = builder_capture_manifest("golden", account, emulator, image_id, "build-init")
    apply(kubectl, namespace, manifest)
    phases: list[str] = []

    capture = wait_ready(kubectl, namespace, "golden", operator, phases)
    status = capture["status"]
    uid = capture["metadata"]["uid"]
    requests = emulator.admin("GET", "requests")["operations"]

    assert ready(capture)["reason"] == "Captured"  # type: ignore[index]
    assert (status["phase"], status["version"], status["replicated"]) == (
        "Succeeded",
        CAPTURED,
        "2/2",
    )
    assert "/resourceGroups/rg-vmroll/" in status["sourceVmId"]
    assert status["sourceVmId"].rsplit("/", 1)[1].startswith("golden-build-")
    assert status["builtAt"] >= status["builderStartedAt"]
    assert phases.index("Building") < phases.index("Generalizing") < phases.index("Capturing")
    assert "DeletingBuilder" in phases
    assert builder_vms(emulator, uid) == []
    assert requests["VirtualMachines_CreateOrUpdate"]["total"] == 1
    assert requests["VirtualMachines_Delete"]["total"] == 1
    assert requests["GalleryImageVersions_CreateOrUpdate"]["total"] == 1
    version = emulator.admin("GET", "operations")["value"]
    assert len([op for op in version if op["kind"] == "gallery.capture"]) == 1
    events = events_of(kubectl, namespace, "golden")
    assert {"Building", "DeletingBuilder", "Captured"} <= {e["reason"] for e in events}
    assert canary not in json.dumps(capture)
    assert canary not in json.dumps(events)
    assert canary not in operator.output()


def test_a_killed_operator_resumes_the_builder_and_makes_one_builder_and_one_version(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    cloud_init_secret(kubectl, namespace, "build-init", "#cloud-config\n")
    image_id = emulator.gallery_image("ubuntu-web")
    manifest = builder_capture_manifest("golden", account, emulator, image_id, "build-init")
    manifest["spec"]["source"]["builder"]["disposal"] = "Retain"
    apply(kubectl, namespace, manifest)

    def building() -> dict[str, Any] | None:
        status = get_capture(kubectl, namespace, "golden").get("status", {})
        return status if status.get("phase") == "Building" and status.get("sourceVmId") else None

    at_kill = wait_for("the capture to be building", building, timeout=120,
                       describe=operator.output)  # fmt: skip
    operator.kill()
    operator.start()

    capture = wait_ready(kubectl, namespace, "golden", operator, [])
    status = capture["status"]
    uid = capture["metadata"]["uid"]
    requests = emulator.admin("GET", "requests")["operations"]
    built = builder_vms(emulator, uid)
    captures = [op for op in emulator.admin("GET", "operations")["value"]
                if op["kind"] == "gallery.capture"]  # fmt: skip

    assert status["sourceVmId"] == at_kill["sourceVmId"]
    assert [vm["id"] for vm in built] == [status["sourceVmId"]]
    assert built[0]["tags"] == {
        "team": "images",
        "vmroll.io_capture-uid": uid,
        "vmroll.io_capture": "golden",
        "vmroll.io_capture-namespace": namespace,
    }
    assert built[0]["powerState"] == "deallocated"
    assert requests["VirtualMachines_CreateOrUpdate"]["total"] == 1
    assert "VirtualMachines_Delete" not in requests
    assert requests["GalleryImageVersions_CreateOrUpdate"]["total"] == 1
    assert len(captures) == 1
    assert (status["version"], status["replicated"]) == (CAPTURED, "2/2")


def stalled(kubectl: Kubectl, namespace: str, name: str, operator: Operator) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        conditions = get_capture(kubectl, namespace, name).get("status", {}).get("conditions", [])
        found = next((c for c in conditions if c["type"] == "Stalled"), None)
        return found if found is not None and found["status"] == "True" else None

    return wait_for(f"the capture {name} to be Stalled", probe, timeout=180,
                    describe=operator.output)  # fmt: skip


def test_a_builder_whose_guest_never_turns_healthy_times_out_and_is_kept(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    """The gallery's ubuntu-web 1.2.0 boots but never reports healthy (the emulator's model of
    a cloud-init that fails); the shortest timeout the API allows is 60 s."""
    cloud_init_secret(kubectl, namespace, "build-init", "#cloud-config\n")
    image_id = emulator.gallery_image("ubuntu-web")
    manifest = builder_capture_manifest("broken", account, emulator, image_id, "build-init")
    builder = manifest["spec"]["source"]["builder"]
    builder["image"] = {"gallery": {"imageId": image_id, "version": "1.2.0"}}
    builder["completion"]["timeoutSeconds"] = 60
    apply(kubectl, namespace, manifest)

    found = stalled(kubectl, namespace, "broken", operator)
    capture = get_capture(kubectl, namespace, "broken")
    kept = builder_vms(emulator, capture["metadata"]["uid"])
    requests = emulator.admin("GET", "requests")["operations"]

    assert found["reason"] == "BuilderTimedOut"
    assert "spec.source.builder.completion.timeoutSeconds" in found["message"]
    assert capture["status"]["phase"] == "Failed"
    assert [(vm["id"], vm["powerState"]) for vm in kept] == [
        (capture["status"]["sourceVmId"], "running")
    ]
    assert "GalleryImageVersions_CreateOrUpdate" not in requests
    warnings = [e for e in events_of(kubectl, namespace, "broken") if e["type"] == "Warning"]
    assert "BuilderTimedOut" in {e["reason"] for e in warnings}


def test_a_base_image_not_offered_in_the_builders_location_is_stalled(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    """Ubuntu 24.04.202611100 is offered in westeurope only: no builder in eastus."""
    cloud_init_secret(kubectl, namespace, "build-init", "#cloud-config\n")
    image_id = emulator.gallery_image("ubuntu-web")
    manifest = builder_capture_manifest("elsewhere", account, emulator, image_id, "build-init")
    builder = manifest["spec"]["source"]["builder"]
    builder["location"] = "eastus"
    builder["template"]["subnetId"] = emulator.subnet_id("eastus")
    builder["image"]["marketplace"]["version"] = "24.04.202611100"
    apply(kubectl, namespace, manifest)

    found = stalled(kubectl, namespace, "elsewhere", operator)
    capture = get_capture(kubectl, namespace, "elsewhere")
    requests = emulator.admin("GET", "requests")["operations"]

    assert found["reason"] == "ImageNotAvailable"
    assert "eastus" in found["message"]
    assert builder_vms(emulator, capture["metadata"]["uid"]) == []
    assert "VirtualMachines_CreateOrUpdate" not in requests
    warnings = [e for e in events_of(kubectl, namespace, "elsewhere") if e["type"] == "Warning"]
    assert "ImageNotAvailable" in {e["reason"] for e in warnings}
