"""A version of the image published while the operator runs: `track: Latest` rolls its pool to
it, and its events say so; `track: Pinned` only reports it in `status.image.latestAvailable`.

Both pools run side by side, so that one wait for the shared `latest` cache to expire (the
smallest `checkInterval` the API allows is one minute) serves both.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    get_pool,
    pool_manifest,
    story,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

PUBLISHED = "24.04.202612010"
NEWEST_BEFORE = "24.04.202611100"


def _pool(name: str, account: str, emulator: EmulatorProcess, track: str) -> dict[str, Any]:
    manifest = pool_manifest(name, account, emulator, replicas=2)
    manifest["spec"]["updatePolicy"] = {"track": track, "checkInterval": "1m"}
    return manifest


def _versions(emulator: EmulatorProcess, namespace: str, pool: str) -> set[str]:
    return {
        vm["exactVersion"] for vm in emulator.vms(namespace) if vm["tags"]["vmroll.io_pool"] == pool
    }


def test_latest_rolls_to_a_published_version_and_pinned_only_reports_it(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    apply(kubectl, namespace, _pool("follows", account, emulator, "Latest"))
    apply(kubectl, namespace, _pool("pinned", account, emulator, "Pinned"))
    for name in ("follows", "pinned"):
        pool = wait_condition(kubectl, namespace, name, "Ready", operator)
        assert pool["status"]["image"]["resolvedVersion"] == NEWEST_BEFORE

    emulator.admin("POST", "images/marketplace/versions", {
        "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
        "version": PUBLISHED, "locations": ["westeurope"],
    })  # fmt: skip

    def rolled() -> bool | None:
        return True if _versions(emulator, namespace, "follows") == {PUBLISHED} else None

    wait_for("the Latest pool to roll to the published version", rolled, timeout=150,
             describe=operator.output)  # fmt: skip
    follows = wait_condition(kubectl, namespace, "follows", "Ready", operator)
    assert follows["status"]["image"]["resolvedVersion"] == PUBLISHED
    assert len(emulator.vms(namespace)) == 4
    told = story(kubectl, namespace, "follows")
    assert [reason for reason, _ in told] == [
        "RolloutComplete", "RolloutStarted", "RolloutBatch", "RolloutBatch", "RolloutComplete",
    ]  # fmt: skip
    revision = follows["status"]["updateRevision"]
    assert told[1][1] == (
        f"rolling out image version {PUBLISHED} (revision {revision}) over {NEWEST_BEFORE}: "
        "a newer image version was published and the pool tracks the latest"
    )
    batches = [message.split(": replacing ")[0] for reason, message in told[2:4]]
    assert batches == ["batch 1 of 2", "batch 2 of 2"]
    assert told[4][1].startswith(f"rolled 2 VMs from {NEWEST_BEFORE} to {PUBLISHED} in ")
    assert [reason for reason, _ in story(kubectl, namespace, "pinned")] == ["RolloutComplete"]

    def reported() -> bool | None:
        image = get_pool(kubectl, namespace, "pinned")["status"]["image"]
        return True if image.get("latestAvailable") == PUBLISHED else None

    wait_for("the Pinned pool to report the version", reported, timeout=30,
             describe=operator.output)  # fmt: skip
    pinned = wait_condition(kubectl, namespace, "pinned", "Ready", operator)
    assert pinned["status"]["image"]["resolvedVersion"] == NEWEST_BEFORE
    assert _versions(emulator, namespace, "pinned") == {NEWEST_BEFORE}
