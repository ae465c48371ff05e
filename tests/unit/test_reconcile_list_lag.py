"""A list that lags writes (ARM's eventual consistency) and answers that are lost: no VM made twice
for a slot, never more than replicas+maxSurge VMs, no VM left behind by a deleted pool.

The fake Azure here lists a VM only `lag` after its create was accepted, and keeps listing a
deleted VM for `lag` after it went; a GET by name sees the truth. It counts VMs as each write is
applied, as the emulator's peaks do, so a short excursion cannot hide between two passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from test_reconcile_fakes import FakeAzure, World

from vmroll.azure.errors import TransientAzureError
from vmroll.azure.lro import LroKind, OperationRecord
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import PoolVm
from vmroll.reconcile.deletion import Finalized, PoolDeletion
from vmroll.reconcile.inputs import Next

LAG = timedelta(seconds=5)


@dataclass
class LaggingAzure(FakeAzure):
    now: datetime = datetime.min
    lag: timedelta = LAG
    created_at: dict[str, datetime] = field(default_factory=dict)
    departed: dict[str, tuple[PoolVm, datetime]] = field(default_factory=dict)
    peak: int = 0
    lose_create_answers: int = 0
    """How many of the next creates are carried out and then answered by a reset."""

    async def list_group_vms(self, resource_group: str) -> tuple[PoolVm, ...]:
        self.log.append("list")
        self.end_running()
        horizon = self.now - self.lag
        shown = {
            n: vm
            for n, vm in self.vms.items()
            if self.created_at[n] <= horizon and n not in self.unlisted
        }
        for name, (vm, at) in self.departed.items():
            if at > horizon:
                shown.setdefault(name, replace(vm, provisioning_state="Deleting"))
        return tuple(shown.values())

    async def create_vm(self, resource_group: str, spec: VmSpec) -> OperationRecord:
        existed = spec.name in self.vms
        record = await super().create_vm(resource_group, spec)
        if not existed:
            self.created_at[spec.name] = self.now
            self.departed.pop(spec.name, None)
        self.peak = max(self.peak, len(self.vms))
        if self.lose_create_answers:
            # Carried out all the same: nobody follows it, so it ends at once here.
            self.lose_create_answers -= 1
            self.vms[spec.name] = replace(self.vms[spec.name], provisioning_state="Succeeded")
            raise TransientAzureError(f"create {spec.name}: ServiceRequestError: reset by peer")
        return record

    def _end(self, name: str, kind: LroKind) -> None:
        if kind is LroKind.DELETE and name in self.vms:
            self.departed[name] = (self.vms[name], self.now)
        super()._end(name, kind)


def lagging_world(replicas: int, max_surge: int, max_unavailable: int) -> World:
    world = World()
    world.azure = LaggingAzure(world.log, now=world.now)
    world.pool["spec"]["replicas"] = replicas
    world.pool["spec"]["strategy"] = {
        "type": "RollingReplace",
        "minReadySeconds": 0,
        "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
    }
    return world


async def run_until_settled(world: World, passes: int = 80) -> None:
    azure = world.azure
    assert isinstance(azure, LaggingAzure)
    for _ in range(passes):
        azure.now = world.now
        outcome = await world.pass_().run()
        if outcome.next is Next.SETTLED:
            return
        world.tick(1)
    raise AssertionError(f"the pool never settled: {world.log[-30:]}")


@pytest.mark.parametrize(
    ("replicas", "max_surge", "max_unavailable"),
    [(3, 1, 0), (3, 1, 1), (4, 2, 1), (2, 1, 0)],
)
async def test_a_rollout_on_a_lagging_list_makes_no_vm_twice_and_stays_in_its_surge_bound(
    replicas: int, max_surge: int, max_unavailable: int
) -> None:
    world = lagging_world(replicas, max_surge, max_unavailable)
    azure = world.azure
    assert isinstance(azure, LaggingAzure)
    await run_until_settled(world)
    old = {vm.revision for vm in azure.vms.values()}
    creates_before = sum(e.startswith("create") for e in world.log)
    azure.peak = len(azure.vms)
    world.pool["spec"]["template"]["vmSize"] = "Standard_D4s_v5"
    world.pool["metadata"]["generation"] = 2

    await run_until_settled(world)

    creates = [e for e in world.log if e.startswith("create")][creates_before:]
    assert azure.peak <= replicas + max_surge
    assert len(creates) == len(set(creates)) == replicas
    assert len(azure.vms) == replicas
    assert not {vm.revision for vm in azure.vms.values()} & old


async def test_a_create_whose_answer_was_lost_is_found_by_name_and_not_made_again() -> None:
    world = lagging_world(3, 1, 0)
    azure = world.azure
    assert isinstance(azure, LaggingAzure)
    azure.lose_create_answers = 3

    await run_until_settled(world)

    creates = [e for e in world.log if e.startswith("create")]
    assert sorted(creates) == ["create web-39j4c-0", "create web-39j4c-1", "create web-39j4c-2"]
    assert azure.peak == 3


async def test_a_vm_a_list_skips_after_a_rollout_is_not_made_again_under_another_name() -> None:
    """A list may skip a VM it showed before (paged by offset while VMs come and go, as the
    emulator pages; ARM's paging promises no snapshot). After a rollout the pool's VMs hold the
    high indexes, so the name the allocator picks for the slot it believes empty is a free one:
    a create there is a second VM for the slot, removed again once a list shows the first."""
    world = lagging_world(3, 3, 0)
    azure = world.azure
    assert isinstance(azure, LaggingAzure)
    await run_until_settled(world)
    world.pool["spec"]["template"]["vmSize"] = "Standard_D4s_v5"
    world.pool["metadata"]["generation"] = 2
    await run_until_settled(world)
    world.tick(LAG.total_seconds() + 1)
    azure.now = world.now
    await world.pass_().run()
    rolled = sorted(azure.vms)
    writes_before = sum(e.startswith(("create", "delete")) for e in world.log)
    azure.peak = len(azure.vms)

    azure.unlisted = {rolled[1]}
    for _ in range(3):
        world.tick(1)
        azure.now = world.now
        await world.pass_().run()
    azure.unlisted = set()
    await run_until_settled(world)

    writes = [e for e in world.log if e.startswith(("create", "delete"))][writes_before:]
    assert writes == []
    assert azure.peak == 3
    assert sorted(azure.vms) == rolled


async def test_a_pool_deleted_before_the_list_shows_its_vms_deletes_them_all() -> None:
    world = lagging_world(3, 1, 0)
    azure = world.azure
    assert isinstance(azure, LaggingAzure)
    await world.pass_().run()
    world.pool["metadata"]["deletionTimestamp"] = "2026-11-25T12:00:00Z"

    results = []
    for _ in range(20):
        world.tick(1)
        azure.now = world.now
        results.append((await PoolDeletion(world.pass_()).run()).finalized)
        if results[-1] is Finalized.DONE:
            break

    assert results[-1] is Finalized.DONE
    assert azure.vms == {}
