"""An ImageCapture on the real local stack: capture -> replicate region by region -> a pool that
follows the definition's latest rolls onto the new version, only once it is in the pool's region.

A configured VM (created behind vmroll's back, as a team's own build would leave it) is captured
into the built-in gallery's ubuntu-web definition as the next patch version, replicated to
westeurope then eastus; a pool in eastus tracking `latest` of that definition rolls onto it. The
emulator's record of when the eastus replica completed bounds when the pool's rollout may start,
and the pool's RolloutStarted event names the capture (the tag it left on the version).
A capture into a definition of another Hyper-V generation is refused by Azure and Stalled.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from capture_helpers import capture_manifest, get_capture, ready, source_vm
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    fast_catalog_data,
    get_pool,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

BEFORE_IN_EASTUS = "1.1.0"
CAPTURED = "1.3.1"


@pytest.fixture
def emulator_catalog() -> dict[str, Any]:
    """The fast catalog, a Gen1 definition beside ubuntu-web; replication takes 10 s a region."""
    data = fast_catalog_data()
    data["latencies"] = {**data.get("latencies", {}), "capture": 300, "replicate": 1000}
    gallery = data["images"]["galleries"][0]
    gallery["images"].append(
        {"name": "ubuntu-gen1", "publisher": "vmroll", "offer": "gen1", "sku": "test",
         "hyperVGeneration": "V1", "versions": []}
    )  # fmt: skip
    return data


def test_capture_replicate_and_a_following_pool_rolls_onto_it(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    image_id = emulator.gallery_image("ubuntu-web")
    gallery = {"gallery": {"imageId": image_id}}
    pool = pool_manifest(
        "web",
        account,
        emulator,
        replicas=1,
        location="eastus",
        vm_size="Standard_B2s",
        image=gallery,
    )
    pool["spec"]["updatePolicy"] = {"track": "Latest", "checkInterval": "1m"}
    apply(kubectl, namespace, pool)
    before = wait_condition(kubectl, namespace, "web", "Ready", operator)
    assert before["status"]["image"]["resolvedVersion"] == BEFORE_IN_EASTUS

    vm_id = source_vm(emulator, "configured")
    apply(kubectl, namespace, capture_manifest("golden", account, vm_id, image_id))
    seen: list[tuple[str, str | None]] = []

    def captured() -> dict[str, Any] | None:
        capture = get_capture(kubectl, namespace, "golden")
        status = capture.get("status", {})
        step = (status.get("phase", ""), status.get("replicated"))
        if step not in seen:
            seen.append(step)
        found = ready(capture)
        return capture if found is not None and found["status"] == "True" else None

    def describe() -> str:
        status = get_capture(kubectl, namespace, "golden").get("status")
        return f"{json.dumps(status)}\n{operator.output()}"

    capture = wait_for("the capture to be Ready", captured, timeout=120, describe=describe)
    status = capture["status"]
    assert ready(capture)["reason"] == "Captured"  # type: ignore[index]
    assert (status["phase"], status["version"], status["replicated"]) == (
        "Succeeded",
        CAPTURED,
        "2/2",
    )
    assert status["imageVersionId"] == f"{image_id}/versions/{CAPTURED}"
    assert [r["state"] for r in status["regions"]] == ["Completed", "Completed"]
    assert "pendingOperation" not in status
    phases = [phase for phase, _ in seen]
    assert phases.index("Generalizing") < phases.index("Capturing") < phases.index("Replicating")
    assert ("Replicating", "1/2") in seen
    source = next(vm for vm in emulator.all_vms() if vm["name"] == "configured")
    assert source["powerState"] == "deallocated"

    def rolled() -> dict[str, Any] | None:
        found = get_pool(kubectl, namespace, "web")
        history = found.get("status", {}).get("history", [])
        done = [
            h
            for h in history
            if h.get("imageVersion") == CAPTURED and h.get("outcome") == "Succeeded"
        ]
        return found if done else None

    def pool_status() -> str:
        status = get_pool(kubectl, namespace, "web").get("status")
        return f"{json.dumps(status)}\n{operator.output()}"

    rolled_pool = wait_for("the pool to roll onto the captured version", rolled, timeout=180,
                           describe=pool_status)  # fmt: skip
    rollout = next(h for h in rolled_pool["status"]["history"] if h["imageVersion"] == CAPTURED)
    operations = emulator.admin("GET", "operations")["value"]
    eastus = next(op for op in operations if op["target"].endswith("#eastus"))
    started = datetime.fromisoformat(rollout["startedAt"].replace("Z", "+00:00")).timestamp()
    assert started >= int(eastus["ended"])
    assert {vm["exactVersion"] for vm in emulator.vms(namespace)} == {CAPTURED}
    events = kubectl.json("get", "events", "-n", namespace,
                          "--field-selector", "involvedObject.name=web")["items"]  # fmt: skip
    started_events = [
        e["message"]
        for e in events
        if e["reason"] == "RolloutStarted" and f"image version {CAPTURED} " in e["message"]
    ]
    assert started_events, [e["message"] for e in events]
    assert started_events[0].endswith(f"(captured by ImageCapture {namespace}/golden)")


def test_a_capture_into_a_definition_of_another_generation_is_stalled(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    vm_id = source_vm(emulator, "configured")
    image_id = emulator.gallery_image("ubuntu-gen1")
    apply(kubectl, namespace, capture_manifest("gen1", account, vm_id, image_id))

    def stalled() -> dict[str, Any] | None:
        capture = get_capture(kubectl, namespace, "gen1")
        conditions = capture.get("status", {}).get("conditions", [])
        found = next((c for c in conditions if c["type"] == "Stalled"), None)
        return found if found is not None and found["status"] == "True" else None

    found = wait_for("the capture to be Stalled", stalled, timeout=90, describe=operator.output)
    assert found["reason"] == "SourceIncompatible"
    assert "different Hypervisor generation ['V2']" in found["message"]
    events = kubectl.json("get", "events", "-n", namespace,
                          "--field-selector", "involvedObject.name=gen1")["items"]  # fmt: skip
    assert "SourceIncompatible" in {event["reason"] for event in events}
    capture = get_capture(kubectl, namespace, "gen1")
    assert capture["status"]["phase"] == "Failed"
    assert capture["status"]["version"] == "1.0.0"
