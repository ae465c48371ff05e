"""A version that boots unhealthy is rolled back: the pool returns to its previous revision,
says so (`Stalled` reason `RolledBack`, an event, a history entry), and does not try the bad
version again while the spec stays the same."""

from __future__ import annotations

import pytest
from e2e_harness import Kubectl
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

GOOD, BAD = "24.04.202611100", "24.04.202612020"
DEADLINE_SECONDS = 60
"""The smallest progressDeadlineSeconds the API allows."""


def test_an_unhealthy_version_is_rolled_back(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    emulator.admin("POST", "images/marketplace/versions", {
        "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
        "version": BAD, "locations": ["westeurope"], "bootsUnhealthy": True,
    })  # fmt: skip
    manifest = pool_manifest("web", account, emulator, replicas=2)
    manifest["spec"]["image"]["marketplace"]["version"] = GOOD
    manifest["spec"]["strategy"]["progressDeadlineSeconds"] = DEADLINE_SECONDS
    manifest["spec"]["strategy"]["rollback"] = {"onFailure": True, "maxUnhealthyPercent": 0}
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)

    manifest["spec"]["image"]["marketplace"]["version"] = BAD
    apply(kubectl, namespace, manifest)
    pool = wait_condition(
        kubectl, namespace, "web", "Stalled", operator, reason="RolledBack",
        timeout=DEADLINE_SECONDS + 90,
    )  # fmt: skip

    vms = emulator.vms(namespace)
    assert len(vms) == 2
    assert {vm["exactVersion"] for vm in vms} == {GOOD}
    history = pool["status"]["history"]
    assert (history[0]["imageVersion"], history[0]["outcome"]) == (BAD, "RolledBack")
    events = kubectl.json("get", "events", "-n", namespace)["items"]
    assert "RolledBack" in {e["reason"] for e in events if e["type"] == "Warning"}
