"""One list of a resource group per window, shared by every pool in it.

Each pool's pass used to list its whole resource group, so N pools sharing a group cost N lists
(each every page of the group) per resync, and Compute's High-cost get bucket (lists: 300 a
minute per subscription and region) ran dry under a fleet of a few hundred VMs. `GroupListings`
keeps, per (connection, resource group), the newest list and the one in flight: a pool takes a
list started less than `max_age` ago (handlers/state.py ties it to the resync interval; longer
in a large fleet, below), or joins the list in flight, or starts one that the pools asking
meanwhile join (single flight). The connection is part of the key so that an account never
sees what only another may read.

A pool never decides on a list older than its own writes: every write it sends and every
operation it follows marks it (`SharedReads`), and its next observation takes only a list
started after the mark. Its VMs change otherwise only by another hand, which the next window's
list shows. A list that lags a write is covered as before by reconcile/listing.py's GET by name,
which marks the pool too: it lists again at its next pass until the list shows its creates. So
does a pool whose VMs the list shows changing (creating, deleting, updating): a pool at rest
shares, a pool at work lists at each pass, as before. Pools at work still share: a group has one
list in flight at a time, and a pool whose mark is newer than it waits for it to end and shares
the next one with every pool that asked meanwhile (200 pools of 10 VMs being created listed a
group of ~1,000 VMs about once a second, ten pages each, before). Pools follow their creates
and deletes through these lists rather than polling each operation (following.py), so a group's
lists are also spaced by their pages, counted with those of every group listed in the pool's
subscription and region (one bucket, whichever account lists: `pace`), against Compute's
High-cost get refill (plan/list_pacing.py): a pool at rest takes a list as old as the window, or
older where lists that often would spend more than half the refill; a pool at work waits for the
next list no sooner than lists that often spend two thirds of it: e.g. 3 s apart for a group of
500 VMs alone in its subscription and region, 60 s for 10,000 (80 s at rest). Slower still when
Azure reports the bucket low (`reports`, azure/list_headroom.py), and no list starts before the
bucket holds its pages, nor before a 429's `Retry-After`. A pool waiting for a newer list, or
for the list being read, lends its pass's turn among pools back meanwhile (handlers/turns.py).

Where the group's lists at work are more than a few seconds apart (following.py
`follows_by_reads`), a pool at work does not wait: it takes the newest list for what other hands
change and reads by name each VM it wrote (or saw changing) since that list started, one
Low-cost GET each, once `READ_AGAIN_AFTER` has passed since what it knows of the VM (its write's
answer, a list, an earlier GET) or at once where a write's answer was lost. Waiting a minute for
the list of 10,000 VMs at each step of a rollout (create, see healthy, delete) held every pool's
rollout to the list's pace. That GET carries the VM's instance view (`$expand=instanceView`),
handed to the pass with the listing (`views`): a create seen done is seen healthy (or not) in
the same read, not in a second one.

Health otherwise stays with the instance view, read per VM only while unknown or stale
(observe.py): the resource group's list takes `$expand=instanceView` only with a scale set
`$filter`, and `statusOnly=true` exists only on the subscription's list of all VMs, which reads
every group of the subscription (a High-cost get all the same), not the group an account is
admitted to.

Pools at rest do not come for these lists each: one pool per group and image, its sentinel,
does, and each list wakes the other pools resting on the group whose share it shows changed,
when it ends (`resting`, reconcile/resting_pools.py).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace

from vmroll.azure.errors import WriteBudgetExhausted
from vmroll.azure.image_versions import ImageVersionInfo
from vmroll.azure.images import ImageRef, MarketplacePlan, ResolvedImage
from vmroll.azure.lro import OperationRecord, OperationState
from vmroll.azure.protocol import ComputeGateway
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import (
    AlreadyCreated,
    ListedShare,
    PoolListing,
    PoolVm,
    ReadVm,
    VmRuntime,
    accepted_create,
    accepted_delete,
    kept_unchanged,
)
from vmroll.plan.list_pacing import (
    HighCostReport,
    gap_at_work,
    oldest_at_rest,
    pages,
    refill_wait,
)
from vmroll.plan.ownership import OwnershipIndex, PoolIdentity
from vmroll.reconcile.following import (
    SETTLED,
    UNREAD,
    Followed,
    Unread,
    follows_by_reads,
    overlay,
    reads_due,
)
from vmroll.reconcile.resting_pools import GroupKey, RestingPools

Listed = tuple[PoolVm, ...]
Reports = Callable[[Hashable], HighCostReport | None]
Lend = Callable[[], AbstractAsyncContextManager[None]]
"""Gives the pass's turn among pools' passes back while it waits on Azure (a newer list, spare
reads for refreshes), and takes one again after (handlers/turns.py)."""
_EPSILON = 1e-6
"""Waits below this are none: a timer woken at the computed instant may start its list."""


def no_reports(pace: Hashable) -> HighCostReport | None:
    """Nothing reported: the bucket is taken to be full."""
    return None


@dataclass(frozen=True)
class GroupList:
    """A group's list and its index by pool, made once when the list ends: each pool sharing
    the list then costs its own VMs, not the group's (plan/ownership.OwnershipIndex)."""

    vms: Listed
    index: OwnershipIndex[PoolVm]
    started_at: float
    """When the list was started: it shows each VM as it was then, or later."""


@dataclass
class _List:
    number: int
    """Lists are numbered in the order they start, across all groups."""
    started_at: float
    pace: Hashable
    """The subscription and region whose High-cost get bucket it drew on."""
    task: asyncio.Task[GroupList]
    group: GroupKey


@dataclass
class _Group:
    latest: _List | None = None
    """The newest list that succeeded."""
    in_flight: _List | None = None
    """The newest list started and not ended."""


@dataclass
class GroupListings:
    """The operator's lists per (connection, resource group); one per process (OperatorState)."""

    max_age: float
    """The window: a list younger than this serves pools at rest, or older in a large fleet."""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    reports: Reports = no_reports
    """What Azure last reported of a subscription-region's High-cost get bucket."""
    lists_started: int = 0
    _groups: dict[tuple[Hashable, str], _Group] = field(default_factory=dict)
    _marks: dict[str, int] = field(default_factory=dict)
    """Per pool: its next observation takes only a list numbered above this."""
    _pages: dict[Hashable, int] = field(default_factory=dict)
    """Per subscription and region: the pages of its groups' newest lists, one bucket's."""
    _followed: dict[str, dict[str, Followed]] = field(default_factory=dict)
    """Per pool: the VMs it wrote or saw changing, until a list started after shows them."""
    resting: RestingPools = field(default_factory=RestingPools)
    """The pools at rest on each group's lists, which each list wakes if it shows them
    changed (reconcile/resting_pools.py)."""

    def for_pool(
        self,
        gateway: ComputeGateway,
        scope: Hashable,
        pool_uid: str,
        lend: Lend = nullcontext,
        pace: Hashable | None = None,
    ) -> SharedReads:
        """`gateway` as one pool's pass uses it; `scope`: the connection the gateway reaches;
        `lend`: what lends the pass's turn among pools back while it waits for a newer list;
        `pace`: the subscription and region whose bucket its lists draw on (the key `reports`
        knows; the connection when None)."""
        return SharedReads(gateway, self, scope, scope if pace is None else pace, pool_uid, lend)

    def mark(
        self, pool_uid: str, names: Iterable[str] = (), read: PoolVm | Unread | None = UNREAD
    ) -> None:
        """The pool just wrote `names`, followed their operation or read them (`read`, at
        now): no list started before now serves its next observation, and where the group's
        list is costly the pool reads these VMs by name instead (following.py)."""
        self._marks[pool_uid] = self.lists_started
        followed = self._followed.setdefault(pool_uid, {})
        for name in names:
            followed[name] = Followed(self.lists_started, read, self.clock())

    def changing(self, pool_uid: str, vms: Iterable[PoolVm], listed_at: float) -> None:
        """The pool saw `vms` changing: as `mark`, keeping what a GET last read of each, so that
        a VM read changing is not read again before `READ_AGAIN_AFTER`; one only a list started
        at `listed_at` showed counts as read then."""
        self._marks[pool_uid] = self.lists_started
        followed = self._followed.setdefault(pool_uid, {})
        for vm in vms:
            known = followed.get(vm.name)
            followed[vm.name] = (
                Followed(self.lists_started, vm, listed_at)
                if known is None
                else replace(known, after=self.lists_started)
            )

    def followed(self, pool_uid: str, listed: int) -> dict[str, Followed]:
        """The VMs the pool follows that list number `listed` does not show as they are; the
        others are forgotten (that list shows them)."""
        kept = {
            name: f for name, f in self._followed.pop(pool_uid, {}).items() if f.after >= listed
        }
        if kept:
            self._followed[pool_uid] = kept
        return kept

    async def listing(
        self,
        gateway: ComputeGateway,
        scope: Hashable,
        pace: Hashable,
        resource_group: str,
        pool_uid: str,
        lend: Lend = nullcontext,
    ) -> GroupList:
        served, _ = await self.served(gateway, scope, pace, resource_group, pool_uid, lend)
        return served

    async def served(
        self,
        gateway: ComputeGateway,
        scope: Hashable,
        pace: Hashable,
        resource_group: str,
        pool_uid: str,
        lend: Lend = nullcontext,
        *,
        may_follow: bool = False,
    ) -> tuple[GroupList, int]:
        """A list for the pool and its number. `may_follow`: where the group's lists at work
        are far apart, the newest list serves although older than the pool's writes, which the
        pool then reads by name (following.py), and, while the next list is read, older than
        pools at rest take."""
        paced = False
        while True:
            now = self.clock()
            self._sweep(now)
            after = self._marks.get(pool_uid, 0)
            group = self._groups.setdefault((scope, resource_group.lower()), _Group())
            report = self.reports(pace)
            oldest = oldest_at_rest(self.max_age, self._pages.get(pace, 0), report, now)

            def serves(
                candidate: _List | None,
                now: float = now,
                after: int = after,
                oldest: float = oldest,
            ) -> bool:
                return (
                    candidate is not None
                    and candidate.number > after
                    and now - candidate.started_at < oldest
                )

            latest = group.latest
            if latest is not None and serves(latest):
                return latest.task.result(), latest.number
            flight = group.in_flight
            if (
                may_follow
                and latest is not None
                # Older than a pool at rest takes while the next list is being read: that list
                # (200 pages at 10,000 VMs) would hold the pool for as long as it is read, and
                # it only ever shows later what other hands change.
                and (now - latest.started_at < oldest or flight is not None)
                and follows_by_reads(self._period(pace, latest, report, now))
            ):
                return latest.task.result(), latest.number
            if flight is None:
                gap = self._gap(pace, latest, report, now, paced)
                if gap > _EPSILON:
                    # Pools at work follow their operations through these lists: one list of a
                    # large group per pass of theirs would spend Compute's High-cost get budget.
                    # The wait is a minute for a group of 10,000 VMs: the pass's turn among
                    # pools goes to another pool meanwhile (handlers/turns.py).
                    paced = True
                    async with lend():
                        await self.sleep(gap)
                    continue
                flight = self._start(scope, pace, group, gateway, resource_group, now)
            if serves(flight):
                if not flight.task.done():
                    # A list of a large group is read a page per request (60 pages at 3,000
                    # VMs), while every pool at work in the group waits for it: the pass's turn
                    # among pools goes to another pool meanwhile.
                    async with lend():
                        await asyncio.wait([flight.task])
                return flight.task.result(), flight.number
            # A list started before this pool's mark is still being read: the next one starts
            # when it ends, and every pool that asked meanwhile shares it (one list in flight
            # per group, however many pools at work mark themselves while it runs).
            async with lend():
                await asyncio.wait([flight.task])

    def __len__(self) -> int:
        return len(self._groups) + len(self._marks) + len(self.resting)

    def _period(
        self, pace: Hashable, latest: _List, report: HighCostReport | None, now: float
    ) -> float:
        """Seconds between the group's lists at work, as of a list started now."""
        listed = pages(len(latest.task.result().vms))
        return gap_at_work(self._pages.get(pace, 0), 0.0, listed, report, now)

    def _gap(
        self,
        pace: Hashable,
        latest: _List | None,
        report: HighCostReport | None,
        now: float,
        paced: bool,
    ) -> float:
        """Seconds until the group's next list may start. Once waited, only the bucket is asked
        again: a report that came meanwhile (a 429, another group's list) may hold it back."""
        listed = pages(len(latest.task.result().vms)) if latest is not None else 1
        if paced:
            return refill_wait(listed, report, now)
        since = now - latest.started_at if latest is not None else math.inf
        return gap_at_work(self._pages.get(pace, 0), since, listed, report, now)

    def _start(
        self,
        scope: Hashable,
        pace: Hashable,
        group: _Group,
        gateway: ComputeGateway,
        resource_group: str,
        now: float,
    ) -> _List:
        self.lists_started += 1
        previous = group.latest.task.result().vms if group.latest is not None else ()
        task = asyncio.ensure_future(_indexed_list(gateway, resource_group, previous, now))
        started = _List(self.lists_started, now, pace, task, (scope, resource_group.lower()))
        group.in_flight = started
        task.add_done_callback(lambda _: self._ended(group, started))
        return started

    def _ended(self, group: _Group, ended: _List) -> None:
        if group.in_flight is ended:
            group.in_flight = None
        # Retrieving the exception here also keeps asyncio from logging one nobody awaited.
        if ended.task.cancelled() or ended.task.exception() is not None:
            return
        if group.latest is None or group.latest.number < ended.number:
            self._count(group.latest, -1)
            group.latest = ended
            self._count(ended, 1)
            self.resting.listed(ended.group, ended.task.result().index, self._stale(ended.number))

    def _stale(self, number: int) -> Callable[[str], bool]:
        """Whether list `number` would not serve a pool as it is: the pool wrote since it
        started, or follows VMs it wrote that the list may not show as they are."""

        def stale(uid: str) -> bool:
            followed = self._followed.get(uid, {}).values()
            return self._marks.get(uid, 0) >= number or any(f.after >= number for f in followed)

        return stale

    def _count(self, listed: _List | None, sign: int) -> None:
        if listed is None:
            return
        pace = listed.pace
        total = self._pages.get(pace, 0) + sign * pages(len(listed.task.result().vms))
        if total > 0:
            self._pages[pace] = total
        else:
            self._pages.pop(pace, None)

    def _sweep(self, now: float) -> None:
        """Forget lists too old to serve, and marks older than every list kept (each kept list
        would serve the pool): what is kept is the size of the groups and pools active in the
        last window, or in the longer period a large fleet's lists at rest are kept."""
        oldest = {
            pace: oldest_at_rest(self.max_age, count, self.reports(pace), now)
            for pace, count in self._pages.items()
        }
        for (scope, name), group in list(self._groups.items()):
            latest = group.latest
            if group.in_flight is None and (
                latest is None or now - latest.started_at >= oldest.get(latest.pace, self.max_age)
            ):
                del self._groups[scope, name]
                self._count(latest, -1)
        kept = [
            listed.number
            for group in self._groups.values()
            for listed in (group.latest, group.in_flight)
            if listed is not None
        ]
        first_kept = min(kept, default=self.lists_started + 1)
        for uid, after in list(self._marks.items()):
            if after < first_kept:
                del self._marks[uid]
        for uid in list(self._followed):
            self.followed(uid, first_kept)


async def _indexed_list(
    gateway: ComputeGateway, resource_group: str, previous: Listed, started_at: float
) -> GroupList:
    vms = kept_unchanged(previous, await gateway.list_group_vms(resource_group))
    return GroupList(vms, OwnershipIndex(vms), started_at)


class SharedReads:
    """A `ComputeGateway` for one pool: lists through `GroupListings`, marks the pool on each
    write that may have been sent and each followed operation, and passes everything else
    through."""

    def __init__(
        self,
        gateway: ComputeGateway,
        listings: GroupListings,
        scope: Hashable,
        pace: Hashable,
        pool_uid: str,
        lend: Lend = nullcontext,
    ) -> None:
        self._gateway = gateway
        self._listings = listings
        self._scope = scope
        self._pool_uid = pool_uid
        self._lend = lend
        self._pace = pace

    async def list_group_vms(self, resource_group: str) -> Listed:
        return (await self._group_list(resource_group)).vms

    async def list_pool_vms(self, resource_group: str, pool: PoolIdentity) -> PoolListing:
        listings, uid = self._listings, self._pool_uid
        served, number = await listings.served(
            self._gateway,
            self._scope,
            self._pace,
            resource_group,
            uid,
            self._lend,
            may_follow=True,
        )
        share = served.index.share(pool)
        followed = listings.followed(uid, number)
        due = reads_due(followed, number, listings.clock())
        found = await asyncio.gather(*(self._gateway.read_vm(resource_group, n) for n in due))
        for name, read in zip(due, found, strict=True):
            listings.mark(uid, [name], read.vm if read is not None else None)
        # A newer list may have ended during the reads, and `_sweep` forgotten what the pool
        # followed before it: list `number` still shows those VMs as they were before it.
        followed = {**followed, **listings.followed(uid, number)}
        listed = {vm.name: vm for vm in share.owned}
        owned = overlay(listed, followed, number, pool.uid)
        # Each VM read here came with its instance view: the pass takes its health from it
        # rather than reading the view again.
        views = {
            read.vm.name: read.runtime
            for read in found
            if read is not None and owned.get(read.vm.name) is read.vm
        }
        changing = [vm for vm in owned.values() if vm.provisioning_state not in SETTLED]
        if changing:
            # The pool waits on a change under way (a delete the list still shows, say):
            # waiting a window to see it end would slow every step of a rollout.
            listings.changing(uid, changing, served.started_at)
        return PoolListing(tuple(owned.values()), share.look_alikes, views)

    def rests(
        self, resource_group: str, pool: PoolIdentity, share: ListedShare, image: Hashable
    ) -> None:
        key = (self._scope, resource_group.lower())
        self._listings.resting.rest(key, image, self._pool_uid, pool, share)

    async def _group_list(self, resource_group: str) -> GroupList:
        return await self._listings.listing(
            self._gateway, self._scope, self._pace, resource_group, self._pool_uid, self._lend
        )

    async def resolve_image(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> ResolvedImage:
        return await self._gateway.resolve_image(location, image, max_age=max_age)

    async def image_versions(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> tuple[ImageVersionInfo, ...]:
        return await self._gateway.image_versions(location, image, max_age=max_age)

    async def ensure_terms(self, plan: MarketplacePlan, *, accept: bool, owner: str) -> None:
        await self._gateway.ensure_terms(plan, accept=accept, owner=owner)

    async def read_vm(self, resource_group: str, name: str) -> ReadVm | None:
        # Asked only for a VM the list did not show: the next pass wants a newer list, or where
        # the group's list is costly takes what was read here.
        read: PoolVm | Unread | None = UNREAD
        try:
            found = await self._gateway.read_vm(resource_group, name)
            read = found.vm if found is not None else None
            return found
        finally:
            self._listings.mark(self._pool_uid, [name], read)

    async def get_vm_runtime(self, vm: PoolVm) -> VmRuntime | None:
        return await self._gateway.get_vm_runtime(vm)

    def refresh_period(self, pool: str, vms: int, configured: float) -> float:
        return self._gateway.refresh_period(pool, vms, configured)

    async def create_vm(
        self, resource_group: str, spec: VmSpec
    ) -> OperationRecord | AlreadyCreated:
        with self._marked_if_sent(spec.name) as answer:
            result = await self._gateway.create_vm(resource_group, spec)
            answer.vm = (
                result.vm
                if isinstance(result, AlreadyCreated)
                else accepted_create(spec, result.resource_id, resource_group)
            )
            return result

    async def delete_vm(self, vm: PoolVm, pool_uid: str, *, force: bool = False) -> OperationRecord:
        with self._marked_if_sent(vm.name) as answer:
            record = await self._gateway.delete_vm(vm, pool_uid, force=force)
            answer.vm = accepted_delete(vm)
            return record

    async def reimage_vm(
        self, vm: PoolVm, pool_uid: str, exact_version: str | None
    ) -> OperationRecord:
        with self._marked_if_sent(vm.name):
            return await self._gateway.reimage_vm(vm, pool_uid, exact_version)

    async def wait_operation(self, record: OperationRecord, *, max_wait: float) -> OperationState:
        try:
            return await self._gateway.wait_operation(record, max_wait=max_wait)
        finally:
            self._listings.mark(self._pool_uid, [record.resource_id.rsplit("/", 1)[-1]])

    async def release_vm(self, vm: PoolVm, released_at: str) -> None:
        with self._marked_if_sent(vm.name):
            await self._gateway.release_vm(vm, released_at)

    async def retag_vm(self, vm: PoolVm, tags: dict[str, str]) -> None:
        with self._marked_if_sent(vm.name):
            await self._gateway.retag_vm(vm, tags)

    @contextmanager
    def _marked_if_sent(self, name: str) -> Iterator[_Answer]:
        """Mark the pool after a write that may have reached Azure. One that vmroll's own write
        budget refused sent nothing: no newer list would show anything of it, and a pool marked
        for it would wait for the group's next list (a minute apart in a large group) to decide
        on what the list it has already shows. A write whose answer says what a GET would show
        now (`_Answer`) counts as that read."""
        answer = _Answer()
        try:
            yield answer
        except WriteBudgetExhausted:
            raise
        except BaseException:
            self._listings.mark(self._pool_uid, [name])
            raise
        self._listings.mark(self._pool_uid, [name], answer.vm)


@dataclass
class _Answer:
    """What a write's answer says of its VM: an accepted create shows it Creating, an accepted
    delete Deleting, as a GET right after would (following.py)."""

    vm: PoolVm | Unread = UNREAD
