"""An automatic rollback, pass by pass against a fake Azure: it puts back exactly the previous
revision's image whatever the spec or `latest` says now, records it truthfully, and then stops:
`Stalled` with reason `RolledBack`, one event, and no further write until the spec changes."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from test_reconcile_fakes import GALLERY_IMAGE, World

from vmroll.api.pool_status import VirtualMachinePoolStatus
from vmroll.reconcile.inputs import Next
from vmroll.reconcile.memory import PoolMemory

DEADLINE = 120
STRATEGY = {
    "type": "RollingReimage",
    "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    "minReadySeconds": 0,
    "progressDeadlineSeconds": DEADLINE,
    "rollback": {"onFailure": True, "maxUnhealthyPercent": 20},
}


@dataclass(frozen=True)
class Case:
    """A pool that is Ready on `good`, then `bad` (which boots unhealthy) becomes its target."""

    image: dict[str, Any]
    good: str
    bad: str
    bumped: dict[str, Any] | None = None
    """The spec's image that names the bad version (a new generation); None: `latest` moves."""
    update_policy: dict[str, Any] | None = None


MARKETPLACE = {"publisher": "Canonical", "offer": "ubuntu", "sku": "server"}
GALLERY_PINNED = Case(
    {"gallery": {"imageId": GALLERY_IMAGE, "version": "1.1.0"}}, "1.1.0", "1.2.0",
    bumped={"gallery": {"imageId": GALLERY_IMAGE, "version": "1.2.0"}},
)  # fmt: skip
MARKETPLACE_LATEST = Case({"marketplace": {**MARKETPLACE, "version": "latest"}}, "1.0.2", "1.0.9")
MARKETPLACE_LATEST_PINNED = Case(
    {"marketplace": {**MARKETPLACE, "version": "1.0.2"}}, "1.0.2", "1.0.9",
    bumped={"marketplace": {**MARKETPLACE, "version": "latest"}},
    update_policy={"track": "Pinned"},
)  # fmt: skip
"""Moved from an exact version to `latest` with `track: Pinned`: the first resolution fails."""
CASES = [
    pytest.param(GALLERY_PINNED, id="gallery-pinned"),
    pytest.param(MARKETPLACE_LATEST, id="marketplace-latest"),
    pytest.param(MARKETPLACE_LATEST_PINNED, id="marketplace-latest-pinned"),
]


def ready_pool(case: Case) -> World:
    world = World()
    world.pool["spec"]["image"] = copy.deepcopy(case.image)
    world.pool["spec"]["strategy"] = copy.deepcopy(STRATEGY)
    if case.update_policy is not None:
        world.pool["spec"]["updatePolicy"] = case.update_policy
    world.azure.latest = case.good
    world.azure.unhealthy = {case.bad}
    return world


def bump(world: World, case: Case) -> None:
    """Make the bad version the pool's target: in the spec, or as what `latest` resolves to."""
    if case.bumped is not None:
        world.pool["spec"]["image"] = copy.deepcopy(case.bumped)
        world.pool["metadata"]["generation"] = 2
    world.azure.latest = case.bad


def status_of(world: World) -> VirtualMachinePoolStatus:
    assert world.memory.status is not None
    return world.memory.status


def condition(world: World, type_: str) -> tuple[str, str, str]:
    found = next(c for c in status_of(world).conditions if c.type == type_)
    return found.status.value, found.reason, found.message


async def settle(world: World, passes: int, seconds: float) -> Next:
    outcome = Next.PROGRESSING
    for _ in range(passes):
        outcome = (await world.pass_().run()).next
        world.tick(seconds)
    return outcome


async def roll_to_bad(case: Case) -> World:
    world = ready_pool(case)
    await settle(world, 3, 1)
    assert condition(world, "Ready")[:2] == ("True", "AllReplicasReady")
    bump(world, case)
    # Long enough for the deadline and the health grace to pass, and the rollback to finish.
    await settle(world, 120, 10)
    return world


@pytest.mark.parametrize("case", CASES)
async def test_a_rollback_runs_the_previous_image_again(case: Case) -> None:
    world = await roll_to_bad(case)

    assert {vm.image_version for vm in world.azure.vms.values()} == {case.good}
    assert len(world.azure.vms) == 3
    status = status_of(world)
    assert {i.image_version for i in status.instances} == {case.good}
    assert {i.revision for i in status.instances} == {status.current_revision}


@pytest.mark.parametrize("case", CASES)
async def test_a_rollback_records_the_image_it_put_back(case: Case) -> None:
    world = await roll_to_bad(case)

    status = status_of(world)
    latest, failed = status.history[0], status.history[1]
    assert (latest.revision, latest.image_version) == (status.current_revision, case.good)
    assert (failed.image_version, failed.outcome.value) == (case.bad, "RolledBack")
    assert status.update_revision == status.current_revision
    assert status.image is not None
    assert status.image.resolved_version == case.good
    assert status.image.image_id is not None
    assert status.image.image_id.endswith(case.good)
    resolved = condition(world, "ImageResolved")
    assert resolved[0] == "True"
    assert case.bad in resolved[2]
    assert case.good in resolved[2]


@pytest.mark.parametrize("case", CASES)
async def test_a_rollback_stalls_once_naming_the_bad_version(case: Case) -> None:
    world = await roll_to_bad(case)

    stalled = condition(world, "Stalled")
    assert stalled[:2] == ("True", "RolledBack")
    assert case.bad in stalled[2]
    assert condition(world, "Ready")[0] == "False"
    warnings = [e for e in world.sinks.events if e[0] == "Warning"]
    # One warning when the rollback starts, one when it ends in `Stalled`.
    assert [e[1] for e in warnings] == ["RollingBack", "RolledBack"]
    assert warnings[0][2].startswith(f"image version {case.bad} (revision ")
    assert f"failed: rolling back to image version {case.good} " in warnings[0][2]


@pytest.mark.parametrize("case", CASES)
async def test_a_rolled_back_pool_writes_nothing_more_until_the_spec_changes(case: Case) -> None:
    world = await roll_to_bad(case)
    patches, events = len(world.sinks.patches), len(world.sinks.events)
    world.log.clear()

    outcome = await settle(world, 20, 30)

    assert outcome in (Next.SETTLED, Next.STALLED)
    writes = [e for e in world.log if e.startswith(("create", "delete", "reimage", "status"))]
    assert writes == []
    assert (len(world.sinks.patches), len(world.sinks.events)) == (patches, events)


@pytest.mark.parametrize("case", CASES)
async def test_a_rollback_comes_once_the_health_grace_is_over_not_at_the_deadline(
    case: Case,
) -> None:
    """healthGraceSeconds 60 with a one-day deadline: the unhealthy share decides alone."""
    world = ready_pool(case)
    world.pool["spec"]["strategy"]["progressDeadlineSeconds"] = 86400
    world.pool["spec"]["strategy"]["rollback"]["healthGraceSeconds"] = 60
    await settle(world, 3, 1)
    bump(world, case)

    await settle(world, 30, 10)

    assert condition(world, "Stalled")[:2] == ("True", "RolledBack")
    assert {vm.image_version for vm in world.azure.vms.values()} == {case.good}


@pytest.mark.parametrize("case", CASES)
async def test_the_health_grace_is_waited_for(case: Case) -> None:
    """The grace counts from the VM's create or reimage, not from when the VM was first seen:
    the pool ran for hours before the rollout."""
    world = ready_pool(case)
    world.pool["spec"]["strategy"]["progressDeadlineSeconds"] = 86400
    world.pool["spec"]["strategy"]["rollback"]["healthGraceSeconds"] = 600
    await settle(world, 3, 1)
    world.tick(7200)
    await settle(world, 1, 1)
    bump(world, case)

    await settle(world, 30, 10)

    assert status_of(world).update_revision != status_of(world).current_revision
    assert not any(e[1] == "RolledBack" for e in world.sinks.events)


def restarted(world: World) -> World:
    """The same pool and Azure seen by a new operator process, which has only the status."""
    fresh = World(pool=world.pool, memory=PoolMemory.from_status(world.memory.status))
    fresh.azure = world.azure
    fresh.now = world.now
    return fresh


async def test_an_operator_restart_does_not_restart_the_progress_deadline() -> None:
    """Deadline 120 s, health grace an hour: only the deadline can fail the rollout, whose last
    progress (the first VM taken down) was in its first pass or two. Restarted 100 s in, the
    operator rolls back within the next 60 s, not 120 s after the restart."""
    world = ready_pool(GALLERY_PINNED)
    world.pool["spec"]["strategy"]["rollback"]["healthGraceSeconds"] = 3600
    await settle(world, 3, 1)
    bump(world, GALLERY_PINNED)
    await settle(world, 10, 10)
    assert status_of(world).update_revision != status_of(world).current_revision
    assert status_of(world).progress is not None

    world = restarted(world)
    await settle(world, 6, 10)

    status = status_of(world)
    assert status.update_revision == status.current_revision
    assert status.history[1].outcome.value == "RolledBack"
