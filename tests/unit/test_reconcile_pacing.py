"""When a pass may call a pool settled, and when minReadySeconds starts counting again.

Two rollout slips these guard against: a pool called settled while surge VMs still stood beside
old ones (the last batch then waited a whole resync), and a VM counted available right after a
reimage because its healthy-since time from before the operation was kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from test_reconcile_fakes import IMAGE, VERSION, FakeAzure, World, vm

from vmroll.api.pool_status import OperationKind, PendingOperation
from vmroll.azure.images import ImageRef, ResolvedImage
from vmroll.azure.lro import OperationRecord
from vmroll.azure.vms import PoolVm
from vmroll.reconcile.inputs import Next
from vmroll.reconcile.observe import settle_pending


async def _settle(world: World) -> None:
    for _ in range(5):
        outcome = await world.pass_().run()
        if outcome.next is Next.SETTLED:
            return
        world.tick(max(outcome.after or 1.0, 0.5))
    raise AssertionError(f"the pool never settled: {world.log}")


async def test_a_replacing_rollout_is_not_settled_while_old_vms_remain() -> None:
    world = World()
    world.pool["spec"]["replicas"] = 2
    world.pool["spec"]["strategy"] = {
        "minReadySeconds": 10, "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}
    }  # fmt: skip
    await _settle(world)
    old = {vm.revision for vm in world.azure.vms.values()}
    world.pool["spec"]["template"]["vmSize"] = "Standard_D4s_v5"
    world.pool["metadata"]["generation"] = 2

    outcomes = []
    for _ in range(40):
        outcome = await world.pass_().run()
        remaining = sorted(n for n, vm in world.azure.vms.items() if vm.revision in old)
        outcomes.append((outcome.next, remaining))
        if outcome.next is Next.SETTLED:
            break
        world.tick(max(outcome.after or 1.0, 0.5))

    assert outcomes[-1] == (Next.SETTLED, [])
    assert all(remaining == [] for step, remaining in outcomes if step is Next.SETTLED)
    assert len(world.azure.vms) == 2


@dataclass
class ReimagingAzure(FakeAzure):
    """The fake Azure, with a marketplace version the test can move and reimages that take
    the VM to it, as Azure's reimage with exactVersion does."""

    version: str = VERSION

    async def resolve_image(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> ResolvedImage:
        reference = {**IMAGE.image_reference, "version": self.version}
        return replace(IMAGE, resolved_version=self.version, image_reference=reference)

    async def reimage_vm(
        self, vm: PoolVm, pool_uid: str, exact_version: str | None
    ) -> OperationRecord:
        self.vms[vm.name] = replace(vm, image_version=exact_version, provisioning_state="Updating")
        return await super().reimage_vm(vm, pool_uid, exact_version)


async def test_a_reimaged_vm_waits_min_ready_seconds_before_it_counts_as_available() -> None:
    world = World()
    world.azure = ReimagingAzure(world.log)
    world.pool["spec"]["replicas"] = 1
    world.pool["spec"]["strategy"] = {
        "type": "RollingReimage",
        "minReadySeconds": 10,
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }
    await _settle(world)
    world.tick(60)
    world.azure.version = "1.0.3"

    reimaged = await world.pass_().run()
    world.tick(1)
    after = await world.pass_().run()

    assert any(entry.startswith("reimage") for entry in world.log)
    assert reimaged.next is Next.PROGRESSING
    assert (after.next, after.after) == (Next.PROGRESSING, 10.0)


def test_an_operation_the_listing_shows_finished_restarts_the_min_ready_clock() -> None:
    world = World()
    name, start = "web-1", world.now
    world.memory.healthy_since[name] = start - timedelta(minutes=5)
    world.memory.pending[name] = PendingOperation(
        vm_name=name, kind=OperationKind.REIMAGE, resume_token=None, started_at=start
    )

    finished = settle_pending(world.memory, {name: vm(name, "uid", {}, "Succeeded")})

    assert [f.name for f in finished] == [name]
    assert name not in world.memory.healthy_since
