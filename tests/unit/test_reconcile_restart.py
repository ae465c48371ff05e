"""A new restart stamp reimages each VM of a RollingReimage pool once, at the same version; the
VM's tags then name the new revision, so later passes (and the same stamp) reimage nothing."""

from __future__ import annotations

from test_reconcile_fakes import World

from vmroll.azure.lro import OperationRecord, OperationState
from vmroll.reconcile.inputs import Next
from vmroll.reconcile.memory import PoolMemory

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


async def test_an_operator_restarted_while_a_restart_reimage_runs_still_retags_the_vm() -> None:
    world = World()
    world.pool["spec"]["strategy"] = STRATEGY
    await settle(world)
    world.pool["spec"]["template"]["restartedAt"] = STAMP
    world.pool["metadata"]["generation"] = 2

    async def still_running(record: OperationRecord, *, max_wait: float) -> OperationState:
        return OperationState.RUNNING

    finishing = world.azure.wait_operation
    world.azure.wait_operation = still_running  # type: ignore[method-assign]
    await world.pass_().run()
    assert world.memory.status is not None
    pending = world.memory.status.pending_operations
    assert [(op.kind.value, op.retag_restart) for op in pending] == [("Reimage", STAMP)]
    assert all(op.resume_token for op in pending)  # no list proves a reimage ended (act.py)

    restarted = World(pool=world.pool, memory=PoolMemory.from_status(world.memory.status))
    restarted.azure.vms = world.azure.vms
    restarted.now = world.now
    restarted.azure.wait_operation = finishing  # type: ignore[method-assign]
    await settle(restarted)
    reimaged = [line for line in [*world.log, *restarted.log] if line.startswith("reimage ")]
    assert sorted(reimaged) == sorted(f"reimage {name}" for name in world.azure.vms)


async def test_a_paused_or_on_delete_pool_restarts_nothing_until_resumed_or_deleted() -> None:
    world = World()
    world.pool["spec"]["strategy"] = {**STRATEGY, "paused": True}
    await settle(world)
    world.log.clear()
    world.pool["spec"]["template"]["restartedAt"] = STAMP
    world.pool["metadata"]["generation"] = 2
    await settle(world, passes=3)
    assert not [line for line in world.log if line.startswith(("reimage ", "create ", "delete "))]

    world.pool["spec"]["strategy"] = {**STRATEGY, "type": "OnDelete"}
    world.pool["metadata"]["generation"] = 3
    await settle(world, passes=3)
    assert not [line for line in world.log if line.startswith(("reimage ", "create ", "delete "))]
    gone = sorted(world.azure.vms)[0]
    del world.azure.vms[gone]
    await settle(world, passes=4)
    created = [line.split()[1] for line in world.log if line.startswith("create ")]
    assert len(created) == 1
    assert world.azure.vms[created[0]].tags["vmroll.io_restarted-at"] == STAMP
    assert not [line for line in world.log if line.startswith(("reimage ", "delete "))]
