"""ImageCapture retention on the real local stack: the old versions nobody uses are deleted, the
ones pools run or target survive, and retention converges when a pool lets go.

Five captures into the built-in gallery's ubuntu-web definition (which already holds versions
1.0.0 to 1.3.0, published by someone else): 1.3.1, which a pool's VMs run; 1.3.2, which that
pool's spec then pins while its rollout is paused (so its VMs stay on 1.3.1, which nothing else
names); 1.3.3, which a pool of another namespace (one this operator does not reconcile) pins;
1.3.4, which nothing uses; and 1.3.5 with `retention.keepNewest: 1`. Once 1.3.5 is Ready, 1.3.4
is gone and everything else is still there. When the other namespace's pool is deleted, a resync
deletes 1.3.3; when the paused pool resumes and rolls onto 1.3.2, a resync deletes 1.3.1. The
operator runs with the chart's ServiceAccount, so the chart's RBAC is proven to let it list pools
of every namespace.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from capture_helpers import capture_manifest, get_capture, ready, source_vm
from e2e_harness import Kubectl, KubectlFailed, create_namespace, delete_namespace, wait_for
from kubernetes import client
from pool_helpers import (
    CHART_SERVICE_ACCOUNT,
    EmulatorProcess,
    Operator,
    apply,
    fast_catalog_data,
    pool_manifest,
    wait_condition,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("operator_credential", [CHART_SERVICE_ACCOUNT], indirect=True),
]
pytest_plugins = ("pool_fixtures",)

NOT_VMROLLS = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
RUN, PINNED, PINNED_ELSEWHERE, UNUSED, NEWEST = "1.3.1", "1.3.2", "1.3.3", "1.3.4", "1.3.5"


@pytest.fixture
def emulator_catalog() -> dict[str, Any]:
    """The fast catalog; a capture's copy and each region's replication take about a second."""
    data = fast_catalog_data()
    data["latencies"] = {**data.get("latencies", {}), "capture": 100, "replicate": 100}
    return data


@pytest.fixture
def other_namespace(namespace: str, k8s_client: client.ApiClient) -> Iterator[str]:
    name = f"{namespace}-other"[:63]
    create_namespace(k8s_client, name)
    yield name
    delete_namespace(k8s_client, name)


def capture(name: str, account: str, emulator: EmulatorProcess, version: str) -> dict[str, Any]:
    manifest = capture_manifest(name, account, source_vm(emulator, f"src-{name}"),
                                emulator.gallery_image("ubuntu-web"))  # fmt: skip
    target = manifest["spec"]["target"]
    del target["versionScheme"]
    target.update(version=version, regions=[{"name": "westeurope"}])
    return manifest


def pinned_pool(name: str, account: str, emulator: EmulatorProcess, version: str) -> dict[str, Any]:
    image = {"gallery": {"imageId": emulator.gallery_image("ubuntu-web"), "version": version}}
    return pool_manifest(name, account, emulator, replicas=1, image=image, vm_size="Standard_B2s")


def versions(emulator: EmulatorProcess) -> set[str]:
    """The names of ubuntu-web's versions as the emulator holds them (the capture's own status
    cannot witness what it deleted)."""
    inventory = emulator.admin("GET", "images")
    for gallery in inventory["galleries"]:
        for definition in gallery["images"]:
            if definition["name"] == "ubuntu-web":
                return {v["name"] for v in definition["versions"]}
    raise AssertionError(f"no ubuntu-web in {json.dumps(inventory)[:2000]}")


def test_retention_deletes_unused_versions_and_keeps_those_pools_use(
    kubectl: Kubectl,
    namespace: str,
    other_namespace: str,
    account: str,
    emulator: EmulatorProcess,
    operator: Operator,
) -> None:
    def captured(name: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            found = get_capture(kubectl, namespace, name)
            condition = ready(found)
            return found if condition is not None and condition["status"] == "True" else None

        def describe() -> str:
            return f"{json.dumps(get_capture(kubectl, namespace, name).get('status'))}\n" + (
                operator.output()
            )

        return wait_for(f"capture {name} to be Ready", done, timeout=120, describe=describe)

    refused = capture("too-few", account, emulator, "9.9.9")
    refused["spec"]["retention"] = {"keepNewest": 0}
    with pytest.raises(KubectlFailed) as failed:
        apply(kubectl, namespace, refused)
    assert "spec.retention.keepNewest" in str(failed.value)

    for index, version in enumerate([RUN, PINNED, PINNED_ELSEWHERE, UNUSED], start=1):
        apply(kubectl, namespace, capture(f"golden-{index}", account, emulator, version))
        captured(f"golden-{index}")
    apply(kubectl, namespace, pinned_pool("web", account, emulator, RUN))
    wait_condition(kubectl, namespace, "web", "Ready", operator, timeout=120)
    paused = {"strategy": {"paused": True}, "image": {"gallery": {"version": PINNED}}}
    kubectl("patch", "-n", namespace, "vmpool", "web", "--type", "merge",
            "-p", json.dumps({"spec": paused}))  # fmt: skip
    wait_condition(kubectl, namespace, "web", "RolloutPaused", operator)
    assert {vm["exactVersion"] for vm in emulator.vms(namespace)} == {RUN}
    apply(kubectl, other_namespace, pinned_pool("batch", account, emulator, PINNED_ELSEWHERE))
    assert versions(emulator) == {*NOT_VMROLLS, RUN, PINNED, PINNED_ELSEWHERE, UNUSED}

    last = capture("golden-5", account, emulator, NEWEST)
    last["spec"]["retention"] = {"keepNewest": 1}
    apply(kubectl, namespace, last)
    captured("golden-5")

    def retained() -> dict[str, Any] | None:
        found = get_capture(kubectl, namespace, "golden-5")
        conditions = found.get("status", {}).get("conditions", [])
        applied = next((c for c in conditions if c["type"] == "RetentionApplied"), None)
        return found if applied is not None and applied["status"] == "True" else None

    status = wait_for("retention to apply", retained, timeout=60,
                      describe=operator.output)["status"]  # fmt: skip
    assert versions(emulator) == {*NOT_VMROLLS, RUN, PINNED, PINNED_ELSEWHERE, NEWEST}
    assert status["retention"]["deleted"] == [UNUSED]
    kept = {k["name"]: (k["reason"], k["message"]) for k in status["retention"]["kept"]}
    assert kept[RUN] == ("InUse", f"used by pool {namespace}/web")
    assert kept[PINNED] == ("InUse", f"used by pool {namespace}/web")
    assert kept[PINNED_ELSEWHERE] == ("InUse", f"used by pool {other_namespace}/batch")
    assert {kept[v][0] for v in NOT_VMROLLS} == {"NotCaptured"}
    assert NEWEST not in kept
    events = kubectl.json("get", "events", "-n", namespace,
                          "--field-selector", "involvedObject.name=golden-5")["items"]  # fmt: skip
    deletions = [e["message"] for e in events if e["reason"] == "VersionDeleted"]
    image_id = emulator.gallery_image("ubuntu-web")
    assert deletions == [f"deleted version {UNUSED} of {image_id} (retention keepNewest 1)"]

    def gone(version: str) -> set[str]:
        def probe() -> set[str] | None:
            now = versions(emulator)
            return now if version not in now else None

        def describe() -> str:
            status = get_capture(kubectl, namespace, "golden-5").get("status")
            return f"{json.dumps(status)}\n{operator.output()}"

        return wait_for(f"a resync to delete {version}, which no pool uses any more", probe,
                        timeout=120, describe=describe)  # fmt: skip

    kubectl("delete", "-n", other_namespace, "vmpool", "batch")
    assert gone(PINNED_ELSEWHERE) == {*NOT_VMROLLS, RUN, PINNED, NEWEST}
    kubectl("patch", "-n", namespace, "vmpool", "web", "--type", "merge",
            "-p", json.dumps({"spec": {"strategy": {"paused": False}}}))  # fmt: skip
    assert gone(RUN) == {*NOT_VMROLLS, PINNED, NEWEST}
    assert {vm["exactVersion"] for vm in emulator.vms(namespace)} == {PINNED}
    final = get_capture(kubectl, namespace, "golden-5")["status"]["retention"]
    assert final["deleted"] == [UNUSED, PINNED_ELSEWHERE, RUN]
