"""A new restart stamp reimages each VM of a RollingReimage pool once, at the same version; the
VM's tags then name the new revision, so later passes (and the same stamp) reimage nothing."""

from __future__ import annotations

from test_reconcile_fakes import World

from vmroll.reconcile.inputs import Next

STRATEGY = {
    "type": "RollingReimage",
    "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    "minReadySeconds": 0,
}
STAMP = "2026-11-25T12:05:00Z"


async def settle(world: World, passes: int = 12) -> None:
    for _ in range(passes):
        outcome = await world.pass_().run()
        world.tick(1)
        if outcome.next is Next.SETTLED:
            return


async def test_a_restart_reimages_every_vm_once_then_nothing() -> None:
    world = World()
    world.pool["spec"]["strategy"] = STRATEGY
    await settle(world)
    assert world.memory.status is not None
    old_revision = world.memory.status.update_revision
    names = set(world.azure.vms)
    world.log.clear()

    world.pool["spec"]["template"]["restartedAt"] = STAMP
    world.pool["metadata"]["generation"] = 2
    await settle(world)
    reimaged = sorted(line for line in world.log if line.startswith("reimage "))
    assert reimaged == [f"reimage {name}" for name in sorted(names)]
    assert not [line for line in world.log if line.startswith(("create ", "delete "))]
    status = world.memory.status
    assert status is not None
    assert status.update_revision != old_revision
    assert status.history[0].reason is not None
    assert status.history[0].reason.value == "Restart"
    assert status.history[0].restarted_at == STAMP
    assert {vm.revision for vm in world.azure.vms.values()} == {status.update_revision}
    assert {vm.tags["vmroll.io_restarted-at"] for vm in world.azure.vms.values()} == {STAMP}

    world.log.clear()
    await settle(world, passes=4)
    assert not [line for line in world.log if line.startswith(("reimage ", "create ", "delete "))]
