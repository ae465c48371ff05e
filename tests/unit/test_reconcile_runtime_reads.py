"""Which instance views a pass reads ahead of the connection's other reads: those it waits on
(health unknown or not healthy yet) go in turn, with the pass's turn among pools held; the
refreshes of healthy VMs go deferred (azure/read_pacing.py) and with the turn lent back, every
period the connection names for its fleet, not sooner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta

from test_reconcile_at_rest import REFRESH, settle
from test_reconcile_fakes import FakeAzure, World

from vmroll.azure.read_pacing import reads_deferred
from vmroll.azure.vms import PoolVm, VmRuntime


@dataclass
class ReadsLogged(FakeAzure):
    """Logs each view read as `view <name> deferred|in-turn`."""

    async def get_vm_runtime(self, vm: PoolVm) -> VmRuntime | None:
        how = "deferred" if reads_deferred() else "in-turn"
        self.log.append(f"view {vm.name} {how}")
        return await super().get_vm_runtime(vm)


async def test_views_a_pass_waits_on_go_first_and_refreshes_go_deferred_with_the_turn_lent() -> (
    None
):
    world = World()
    world.azure = ReadsLogged(world.log)
    await settle(world)
    first, *others = sorted(world.memory.runtimes)
    world.tick(REFRESH + 1)
    del world.memory.runtimes[first]  # unknown again: the pass waits on its view
    world.log.clear()

    @asynccontextmanager
    async def lent() -> AsyncIterator[None]:
        world.log.append("lent")
        yield
        world.log.append("back")

    await replace(world.pass_(), lend=lent).run()

    reads = [e for e in world.log if e.startswith("view") or e in ("lent", "back")]
    assert reads == [
        f"view {first} in-turn",
        "lent",
        *(f"view {name} deferred" for name in others),
        "back",
    ]


def views(world: World) -> list[str]:
    return [e for e in world.log if e.startswith("view")]


async def test_views_are_refreshed_by_the_period_the_connection_names_for_its_fleet() -> None:
    world = World()
    world.azure = ReadsLogged(world.log, refresh_floor=2 * REFRESH)
    await settle(world)
    first_read = min(seen.read_at for seen in world.memory.runtimes.values())
    resting = world.memory.at_rest
    assert resting is not None
    assert resting.until == first_read + timedelta(seconds=2 * REFRESH)
    world.memory.at_rest = None  # a full pass: the views themselves are not due yet
    world.log.clear()
    world.tick(REFRESH + 1)

    await world.pass_().run()
    assert views(world) == []

    world.tick(REFRESH)
    await world.pass_().run()
    assert len(views(world)) == len(world.memory.runtimes)
