"""A rollout's story read from the pool's events alone, and a maintenance window that holds a
rollout back until it opens, on the real stack.

The window is computed around the test's own clock: a daily window opening at the first whole
minute at least a minute away (windows are minute-granular), so the pool first says it waits,
and when the window opens, then rolls. `kubectl get events --field-selector
involvedObject.name=web` must then tell: created, a rollout started (and why), waited for the
window, batch 1 of 2, batch 2 of 2, rolled 2 VMs from the old version to the new one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    current,
    get_pool,
    pool_events,
    pool_manifest,
    story,
    wait_condition,
)
from status_capture import capture

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"


def _ubuntu(version: str) -> dict[str, Any]:
    return {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                            "sku": "server", "version": version}}  # fmt: skip


def _next_opening(now: datetime) -> datetime:
    """The first whole minute at least 60 s after `now`."""
    soon = now + timedelta(seconds=60)
    whole = soon.replace(second=0, microsecond=0)
    return whole if whole == soon else whole + timedelta(minutes=1)


def test_a_rollout_waits_for_its_window_then_tells_its_story(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    manifest = pool_manifest("web", account, emulator, replicas=2, image=_ubuntu(OLD))
    manifest["spec"]["strategy"] = {
        "type": "RollingReimage", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }  # fmt: skip
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    names = sorted(vm["name"] for vm in emulator.vms(namespace))

    opens = _next_opening(datetime.now(UTC))
    manifest["spec"]["updatePolicy"] = {"maintenanceWindows": [f"* {opens:%H:%M} 1h"]}
    manifest["spec"]["image"] = _ubuntu(NEW)
    apply(kubectl, namespace, manifest)

    waiting = wait_condition(
        kubectl, namespace, "web", "Reconciling", operator, reason="WaitingForMaintenanceWindow"
    )
    revision = waiting["status"]["updateRevision"]
    reconciling = next(c for c in waiting["status"]["conditions"] if c["type"] == "Reconciling")
    assert reconciling["message"] == (
        f"the rollout to image version {NEW} (revision {revision}) waits for a maintenance "
        f"window: the next window opens at {opens:%Y-%m-%dT%H:%M:%SZ}"
    )
    assert waiting["status"]["upNext"] == names
    assert {vm["exactVersion"] for vm in emulator.vms(namespace)} == {OLD}
    capture(kubectl, "vmpool", "web", "waiting-for-window", namespace)

    def rolled() -> bool | None:
        pool = get_pool(kubectl, namespace, "web")
        ready = next((c for c in pool["status"]["conditions"] if c["type"] == "Ready"), None)
        done = current(pool) and ready is not None and ready["status"] == "True"
        versions = {vm["exactVersion"] for vm in emulator.vms(namespace)}
        return True if done and versions == {NEW} else None

    wait_for("the rollout inside the window", rolled, timeout=240, describe=operator.output)

    events = pool_events(kubectl, namespace, "web")
    reimaged = [e for e in events if e["reason"] == "Reimaged"]
    assert len(reimaged) == 2
    # No VM was touched before the window opened.
    assert all(datetime.fromisoformat(e["eventTime"]) >= opens for e in reimaged)
    told = story(kubectl, namespace, "web")
    assert [reason for reason, _ in told] == [
        "RolloutComplete",
        "RolloutStarted",
        "WaitingForMaintenanceWindow",
        "RolloutBatch",
        "RolloutBatch",
        "RolloutComplete",
    ]
    assert told[0][1].startswith(f"rolled 2 VMs to {OLD} in ")
    assert told[1][1] == (
        f"rolling out image version {NEW} (revision {revision}) over {OLD}: "
        "the spec changed (generation 2)"
    )
    assert told[2][1] == reconciling["message"]
    batches = [message for reason, message in told if reason == "RolloutBatch"]
    assert [b.split(": reimaging ")[0] for b in batches] == ["batch 1 of 2", "batch 2 of 2"]
    assert sorted(b.split(": reimaging ")[1] for b in batches) == names
    assert told[5][1].startswith(f"rolled 2 VMs from {OLD} to {NEW} in ")
