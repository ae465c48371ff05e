"""Which instance views a pass reads, and how: those it waits on (health unknown or not healthy
yet) go in turn, with the pass's turn among pools held; the refreshes of healthy VMs go as spare
reads (azure/read_pacing.py) with the turn lent back, stop at the first the connection has no
spare token for, and come every period the connection names for its fleet, not sooner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta

from test_reconcile_at_rest import REFRESH, schedule, settle, views_due
from test_reconcile_fakes import FakeAzure, World

from vmroll.azure.read_pacing import NoSpareRead, reads_spare
from vmroll.azure.vms import PoolVm, VmRuntime
from vmroll.reconcile.inputs import Next, Outcome


@dataclass
class ReadsLogged(FakeAzure):
    """Logs each view read as `view <name> spare|in-turn`; spare reads past `spare_tokens`
    raise `NoSpareRead`, unsent and unlogged."""

    spare_tokens: int | None = None

    async def get_vm_runtime(self, vm: PoolVm) -> VmRuntime | None:
        spare = reads_spare()
        if spare and self.spare_tokens is not None:
            if self.spare_tokens == 0:
                raise NoSpareRead("none")
            self.spare_tokens -= 1
        self.log.append(f"view {vm.name} {'spare' if spare else 'in-turn'}")
        return await super().get_vm_runtime(vm)


def views(world: World) -> list[str]:
    return [e for e in world.log if e.startswith("view")]


async def test_views_a_pass_waits_on_go_first_and_refreshes_go_spare_with_the_turn_lent() -> None:
    world = World()
    world.azure = ReadsLogged(world.log)
    await settle(world)
    first, *others = sorted(world.memory.runtimes)
    world.now = views_due(world)
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
        *(f"view {name} spare" for name in others),
        "back",
    ]


async def test_refreshes_without_a_spare_read_end_and_are_read_at_a_later_pass() -> None:
    world = World()
    azure = world.azure = ReadsLogged(world.log)
    await settle(world)
    names = sorted(world.memory.runtimes)
    world.now = views_due(world)
    world.log.clear()
    azure.spare_tokens = 1

    outcome = await world.pass_().run()

    assert outcome == Outcome(Next.SETTLED)
    assert views(world) == [f"view {names[0]} spare"]
    azure.spare_tokens = None
    world.log.clear()
    world.tick(5)

    await world.pass_().run()

    assert views(world) == [f"view {name} spare" for name in names[1:]]


async def test_views_are_refreshed_by_the_period_the_connection_names_for_its_fleet() -> None:
    world = World()
    world.azure = ReadsLogged(world.log, refresh_floor=2 * REFRESH)
    await settle(world)
    reads = [seen.read_at for seen in world.memory.runtimes.values()]
    due = schedule(world, 2 * REFRESH).due_at(min(reads))
    resting = world.memory.at_rest
    assert resting is not None
    assert resting.until == due
    assert due != schedule(world).due_at(min(reads))  # not the configured period's moment
    world.memory.at_rest = None  # a full pass: the views themselves are not due yet
    world.log.clear()
    world.now = due - timedelta(seconds=1)

    await world.pass_().run()
    assert views(world) == []

    world.now = due
    await world.pass_().run()
    assert len(views(world)) == len(world.memory.runtimes)
