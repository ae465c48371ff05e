"""Pools sharing a resource group share its list: one list per window however many pools ask,
one list in flight for pools asking at once, and never a list older than a pool's own write.

The fake Azure counts lists in the shared log; the window's clock is the test's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from test_azure_vm_body import spec as vm_spec
from test_reconcile_fakes import RG, FakeAzure, World, pool_object, vm
from test_reconcile_list_lag import LAG, LaggingAzure, lagging_world

from vmroll.azure.errors import TransientAzureError, WriteBudgetExhausted
from vmroll.azure.lro import LroKind, OperationRecord
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import PoolVm, ReadVm
from vmroll.plan.list_pacing import HighCostReport
from vmroll.plan.naming import vm_name
from vmroll.plan.ownership import POOL_UID_TAG, OwnershipIndex, PoolIdentity, ownership_tags
from vmroll.reconcile import shared_listing
from vmroll.reconcile.following import READ_AGAIN_AFTER
from vmroll.reconcile.inputs import AccountView, Next
from vmroll.reconcile.listing import observe_pool
from vmroll.reconcile.memory import PoolMemory
from vmroll.reconcile.pool_pass import PoolPass
from vmroll.reconcile.shared_listing import GroupListings, SharedReads

WINDOW = 30.0
CONNECTION = "connection-a"


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def identity(n: int) -> PoolIdentity:
    return PoolIdentity(namespace="team", name=f"pool{n}", uid=f"uid-{n}")


def pool_tags(pool: PoolIdentity) -> dict[str, str]:
    tags = ownership_tags(pool, "r", None)
    del tags[POOL_UID_TAG]
    return tags


def fleet(pools: int, vms_each: int) -> FakeAzure:
    azure = FakeAzure([])
    for n in range(pools):
        for i in range(vms_each):
            name = f"pool{n}-{i}"
            azure.vms[name] = vm(name, f"uid-{n}", {POOL_UID_TAG: f"uid-{n}"})
    return azure


@dataclass
class BlockedList(FakeAzure):
    """Lists wait for `release`: pools that ask meanwhile find the list in flight."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    error: TransientAzureError | None = None

    async def list_group_vms(self, resource_group: str) -> tuple[PoolVm, ...]:
        self.log.append("list")
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return tuple(self.vms.values())


async def test_pools_in_one_group_cost_one_list_per_window() -> None:
    azure, clock = fleet(pools=20, vms_each=3), Clock()
    listings = GroupListings(WINDOW, clock)

    for n in range(20):
        gateway = listings.for_pool(azure, CONNECTION, f"uid-{n}")
        seen = await observe_pool(gateway, RG, identity(n), PoolMemory())
        assert sorted(seen.owned) == [f"pool{n}-0", f"pool{n}-1", f"pool{n}-2"]
        clock.now += 1.0
    assert azure.log.count("list") == 1

    clock.now += WINDOW
    for n in range(20):
        await listings.for_pool(azure, CONNECTION, f"uid-{n}").list_pool_vms(RG, identity(n))
    assert azure.log.count("list") == 2


async def test_a_list_is_split_by_pool_once_and_each_pool_gets_its_vms_and_look_alikes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    azure, clock = fleet(pools=20, vms_each=3), Clock()
    # What a pool of the same name left behind (deleted with deletionPolicy Retain): pool3's
    # tags under another UID, and a VM named as pool3's VMs are, without tags.
    retained = vm("pool3-old", "uid-old", {POOL_UID_TAG: "uid-old", **pool_tags(identity(3))})
    named = vm(vm_name("pool3", "uid-3", 9), "", {})
    azure.vms.update({retained.name: retained, named.name: named})
    indexed: list[int] = []

    class CountingIndex(OwnershipIndex[PoolVm]):
        def __init__(self, vms: Iterable[PoolVm]) -> None:
            listed = tuple(vms)
            indexed.append(len(listed))
            super().__init__(listed)

    monkeypatch.setattr(shared_listing, "OwnershipIndex", CountingIndex)
    listings = GroupListings(WINDOW, clock)

    for _window in range(2):
        for n in range(20):
            gateway = listings.for_pool(azure, CONNECTION, f"uid-{n}")
            seen = await gateway.list_pool_vms(RG, identity(n))
            assert [v.name for v in seen.owned] == [f"pool{n}-{i}" for i in range(3)]
            expected = ["pool3-old", named.name] if n == 3 else []
            assert [v.name for v in seen.look_alikes] == expected
        clock.now += WINDOW

    assert azure.log.count("list") == 2
    assert indexed == [62, 62]


async def test_pools_asking_at_once_share_the_list_in_flight() -> None:
    azure = BlockedList([])
    azure.vms = fleet(pools=5, vms_each=2).vms
    listings = GroupListings(WINDOW, Clock())
    asking = [
        asyncio.create_task(
            observe_pool(
                listings.for_pool(azure, CONNECTION, f"uid-{n}"), RG, identity(n), PoolMemory()
            )
        )
        for n in range(5)
    ]
    await asyncio.sleep(0)
    azure.release.set()

    seen = await asyncio.gather(*asking)

    assert azure.log.count("list") == 1
    assert [sorted(s.owned) for s in seen] == [[f"pool{n}-0", f"pool{n}-1"] for n in range(5)]


async def test_a_failed_list_reaches_every_pool_waiting_on_it_and_is_not_kept() -> None:
    azure = BlockedList([], error=TransientAzureError("list: ServiceRequestError: reset"))
    listings = GroupListings(WINDOW, Clock())
    asking = [
        asyncio.create_task(listings.for_pool(azure, CONNECTION, f"uid-{n}").list_group_vms(RG))
        for n in range(3)
    ]
    await asyncio.sleep(0)
    azure.release.set()

    results = await asyncio.gather(*asking, return_exceptions=True)

    assert all(isinstance(r, TransientAzureError) for r in results)
    azure.error = None
    await listings.for_pool(azure, CONNECTION, "uid-0").list_group_vms(RG)
    assert azure.log.count("list") == 2


async def test_a_pools_own_write_makes_its_next_observation_fresh_and_no_other_pools() -> None:
    azure, clock = fleet(pools=2, vms_each=1), Clock()
    listings = GroupListings(WINDOW, clock)
    writer = listings.for_pool(azure, CONNECTION, "uid-0")
    other = listings.for_pool(azure, CONNECTION, "uid-1")
    await writer.list_group_vms(RG)

    [own] = (await writer.list_pool_vms(RG, identity(0))).owned
    await writer.delete_vm(own, "uid-0")
    azure.running.clear()  # the delete runs until waited on, whatever is listed meanwhile
    await other.list_group_vms(RG)
    assert azure.log.count("list") == 1

    seen = await writer.list_pool_vms(RG, identity(0))
    assert azure.log.count("list") == 2
    assert [v.provisioning_state for v in seen.owned] == ["Deleting"]
    await other.list_group_vms(RG)
    assert azure.log.count("list") == 2

    # A pool whose VMs the list shows changing lists at each pass until they are at rest.
    assert (await writer.list_pool_vms(RG, identity(0))).owned == seen.owned
    assert azure.log.count("list") == 3
    await writer.wait_operation(OperationRecord(LroKind.DELETE, own.resource_id, "t"), max_wait=0)
    assert (await writer.list_pool_vms(RG, identity(0))).owned == ()
    await writer.list_group_vms(RG)
    await other.list_group_vms(RG)
    assert azure.log.count("list") == 4


async def test_a_list_in_flight_since_before_a_write_does_not_serve_the_writer() -> None:
    azure = BlockedList([])
    azure.vms = fleet(pools=1, vms_each=1).vms
    listings = GroupListings(WINDOW, Clock())
    writer = listings.for_pool(azure, CONNECTION, "uid-0")
    before = asyncio.create_task(writer.list_group_vms(RG))
    await asyncio.sleep(0)

    await writer.wait_operation(
        OperationRecord(LroKind.CREATE, "/vms/pool0-0", "token"), max_wait=0
    )
    after = asyncio.create_task(writer.list_group_vms(RG))
    await asyncio.sleep(0)
    azure.release.set()
    await asyncio.gather(before, after)

    assert azure.log.count("list") == 2


async def test_accounts_never_share_a_list_and_groups_are_apart() -> None:
    azure = fleet(pools=1, vms_each=1)
    listings = GroupListings(WINDOW, Clock())

    await listings.for_pool(azure, CONNECTION, "uid-0").list_group_vms(RG)
    await listings.for_pool(azure, "connection-b", "uid-0").list_group_vms(RG)
    await listings.for_pool(azure, CONNECTION, "uid-0").list_group_vms("rg-other")
    await listings.for_pool(azure, CONNECTION, "uid-1").list_group_vms(RG.upper())

    assert azure.log.count("list") == 3


async def test_what_is_kept_is_forgotten_a_window_later() -> None:
    azure, clock = fleet(pools=1, vms_each=1), Clock()
    listings = GroupListings(WINDOW, clock)
    gateway = listings.for_pool(azure, CONNECTION, "uid-0")
    await gateway.list_group_vms(RG)
    await gateway.retag_vm(azure.vms["pool0-0"], {POOL_UID_TAG: "uid-0"})
    assert len(listings) == 2

    clock.now += WINDOW
    await listings.for_pool(azure, CONNECTION, "uid-9").list_group_vms("rg-other")

    assert len(listings) == 1


def shared_pass(world: World, gateway: SharedReads) -> PoolPass:
    base = world.pass_()
    assert isinstance(base.account, AccountView)
    return replace(base, account=replace(base.account, gateway=gateway))


@pytest.mark.parametrize(("replicas", "max_surge", "max_unavailable"), [(3, 1, 0), (4, 2, 1)])
async def test_pools_sharing_a_lagging_list_make_no_vm_twice_and_stay_in_their_surge_bound(
    replicas: int, max_surge: int, max_unavailable: int
) -> None:
    """Two pools of one group roll on a list that lags writes, shared for a window far longer
    than the rollout: each settles, rolls, never makes a VM twice, and lists no more at rest."""
    first = lagging_world(replicas, max_surge, max_unavailable)
    azure = first.azure
    assert isinstance(azure, LaggingAzure)
    second = World(log=first.log, pool=pool_object(replicas))
    second.pool["metadata"].update(name="api", uid="uid-2")
    second.pool["spec"]["strategy"] = first.pool["spec"]["strategy"]
    worlds = (first, second)
    clock = Clock()
    listings = GroupListings(3600.0, clock)

    async def run_until_settled() -> None:
        settled: set[int] = set()
        for _ in range(120):
            for n, world in enumerate(worlds):
                world.now = azure.now
                uid = world.pool["metadata"]["uid"]
                gateway = listings.for_pool(azure, CONNECTION, uid)
                if (await shared_pass(world, gateway).run()).next is Next.SETTLED:
                    settled.add(n)
            if settled == {0, 1}:
                return
            settled.clear()
            azure.now += timedelta(seconds=1)
            clock.now += 1.0
        raise AssertionError(f"the pools never settled: {first.log[-30:]}")

    await run_until_settled()
    owners = [vm.pool_uid for vm in azure.vms.values()]
    assert sorted(owners) == ["uid-1"] * replicas + ["uid-2"] * replicas
    creates_before = sum(e.startswith("create") for e in first.log)
    azure.peak = len(azure.vms)
    for world in worlds:
        world.pool["spec"]["template"]["vmSize"] = "Standard_D4s_v5"
        world.pool["metadata"]["generation"] = 2

    await run_until_settled()

    creates = [e for e in first.log if e.startswith("create")][creates_before:]
    assert len(creates) == len(set(creates)) == 2 * replicas
    assert azure.peak <= 2 * (replicas + max_surge)
    assert len(azure.vms) == 2 * replicas
    # Once the list no longer shows the deleted VMs, ten passes at rest cost one list at most.
    azure.now += 2 * LAG
    lists = first.log.count("list")
    for _ in range(5):
        for world in worlds:
            world.now = azure.now
            gateway = listings.for_pool(azure, CONNECTION, world.pool["metadata"]["uid"])
            assert (await shared_pass(world, gateway).run()).next is Next.SETTLED
    assert first.log.count("list") <= lists + 1


async def test_pools_that_wrote_while_a_list_was_in_flight_share_the_next_one() -> None:
    azure = BlockedList([])
    azure.vms = fleet(pools=5, vms_each=1).vms
    listings = GroupListings(WINDOW, Clock())
    first = asyncio.create_task(listings.for_pool(azure, CONNECTION, "uid-0").list_group_vms(RG))
    await asyncio.sleep(0)

    writers = []
    for n in range(5):
        gateway = listings.for_pool(azure, CONNECTION, f"uid-{n}")
        await gateway.wait_operation(
            OperationRecord(LroKind.CREATE, f"/vms/pool{n}-0", "token"), max_wait=0
        )
        writers.append(asyncio.create_task(gateway.list_group_vms(RG)))
        await asyncio.sleep(0)
    assert azure.log.count("list") == 1
    azure.release.set()
    await asyncio.gather(first, *writers)

    assert azure.log.count("list") == 2
    assert listings.lists_started == 2


async def test_a_groups_lists_for_pools_at_work_are_spaced_by_its_size() -> None:
    azure, clock = fleet(pools=50, vms_each=10), Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    listings = GroupListings(WINDOW, clock, sleep=sleep)
    writer = listings.for_pool(azure, CONNECTION, "uid-0")
    await writer.list_group_vms(RG)
    clock.now += 0.5
    listings.mark("uid-0")

    await writer.list_group_vms(RG)

    # 500 VMs: 10 pages of 50, at most two thirds of 5 pages a second (Compute's High-cost get
    # refill): 3 s after the last list started.
    assert slept == [pytest.approx(2.5)]
    assert azure.log.count("list") == 2
    clock.now += 3.0
    listings.mark("uid-0")
    await writer.list_group_vms(RG)
    assert len(slept) == 1
    assert azure.log.count("list") == 3


def paced_clock() -> tuple[Clock, list[float], Callable[[float], Awaitable[None]]]:
    clock, slept = Clock(), []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    return clock, slept, sleep


async def test_pools_at_rest_in_a_group_of_10000_vms_list_it_within_half_the_refill() -> None:
    azure = fleet(pools=1000, vms_each=10)
    clock, slept, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)

    # Ten minutes of pools at rest, one pass every second, each taking its pool's share.
    for second in range(600):
        n = second % 1000
        await listings.for_pool(azure, CONNECTION, f"uid-{n}").list_pool_vms(RG, identity(n))
        clock.now += 1.0

    # 200 pages a list, at most 150 pages a minute (half of 300): lists at 0, 80, ..., 560 s,
    # not one every window (30 s: 400 pages a minute), and no pool waited for one.
    assert slept == []
    assert azure.log.count("list") == 8


async def test_groups_of_one_connection_are_paced_together_and_other_connections_apart() -> None:
    azure = fleet(pools=1000, vms_each=10)
    clock, _slept, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    groups = [(CONNECTION, RG), (CONNECTION, "rg-other"), ("connection-b", RG)]

    for _second in range(480):
        for scope, group in groups:
            await listings.for_pool(azure, scope, "uid-0").list_group_vms(group)
        clock.now += 1.0

    # Two groups of 200 pages in one connection: each listed every 160 s (400 pages every
    # 160 s is 150 a minute); the other connection's group every 80 s, as if alone.
    assert azure.log.count("list") == 3 + 3 + 6


async def test_a_pool_that_wrote_never_takes_a_list_from_before_its_write() -> None:
    azure = fleet(pools=1000, vms_each=10)
    clock, slept, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    writer = listings.for_pool(azure, CONNECTION, "uid-0")
    resting = listings.for_pool(azure, CONNECTION, "uid-1")
    await writer.list_group_vms(RG)
    clock.now += 1.0
    await writer.wait_operation(
        OperationRecord(LroKind.CREATE, "/vms/pool0-10", "token"), max_wait=0
    )
    azure.vms["pool0-10"] = vm("pool0-10", "uid-0", {POOL_UID_TAG: "uid-0"})

    # Past the window, still within the 80 s a list at rest of 200 pages may serve.
    clock.now += WINDOW + 10.0
    await resting.list_group_vms(RG)
    assert azure.log.count("list") == 1

    listed = await writer.list_group_vms(RG)

    # The writer waited for a list of its own: 60 s after the last one started (200 pages at
    # two thirds of the refill), and saw its create.
    assert slept == [pytest.approx(60.0 - 41.0)]
    assert azure.log.count("list") == 2
    assert "pool0-10" in {v.name for v in listed}


async def test_a_pool_waiting_for_a_newer_list_or_the_list_being_read_lends_its_turn() -> None:
    azure = fleet(pools=1000, vms_each=10)
    clock, slept, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    events: list[str] = []

    @asynccontextmanager
    async def lend() -> AsyncIterator[None]:
        events.append("lent")
        yield
        events.append("back")

    async def sleep_logged(seconds: float) -> None:
        events.append("slept")
        await sleep(seconds)

    listings.sleep = sleep_logged
    writer = listings.for_pool(azure, CONNECTION, "uid-0", lend)
    await writer.list_group_vms(RG)
    assert events == ["lent", "back"]
    events.clear()
    await listings.for_pool(azure, CONNECTION, "uid-1", lend).list_group_vms(RG)
    assert events == []
    listings.mark("uid-0")

    await writer.list_group_vms(RG)

    assert events == ["lent", "slept", "back", "lent", "back"]
    assert slept == [pytest.approx(60.0)]


async def test_a_list_started_before_a_write_never_serves_the_writer_however_long_it_runs() -> None:
    azure = BlockedList([])
    azure.vms = fleet(pools=1000, vms_each=10).vms
    clock, slept, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    writer = listings.for_pool(azure, CONNECTION, "uid-0")
    resting = listings.for_pool(azure, CONNECTION, "uid-1")
    azure.release.set()
    await resting.list_group_vms(RG)
    azure.release.clear()

    # A pool at rest starts the next list (the last is 81 s old); the writer writes while it
    # is read, and it is read for longer than the window.
    clock.now += 81.0
    slow = asyncio.create_task(resting.list_group_vms(RG))
    await asyncio.sleep(0)
    await writer.wait_operation(
        OperationRecord(LroKind.CREATE, "/vms/pool0-10", "token"), max_wait=0
    )
    clock.now += WINDOW + 10.0
    azure.release.set()
    await slow

    await writer.list_group_vms(RG)

    # The writer took a list of its own, 60 s after the slow one started.
    assert azure.log.count("list") == 3
    assert slept == [pytest.approx(60.0 - 40.0)]


async def test_accounts_on_one_subscription_and_region_are_paced_together() -> None:
    azure = fleet(pools=1000, vms_each=10)
    clock, _slept, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    westeurope, eastus = ("sub", "westeurope"), ("sub", "eastus")
    groups = [(CONNECTION, RG, westeurope), ("connection-b", RG, westeurope)]
    groups.append(("connection-c", RG, eastus))

    for _second in range(480):
        for scope, group, pace in groups:
            reads = listings.for_pool(azure, scope, "uid-0", pace=pace)
            await reads.list_group_vms(group)
        clock.now += 1.0

    # Two accounts listing 200 pages each from one bucket: every 160 s each, as two groups of
    # one account would; the third account's, in another region, every 80 s, as if alone.
    assert azure.log.count("list") == 3 + 3 + 6


def reported(
    reports: dict[Hashable, HighCostReport],
) -> Callable[[Hashable], HighCostReport | None]:
    return reports.get


async def test_an_empty_bucket_holds_lists_until_it_refills_and_pools_at_rest_keep_the_last() -> (
    None
):
    azure = fleet(pools=50, vms_each=10)
    clock, slept, sleep = paced_clock()
    reports: dict[Hashable, HighCostReport] = {}
    listings = GroupListings(WINDOW, clock, sleep=sleep, reports=reported(reports))
    writer = listings.for_pool(azure, CONNECTION, "uid-0")
    await writer.list_group_vms(RG)
    clock.now += 100.0
    # Another client emptied the bucket, and Azure answered a 429 with a Retry-After of 20 s.
    reports[CONNECTION] = HighCostReport(0, clock.now, blocked_until=clock.now + 20)

    await listings.for_pool(azure, CONNECTION, "uid-1").list_pool_vms(RG, identity(1))
    assert azure.log.count("list") == 1  # a pool at rest takes the list 100 s old
    listings.mark("uid-0")
    await writer.list_group_vms(RG)

    # 20 s blocked, then 10 pages and a reserve of 10 at 5 a second.
    assert slept == [pytest.approx(24.0)]
    assert azure.log.count("list") == 2


async def test_a_low_reported_remainder_spaces_lists_at_work_further() -> None:
    azure = fleet(pools=50, vms_each=10)
    clock, slept, sleep = paced_clock()
    reports: dict[Hashable, HighCostReport] = {}
    listings = GroupListings(WINDOW, clock, sleep=sleep, reports=reported(reports))
    writer = listings.for_pool(azure, CONNECTION, "uid-0")
    await writer.list_group_vms(RG)
    reports[CONNECTION] = HighCostReport(45, clock.now)
    listings.mark("uid-0")

    await writer.list_group_vms(RG)

    # 10 pages at two thirds of a tenth of the refill (45 of 450 tokens left): 30 s, not 3.
    assert slept == [pytest.approx(30.0)]


@dataclass
class RefusedWrites(FakeAzure):
    """Every write fails with `error` before anything else happens."""

    error: Exception = field(default_factory=lambda: WriteBudgetExhausted("budget", retry_after=5))

    async def create_vm(self, resource_group: str, spec: VmSpec) -> OperationRecord:
        raise self.error

    async def delete_vm(self, vm: PoolVm, pool_uid: str, *, force: bool = False) -> OperationRecord:
        raise self.error

    async def reimage_vm(
        self, vm: PoolVm, pool_uid: str, exact_version: str | None
    ) -> OperationRecord:
        raise self.error

    async def release_vm(self, vm: PoolVm, released_at: str) -> None:
        raise self.error

    async def retag_vm(self, vm: PoolVm, tags: dict[str, str]) -> None:
        raise self.error


WRITES: dict[str, Callable[[SharedReads, PoolVm], Awaitable[object]]] = {
    "create": lambda reads, own: reads.create_vm(RG, vm_spec(name="pool0-1")),
    "delete": lambda reads, own: reads.delete_vm(own, "uid-0"),
    "reimage": lambda reads, own: reads.reimage_vm(own, "uid-0", "2.0.0"),
    "release": lambda reads, own: reads.release_vm(own, "2026-01-01T00:00:00Z"),
    "retag": lambda reads, own: reads.retag_vm(own, {}),
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize(
    ("error", "lists"),
    [
        # vmroll's own budget refused: nothing was sent, the list the pool has still serves.
        (WriteBudgetExhausted("budget", retry_after=5), 1),
        # Azure refused, or the answer was lost: the write may have been done.
        (TransientAzureError("lost", code="ServerTimeout"), 2),
    ],
)
async def test_only_a_write_that_may_have_been_sent_makes_the_pools_next_list_fresh(
    write: str, error: Exception, lists: int
) -> None:
    azure = RefusedWrites([], error=error)
    azure.vms = fleet(pools=1, vms_each=1).vms
    listings = GroupListings(WINDOW, Clock())
    reads = listings.for_pool(azure, CONNECTION, "uid-0")
    [own] = (await reads.list_pool_vms(RG, identity(0))).owned

    with pytest.raises(type(error)):
        await WRITES[write](reads, own)
    await reads.list_pool_vms(RG, identity(0))

    assert azure.log.count("list") == lists


class DecodingAzure(FakeAzure):
    """Each list is new objects, as a list decoded from JSON is."""

    async def list_group_vms(self, resource_group: str) -> tuple[PoolVm, ...]:
        return tuple(replace(vm) for vm in await super().list_group_vms(resource_group))


async def test_a_vm_unchanged_between_a_list_and_the_next_is_kept_once() -> None:
    azure, clock = DecodingAzure([], vms=fleet(pools=1, vms_each=2).vms), Clock()
    listings = GroupListings(WINDOW, clock)
    reads = listings.for_pool(azure, CONNECTION, "uid-0")
    first = await reads.list_group_vms(RG)
    azure.vms["pool0-1"] = replace(azure.vms["pool0-1"], provisioning_state="Deleting")
    # The pool's own delete: its next observation takes a newer list than the latest.
    listings.mark("uid-0")
    clock.now += 1.0

    second = await reads.list_group_vms(RG)

    assert azure.log.count("list") == 2
    assert second[0] is first[0]
    assert second[1].provisioning_state == "Deleting"


@pytest.mark.parametrize(
    ("pools", "reads"),
    [
        pytest.param(50, False, id="500-vms: lists 3 s apart, the pool waits for the next"),
        pytest.param(100, True, id="1000-vms: lists 6 s apart, the pool reads its VMs"),
    ],
)
async def test_a_pool_at_work_in_a_costly_group_reads_its_writes_instead_of_waiting(
    pools: int, reads: bool
) -> None:
    azure = fleet(pools=pools, vms_each=10)
    clock, slept, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    gateway = listings.for_pool(azure, CONNECTION, "uid-0")
    await gateway.list_pool_vms(RG, identity(0))
    await gateway.delete_vm(azure.vms["pool0-0"], "uid-0")
    clock.now += 1.0

    seen = await gateway.list_pool_vms(RG, identity(0))

    states = {v.name: v.provisioning_state for v in seen.owned}
    if not reads:
        assert azure.log.count("list") == 2
        assert slept
        assert "pool0-0" not in states
        return
    assert azure.log.count("list") == 1
    assert slept == []
    # The delete's answer stands for the GET that would follow it: the pool sees its VM
    # Deleting, and reads it by name only `READ_AGAIN_AFTER` after the delete, then gone
    # although the newest list still shows it.
    assert [e for e in azure.log if e.startswith("get")] == []
    assert states["pool0-0"] == "Deleting"
    assert states["pool0-1"] == "Succeeded"
    azure.end_running()
    clock.now += READ_AGAIN_AFTER - 2.0
    await gateway.list_pool_vms(RG, identity(0))
    assert "get pool0-0" not in azure.log
    clock.now += 1.0
    seen = await gateway.list_pool_vms(RG, identity(0))
    assert azure.log.count("get pool0-0") == 1
    assert "pool0-0" not in {v.name for v in seen.owned}
    assert azure.log.count("list") == 1


async def test_a_vm_a_pool_at_work_reads_by_name_brings_its_instance_view() -> None:
    azure = fleet(pools=100, vms_each=10)
    clock, _, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    gateway = listings.for_pool(azure, CONNECTION, "uid-0")
    await gateway.list_pool_vms(RG, identity(0))
    listings.mark("uid-0", ["pool0-1"])
    clock.now += 1.0

    seen = await gateway.list_pool_vms(RG, identity(0))

    assert [e for e in azure.log if e.startswith("get")] == ["get pool0-1"]
    assert set(seen.views) == {"pool0-1"}
    assert seen.views["pool0-1"].power_state == "running"
    # Settled: the next pass reads it neither by name nor for its view.
    assert (await gateway.list_pool_vms(RG, identity(0))).views == {}
    assert azure.log.count("get pool0-1") == 1


async def test_a_pool_at_work_in_a_costly_group_learns_its_new_vms_health_from_their_reads() -> (
    None
):
    """In a group of 1,000 VMs a pool follows its creates by name: the read that shows a create
    done brings the VM's health, and the pass reads no instance view of it."""
    world = World()
    azure = world.azure
    for n in range(100):
        for i in range(10):
            azure.vms[f"other{n}-{i}"] = vm(f"other{n}-{i}", f"other-{n}", {})
    clock, _, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    gateway = listings.for_pool(azure, CONNECTION, "uid-1")

    for _ in range(60):
        if (await shared_pass(world, gateway).run()).next is Next.SETTLED:
            break
        azure.end_running()
        world.tick(1)
        clock.now += 1.0
    else:
        raise AssertionError(f"the pool never settled: {world.log[-30:]}")

    created = {e.removeprefix("create ") for e in world.log if e.startswith("create ")}
    read = {e.removeprefix("get ") for e in world.log if e.startswith("get ")}
    viewed = {e.removeprefix("runtime ") for e in world.log if e.startswith("runtime ")}
    assert len(created) == 3
    assert created <= read
    assert viewed.isdisjoint(created)


async def test_a_pool_at_work_follows_on_the_newest_list_while_the_next_one_is_read() -> None:
    """10,000 VMs: lists at work 60 s apart, kept 80 s for pools at rest. The next list is still
    being read when the newest is 81 s old: a pool at work takes the newest and reads its own
    writes by name, rather than wait for the whole list being read."""
    azure = BlockedList([])
    azure.vms = fleet(pools=1000, vms_each=10).vms
    clock, _, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    worker = listings.for_pool(azure, CONNECTION, "uid-0")
    other = listings.for_pool(azure, CONNECTION, "uid-1")
    azure.release.set()
    await worker.list_pool_vms(RG, identity(0))
    azure.release.clear()
    clock.now += 61.0
    listings.mark("uid-1")
    slow = asyncio.create_task(other.list_group_vms(RG))
    await asyncio.sleep(0)
    clock.now += 20.0
    listings.mark("uid-0", ["pool0-1"])

    seen = await asyncio.wait_for(worker.list_pool_vms(RG, identity(0)), timeout=1.0)

    assert azure.log.count("list") == 2
    assert "get pool0-1" in azure.log
    assert len(seen.owned) == 10
    azure.release.set()
    await slow


@dataclass
class HeldReads(FakeAzure):
    """A GET of a name in `held` waits for `release`: other pools' lists run meanwhile."""

    held: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def read_vm(self, resource_group: str, name: str) -> ReadVm | None:
        if name in self.held:
            await self.release.wait()
        return await super().read_vm(resource_group, name)


async def test_a_pass_reading_by_name_keeps_what_it_read_before_though_a_newer_list_ends() -> None:
    """A pool at work in a group of 1,000 VMs saw `pool0-0` deleted by name on the newest list
    (which still shows it). While its next pass reads another VM by name on that same list, a
    newer list ends and is taken by another pool, which forgets what the first pool read before
    that list: the pass must still see `pool0-0` gone, not as that list shows it (it would
    delete it again, or a VM made under its name since)."""
    azure = HeldReads([])
    azure.vms = fleet(pools=100, vms_each=10).vms
    clock, _, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    worker = listings.for_pool(azure, CONNECTION, "uid-0")
    await worker.list_pool_vms(RG, identity(0))
    await worker.delete_vm(azure.vms["pool0-0"], "uid-0")
    azure.end_running()
    clock.now += READ_AGAIN_AFTER
    assert "pool0-0" not in {v.name for v in (await worker.list_pool_vms(RG, identity(0))).owned}
    azure.held.add("pool0-1")
    listings.mark("uid-0", ["pool0-1"])
    clock.now += 1.0

    held = asyncio.create_task(worker.list_pool_vms(RG, identity(0)))
    await asyncio.sleep(0)
    listings.mark("uid-1")
    await listings.for_pool(azure, CONNECTION, "uid-1").list_group_vms(RG)
    await listings.for_pool(azure, CONNECTION, "uid-2").list_group_vms(RG)
    azure.release.set()
    seen = await held

    assert azure.log.count("list") == 2
    assert "pool0-0" not in {v.name for v in seen.owned}


async def test_an_accepted_create_is_seen_creating_and_read_only_once_due() -> None:
    """A pool at work in a group of 1,000 VMs: the create's answer stands for the GET that
    would follow it. A create whose answer was lost is read by name at once."""
    azure = fleet(pools=100, vms_each=10)
    clock, _, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    gateway = listings.for_pool(azure, CONNECTION, "uid-0")
    await gateway.list_pool_vms(RG, identity(0))
    tags = ownership_tags(identity(0), "r3", None)
    await gateway.create_vm(RG, vm_spec(name="pool0-10", owner=identity(0)))
    azure.create_error = TransientAzureError("connection reset")
    with pytest.raises(TransientAzureError):
        await gateway.create_vm(RG, vm_spec(name="pool0-11", owner=identity(0)))
    clock.now += 1.0

    seen = {v.name: v for v in (await gateway.list_pool_vms(RG, identity(0))).owned}

    assert [e for e in azure.log if e.startswith("get")] == ["get pool0-11"]
    creating = seen["pool0-10"]
    assert (creating.provisioning_state, creating.pool_uid) == ("Creating", "uid-0")
    assert creating.tags.items() >= tags.items()
    azure.end_running()
    clock.now += READ_AGAIN_AFTER - 1.0
    seen = {v.name: v for v in (await gateway.list_pool_vms(RG, identity(0))).owned}
    assert azure.log.count("get pool0-10") == 1
    assert seen["pool0-10"].provisioning_state == "Succeeded"


async def test_a_vm_a_list_shows_changing_is_read_by_name_once_read_again_is_due() -> None:
    """What a list shows of a VM changing counts as read when the list started: the pool reads
    it by name `READ_AGAIN_AFTER` after that, not at once."""
    azure = fleet(pools=100, vms_each=10)
    azure.vms["pool0-3"] = replace(azure.vms["pool0-3"], provisioning_state="Deleting")
    clock, _, sleep = paced_clock()
    listings = GroupListings(WINDOW, clock, sleep=sleep)
    gateway = listings.for_pool(azure, CONNECTION, "uid-0")
    await gateway.list_pool_vms(RG, identity(0))
    clock.now += READ_AGAIN_AFTER - 1.0

    seen = await gateway.list_pool_vms(RG, identity(0))

    assert "get pool0-3" not in azure.log
    assert "pool0-3" in {v.name for v in seen.owned}
    del azure.vms["pool0-3"]
    clock.now += 1.0
    seen = await gateway.list_pool_vms(RG, identity(0))
    assert azure.log.count("get pool0-3") == 1
    assert "pool0-3" not in {v.name for v in seen.owned}
    assert azure.log.count("list") == 1
