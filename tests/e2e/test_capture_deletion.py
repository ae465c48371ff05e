"""Deleting an ImageCapture while its builder VM exists, on the real local stack: with
`disposal: Delete` the operator deletes the builder (the VM whose capture-UID tag is the
capture's, and no other VM of the builders' name pattern) before the finalizer goes; with
`Retain` the builder stays in Azure.
"""

from __future__ import annotations

from typing import Any

import pytest
from capture_helpers import builder_capture_manifest, builder_vms, cloud_init_secret, get_capture
from e2e_harness import Kubectl, wait_for
from pool_helpers import EmulatorProcess, Operator, apply, create_vm_out_of_band, fast_catalog_data

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

FOREIGN_UID = "00000000-0000-4000-8000-00000000f00d"


@pytest.fixture
def emulator_catalog() -> dict[str, Any]:
    """A builder's create takes 5 s."""
    data = fast_catalog_data()
    data["latencies"] = {**data.get("latencies", {}), "create": 500}
    return data


def start_building(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator,
    disposal: str,
) -> dict[str, Any]:  # fmt: skip
    """The capture `golden`, once Azure has its builder VM. The builder boots the gallery's
    ubuntu-web 1.2.0, which never reports healthy (the emulator's model of a cloud-init that
    fails): the capture is still Building when it is deleted, never disposing of it itself."""
    cloud_init_secret(kubectl, namespace, "build-init", "#cloud-config\n")
    image_id = emulator.gallery_image("ubuntu-web")
    manifest = builder_capture_manifest("golden", account, emulator, image_id, "build-init")
    builder = manifest["spec"]["source"]["builder"]
    builder["image"] = {"gallery": {"imageId": image_id, "version": "1.2.0"}}
    builder["disposal"] = disposal
    apply(kubectl, namespace, manifest)

    def building() -> dict[str, Any] | None:
        capture = get_capture(kubectl, namespace, "golden")
        status = capture.get("status", {})
        built = builder_vms(emulator, capture["metadata"]["uid"])
        return capture if status.get("phase") == "Building" and built else None

    return wait_for("the builder VM to exist", building, timeout=120, describe=operator.output)


def delete_and_wait_gone(kubectl: Kubectl, namespace: str, operator: Operator) -> None:
    kubectl("delete", "-n", namespace, "imagecapture", "golden", "--wait=false")

    def gone() -> bool | None:
        found = kubectl("get", "-n", namespace, "imagecapture", "golden", check=False)
        return True if found.returncode != 0 and "NotFound" in found.stderr else None

    wait_for("the capture to be gone", gone, timeout=120, describe=operator.output)


def test_deleting_a_capture_mid_build_deletes_its_builder_and_no_other_vm(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    capture = start_building(kubectl, namespace, account, emulator, operator, "Delete")
    uid = capture["metadata"]["uid"]
    builder_name = capture["status"]["sourceVmId"].rsplit("/", 1)[1]
    # The builders' name pattern, tagged as another capture's builder: never the capture's.
    create_vm_out_of_band(
        emulator, "rg-vmroll", "golden-build-other", {"vmroll.io_capture-uid": FOREIGN_UID}
    )
    assert "vmroll.io/finalizer" in capture["metadata"]["finalizers"]

    delete_and_wait_gone(kubectl, namespace, operator)
    left = {vm["name"]: vm["tags"] for vm in emulator.all_vms()}
    requests = emulator.admin("GET", "requests")["operations"]

    assert builder_vms(emulator, uid) == []
    assert builder_name not in left
    assert left["golden-build-other"] == {"vmroll.io_capture-uid": FOREIGN_UID}
    assert requests["VirtualMachines_Delete"]["total"] == 1
    assert "GalleryImageVersions_CreateOrUpdate" not in requests  # deleted mid-build


def test_deleting_a_capture_mid_build_with_disposal_retain_leaves_its_builder(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    capture = start_building(kubectl, namespace, account, emulator, operator, "Retain")
    uid = capture["metadata"]["uid"]

    delete_and_wait_gone(kubectl, namespace, operator)
    requests = emulator.admin("GET", "requests")["operations"]

    assert [vm["id"] for vm in builder_vms(emulator, uid)] == [capture["status"]["sourceVmId"]]
    assert "VirtualMachines_Delete" not in requests


def test_a_capture_whose_account_is_gone_stalls_until_an_admin_releases_it(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    """As a pool: nothing can be deleted without the account, so the capture keeps its finalizer
    and says how to let it go; the release annotation leaves the builder untouched."""
    capture = start_building(kubectl, namespace, account, emulator, operator, "Delete")
    uid = capture["metadata"]["uid"]
    kubectl("delete", "azureaccount", account)

    kubectl("delete", "-n", namespace, "imagecapture", "golden", "--wait=false")

    def stalled() -> dict[str, Any] | None:
        found = get_capture(kubectl, namespace, "golden")
        if not found["metadata"].get("deletionTimestamp"):
            return None
        conditions = found.get("status", {}).get("conditions", [])
        condition = next((c for c in conditions if c["type"] == "Stalled"), None)
        held = condition is not None and condition["status"] == "True"
        return condition if held and "release-without-cleanup" in condition["message"] else None

    condition = wait_for("the deleted capture to be Stalled", stalled, timeout=120,
                         describe=operator.output)  # fmt: skip
    kubectl("annotate", "-n", namespace, "imagecapture", "golden",
            "vmroll.io/release-without-cleanup=true")  # fmt: skip
    kubectl("wait", "-n", namespace, "imagecapture/golden", "--for=delete", "--timeout=90s",
            timeout=120)  # fmt: skip
    requests = emulator.admin("GET", "requests")["operations"]
    events = kubectl.json(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=golden"
    )["items"]

    assert condition["reason"] == "AccountNotFound"
    assert [vm["id"] for vm in builder_vms(emulator, uid)] == [capture["status"]["sourceVmId"]]
    assert "VirtualMachines_Delete" not in requests
    assert "ReleasedWithoutCleanup" in {e["reason"] for e in events}
