"""An operator SIGKILLed mid-capture or mid-replication resumes the capture it recorded: after a
restart the capture ends Ready with exactly one version created (one PUT, one operation), since
the version name and the running operation were in status before the operator died.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from capture_helpers import capture_manifest, get_capture, ready, source_vm
from e2e_harness import Kubectl, wait_for
from pool_helpers import EmulatorProcess, Operator, apply, fast_catalog_data

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)


@pytest.fixture
def emulator_catalog() -> dict[str, Any]:
    """The fast catalog; the copy takes 3 s and each region 10 s, time to kill in between."""
    data = fast_catalog_data()
    data["latencies"] = {**data.get("latencies", {}), "capture": 300, "replicate": 1000}
    return data


def mid_capture(status: dict[str, Any]) -> bool:
    pending = status.get("pendingOperation") or {}
    return pending.get("kind") == "CreateVersion" and status.get("replicated") in (None, "0/2")


def mid_replication(status: dict[str, Any]) -> bool:
    return status.get("replicated") == "1/2"


@pytest.mark.parametrize("moment", [mid_capture, mid_replication], ids=lambda f: f.__name__)
def test_a_killed_operator_resumes_and_creates_one_version(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    operator: Operator,
    moment: Callable[[dict[str, Any]], bool],
) -> None:
    vm_id = source_vm(emulator, "configured")
    image_id = emulator.gallery_image("ubuntu-web")
    apply(kubectl, namespace, capture_manifest("golden", account, vm_id, image_id))

    def reached() -> dict[str, Any] | None:
        status = get_capture(kubectl, namespace, "golden").get("status", {})
        return status if moment(status) else None

    at_kill = wait_for(f"the capture {moment.__name__}", reached, timeout=180,
                       describe=operator.output)  # fmt: skip
    operator.kill()
    operator.start()

    def done() -> dict[str, Any] | None:
        capture = get_capture(kubectl, namespace, "golden")
        found = ready(capture)
        return capture if found is not None and found["status"] == "True" else None

    def describe() -> str:
        status = get_capture(kubectl, namespace, "golden").get("status")
        return f"{json.dumps(status)}\n{operator.output()}"

    capture = wait_for("the resumed capture to be Ready", done, timeout=180, describe=describe)
    requests = emulator.admin("GET", "requests")["operations"]
    captures = [op for op in emulator.admin("GET", "operations")["value"]
                if op["kind"] == "gallery.capture"]  # fmt: skip

    assert at_kill["version"] == capture["status"]["version"] == "1.3.1"
    assert requests["GalleryImageVersions_CreateOrUpdate"]["total"] == 1
    assert requests["VirtualMachines_Generalize"]["total"] == 1
    assert len(captures) == 1
    assert capture["status"]["replicated"] == "2/2"
