"""A rollout's story as the pool's events and conditions tell it, pass by pass against a fake
Azure: a newer `latest` appears outside the maintenance window, the pool says when the window
opens, then rolls in batches inside it and says how long it took; each event once."""

from __future__ import annotations

from test_reconcile_fakes import GALLERY_IMAGE, World

from vmroll.reconcile.inputs import Next

STRATEGY = {
    "type": "RollingReimage",
    "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    "minReadySeconds": 0,
}
MARKETPLACE = {"publisher": "Canonical", "offer": "ubuntu", "sku": "server", "version": "latest"}


def reconciling(world: World) -> tuple[str, str, str]:
    assert world.memory.status is not None
    found = next(c for c in world.memory.status.conditions if c.type == "Reconciling")
    return found.status.value, found.reason, found.message


async def test_a_published_latest_waits_for_its_window_then_rolls_in_batches() -> None:
    world = World()
    world.pool["spec"]["image"] = {"marketplace": MARKETPLACE}
    world.pool["spec"]["strategy"] = STRATEGY
    world.azure.latest = "1.0.2"
    for _ in range(3):
        await world.pass_().run()
        world.tick(1)
    world.sinks.events.clear()
    # The spec gains a window (the clock starts on Wednesday 2026-11-25 12:00 UTC), then a newer
    # version is published outside it.
    world.pool["spec"]["updatePolicy"] = {"maintenanceWindows": ["Wed-Thu 13:00 1h"]}
    world.pool["metadata"]["generation"] = 2
    await world.pass_().run()
    world.azure.latest = "1.0.9"
    world.tick(60)

    for _ in range(3):
        last_pass_at = world.now
        outcome = await world.pass_().run()
        world.tick(60)

    assert world.memory.status is not None
    revision = world.memory.status.update_revision
    assert reconciling(world) == (
        "True",
        "WaitingForMaintenanceWindow",
        f"the rollout to image version 1.0.9 (revision {revision}) "
        "waits for a maintenance window: the next window opens at 2026-11-25T13:00:00Z",
    )
    assert outcome.next is Next.PROGRESSING
    window_opens = last_pass_at.replace(hour=13, minute=0, second=0)
    assert outcome.after == (window_opens - last_pass_at).total_seconds()
    assert [e[1] for e in world.sinks.events] == ["RolloutStarted", "WaitingForMaintenanceWindow"]
    assert world.sinks.events[0][2].endswith(
        "over 1.0.2: a newer image version was published and the pool tracks the latest"
    )
    assert {vm.image_version for vm in world.azure.vms.values()} == {"1.0.2"}

    world.now = world.now.replace(hour=13, minute=0, second=0)
    for _ in range(12):
        await world.pass_().run()
        world.tick(10)
        print(
            world.now,
            [(c.type, c.reason, c.message) for c in world.memory.status.conditions],
            world.sinks.events[-1:],
            world.log[-3:],
        )  # type: ignore[union-attr]

    assert {vm.image_version for vm in world.azure.vms.values()} == {"1.0.9"}
    # The rollout's time counts from when it started, waiting for the window included.
    assert [e[1:] for e in world.sinks.events if e[1] != "Reimaged"][2:] == [
        ("RolloutBatch", f"batch {i} of 3: reimaging {name}")
        for i, name in enumerate(_reimaged(world), start=1)
    ] + [("RolloutComplete", "rolled 3 VMs from 1.0.2 to 1.0.9 in 59m27s")]


async def test_a_pool_following_latest_names_the_capture_that_produced_the_new_version() -> None:
    world = World()
    world.pool["spec"]["image"] = {"gallery": {"imageId": GALLERY_IMAGE, "version": "latest"}}
    world.pool["spec"]["strategy"] = STRATEGY
    world.azure.latest = "1.0.2"
    for _ in range(3):
        await world.pass_().run()
        world.tick(1)
    world.sinks.events.clear()
    world.azure.latest = "1.0.3"
    world.azure.captured["1.0.3"] = "team-a/golden-2026-11-29"
    for _ in range(12):
        await world.pass_().run()
        world.tick(10)

    assert {vm.image_version for vm in world.azure.vms.values()} == {"1.0.3"}
    started = [e[2] for e in world.sinks.events if e[1] == "RolloutStarted"]
    assert len(started) == 1
    assert started[0].startswith("rolling out image version 1.0.3 ")
    assert started[0].endswith(
        "over 1.0.2: a newer image version was published and the pool tracks the latest "
        "(captured by ImageCapture team-a/golden-2026-11-29)"
    )
    others = [e[2] for e in world.sinks.events if e[1] != "RolloutStarted"]
    assert not [m for m in others if "captured by" in m]


def _reimaged(world: World) -> list[str]:
    names = [e[2].removeprefix("reimaged VM ") for e in world.sinks.events if e[1] == "Reimaged"]
    assert len(names) == 3
    return names
