"""The real `ComputeGateway`, and `AzureGateways`, the one factory that builds it.

`AzureGateway` is the service layer of the Cluster API Provider Azure pattern: it only
sequences. Images go through the shared `LatestCache`; every write (create, delete, reimage,
the release tag of a retained VM, accepting terms) first takes a token from each of Azure's
buckets it draws on in the subscription's `WriteBudget` (ARM's writes or deletes; Compute's Put,
Update or Delete VM in the VM's region), waiting in its pool's queue, is sent when Azure's count
of those buckets holds a token and counted in flight until it ends (budget.py `sending`), and
runs in a `CallScope` so that the counts Azure reports, and a 429's `Retry-After`, reach that
budget: all pools of the subscription slow down or back off together. A list of a group's VMs
runs in one too, so that what each page's answer says of the High-cost get bucket reaches
`HighCostReports`, by which the groups' lists of the subscription and region are paced
(reconcile/shared_listing.py); a read of one VM (its GET, its instance view, the read-back of a
create whose name exists, the GET that ends a create or a tag update) waits out and feeds the
Low-cost holds: a 429 for an empty Low-cost get bucket holds every pool's reads of the
subscription and region until its `Retry-After` (`LowCostHolds`). A gateway is always built
for one region, the one its reads and writes are counted in (no VM URL names it). Waiting for an
operation polls no faster than `Retry-After` and the VM's Get Operation budget allow
(`PollPacer`).

`AzureGateways` owns what the gateways share: the SDK clients per connection, the image
resolutions, the write budgets, the accepted terms and what is known of the High- and Low-cost
get buckets. The operator keeps one in its state (handlers/state.py) and the integration tests
build theirs the same way, so that both run the same wiring.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Hashable
from contextlib import asynccontextmanager
from typing import TypeVar

from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.azure import images, terms, vms
from vmroll.azure.budget import (
    ArmBucket,
    BudgetSettings,
    Clock,
    ComputePolicy,
    Sleep,
    TokenSetAside,
    Write,
    WriteBudget,
    WriteBudgets,
    no_one,
)
from vmroll.azure.clients import AzureClients, ClientCache, ClientOptions
from vmroll.azure.errors import AzureGatewayError, TerminalAzureError
from vmroll.azure.headroom import CallScope, Headroom, call_scope
from vmroll.azure.image_cache import CacheKey, LatestCache
from vmroll.azure.image_versions import ImageVersionInfo, list_image_versions
from vmroll.azure.images import ImageRef, MarketplacePlan, ResolvedImage
from vmroll.azure.list_headroom import HighCostReports, high_cost_key
from vmroll.azure.low_cost_holds import LowCostHolds
from vmroll.azure.lro import OperationRecord, OperationState, Poller, wait
from vmroll.azure.observer import NOT_OBSERVED, AzureObserver
from vmroll.azure.poll_pacing import PollPacer
from vmroll.azure.protocol import ComputeGateway
from vmroll.azure.settings import AccountConnection
from vmroll.azure.vm_body import VmSpec, made_by
from vmroll.azure.vms import (
    AlreadyCreated,
    ListedShare,
    PoolListing,
    PoolVm,
    VmRuntime,
    vm_resource_id,
)
from vmroll.plan.ownership import PoolIdentity
from vmroll.plan.reasons import Reason

T = TypeVar("T")


class NotOwnedError(AzureGatewayError):
    """vmroll was asked to change a VM that the asking pool does not own; nothing was sent."""


class AzureGateway:
    """`ComputeGateway` for one connection."""

    def __init__(
        self,
        clients: AzureClients,
        cache: LatestCache[ResolvedImage],
        budget: WriteBudget,
        accepted_plans: set[tuple[str, MarketplacePlan]],
        version_lists: LatestCache[tuple[ImageVersionInfo, ...]],
        polls: PollPacer,
        *,
        location: str,
        high_cost: HighCostReports,
        low_cost: LowCostHolds,
    ) -> None:
        self._clients = clients
        self._subscription = clients.connection.subscription_id
        self._cache = cache
        self._version_lists = version_lists
        self._budget = budget
        self._accepted_plans = accepted_plans
        self._polls = polls
        self._location = location
        """The region of the VMs this gateway writes to (a pool's): no VM URL names it."""
        self._high_cost = high_cost
        self._low_cost = low_cost

    async def resolve_image(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> ResolvedImage:
        key = CacheKey.of(self._subscription, location, image)

        async def resolve() -> ResolvedImage:
            return await images.resolve_image(
                self._clients.compute, self._subscription, location, image
            )

        return (await self._cache.get(key, max_age, resolve)).image

    async def image_versions(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> tuple[ImageVersionInfo, ...]:
        key = CacheKey.of(self._subscription, location, image)

        async def listed() -> tuple[ImageVersionInfo, ...]:
            return await list_image_versions(self._clients.compute, location, image)

        return (await self._version_lists.get(key, max_age, listed)).image

    async def ensure_terms(self, plan: MarketplacePlan, *, accept: bool, owner: str) -> None:
        key = (self._subscription.lower(), plan)
        if key in self._accepted_plans:
            return
        agreements = self._clients.agreements
        if not await terms.terms_accepted(agreements, plan):
            if not accept:
                raise terms.terms_not_accepted(plan)
            write = Write(owner, ArmBucket.WRITES, None, "")
            await self._write(write, None, lambda: terms.accept_terms(agreements, plan))
        self._accepted_plans.add(key)

    async def list_pool_vms(self, resource_group: str, pool: PoolIdentity) -> PoolListing:
        return await vms.list_pool_vms(
            self._clients.compute, self._subscription, resource_group, pool
        )

    async def list_group_vms(self, resource_group: str) -> tuple[PoolVm, ...]:
        reports, key = self._high_cost, high_cost_key(self._subscription, self._location)

        def listed(status: int, headroom: Headroom) -> None:
            reports.answered(key, status, headroom)

        with call_scope(CallScope(self._polls, listed=listed)):
            return await vms.list_group_vms(
                self._clients.compute, self._subscription, resource_group
            )

    async def read_vm(self, resource_group: str, name: str) -> vms.ReadVm | None:
        return await self._low_cost_read(
            lambda: vms.read_vm(self._clients.compute, self._subscription, resource_group, name)
        )

    async def get_vm_runtime(self, vm: PoolVm) -> VmRuntime | None:
        return await self._low_cost_read(
            lambda: vms.get_runtime(self._clients.compute, self._subscription, vm)
        )

    def refresh_period(self, pool: str, vms: int, configured: float) -> float:
        return self._clients.reads.refresh_period(pool, vms, configured)

    def rests(
        self, resource_group: str, pool: PoolIdentity, share: ListedShare, image: Hashable
    ) -> None:
        """Lists are shared, and wake pools at rest, one level up (SharedReads)."""

    async def _low_cost_read(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call`, its reads of one VM held and told to the Low-cost holds of the region."""
        with self._low_cost.held(high_cost_key(self._subscription, self._location)):
            return await call()

    async def create_vm(
        self, resource_group: str, spec: VmSpec
    ) -> OperationRecord | AlreadyCreated:
        compute = self._clients.compute
        write = Write(spec.owner.uid, ArmBucket.WRITES, ComputePolicy.PUT_VM, spec.location)
        resource_id = vm_resource_id(self._subscription, resource_group, spec.name)
        try:
            return await self._write(
                write,
                resource_id,
                lambda: vms.begin_create(compute, self._subscription, resource_group, spec),
            )
        except vms.NameExists:
            # Read outside the write's scope: a GET's answer must not feed the write budget.
            holder = await self._low_cost_read(
                lambda: vms.get_pool_vm(compute, resource_group, spec.name)
            )
            if holder is not None and made_by(spec, holder.tags):
                return AlreadyCreated(holder)
            raise vms.name_taken(spec, holder) from None
        except TerminalAzureError as error:
            if error.reason == Reason.TERMS_NOT_ACCEPTED and spec.image.plan is not None:
                # Accepted once, since revoked: the next ensure_terms must ask Azure again.
                self._accepted_plans.discard((self._subscription.lower(), spec.image.plan))
            raise

    async def delete_vm(self, vm: PoolVm, pool_uid: str, *, force: bool = False) -> OperationRecord:
        _check_owner(vm, pool_uid)
        compute = self._clients.compute
        write = Write(pool_uid, ArmBucket.DELETES, ComputePolicy.DELETE_VM, self._location)
        return await self._write(
            write, vm.resource_id, lambda: vms.begin_delete(compute, vm, force=force)
        )

    async def reimage_vm(
        self, vm: PoolVm, pool_uid: str, exact_version: str | None
    ) -> OperationRecord:
        _check_owner(vm, pool_uid)
        compute = self._clients.compute
        return await self._write(
            self._update(pool_uid),
            vm.resource_id,
            lambda: vms.begin_reimage(compute, vm, exact_version),
        )

    async def wait_operation(self, record: OperationRecord, *, max_wait: float) -> OperationState:
        # A create ends on a GET of its VM.
        return await self._low_cost_read(
            lambda: follow(self._clients, self._polls, record, vms.resume, max_wait=max_wait)
        )

    async def release_vm(self, vm: PoolVm, released_at: str) -> None:
        compute = self._clients.compute
        await self._write(
            self._update(vm.pool_uid), vm.resource_id, lambda: vms.release(compute, vm, released_at)
        )

    async def retag_vm(self, vm: PoolVm, tags: dict[str, str]) -> None:
        compute = self._clients.compute
        await self._write(
            self._update(vm.pool_uid), vm.resource_id, lambda: vms.retag(compute, vm, tags)
        )

    def _update(self, pool_uid: str) -> Write:
        return Write(pool_uid, ArmBucket.WRITES, ComputePolicy.UPDATE_VM, self._location)

    async def _write(
        self, write: Write, resource_id: str | None, send: Callable[[], Awaitable[T]]
    ) -> T:
        # A tag update ends on a GET of its VM.
        return await self._low_cost_read(
            lambda: paced_write(self._budget, self._polls, write, resource_id, send)
        )


Resumer = Callable[[ComputeManagementClient, OperationRecord, str], Awaitable[Poller]]
"""Rebuilds the SDK's poller of a recorded operation: the module that started it knows how."""


async def follow(
    clients: AzureClients,
    polls: PollPacer,
    record: OperationRecord,
    resumer: Resumer,
    *,
    max_wait: float,
) -> OperationState:
    """Follow a recorded operation for up to `max_wait` seconds, its polls paced by `polls`."""

    async def resume(token: str) -> Poller:
        return await resumer(clients.compute, record, token)

    return await wait(
        record,
        resume,
        resource_manager=clients.connection.endpoint.base_url,
        max_wait=max_wait,
        polls=polls,
    )


async def paced_write(
    budget: WriteBudget,
    polls: PollPacer,
    write: Write,
    resource_id: str | None,
    send: Callable[[], Awaitable[T]],
) -> T:
    """Send one write once the budget grants it, its answers feeding the budget and the polls
    of `resource_id`'s operation."""
    await budget.acquire(write)
    async with budget.sending(write):
        with call_scope(CallScope(polls, resource_id, budget, write)):
            return await send()


def _check_owner(vm: PoolVm, pool_uid: str) -> None:
    if not pool_uid or vm.pool_uid != pool_uid:
        raise NotOwnedError(f"VM {vm.resource_id} is not owned by pool {pool_uid}")


class AzureGateways:
    """Gateways per connection, sharing clients, image resolutions, write budgets, terms, the
    High-cost get reports and the Low-cost get holds.

    Create it in kopf's startup (or a test's fixture), close it on cleanup.
    """

    def __init__(
        self,
        *,
        client_options: ClientOptions | None = None,
        budget_settings: BudgetSettings | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        observer: AzureObserver = NOT_OBSERVED,
        token_set_aside: TokenSetAside = no_one,
    ) -> None:
        """`token_set_aside`: told each pool the write budget refused when a token is set aside
        for it, its ticket's turn come (budget.py)."""
        self.clients = ClientCache(client_options, observer)
        self.latest: LatestCache[ResolvedImage] = LatestCache(clock)
        self.version_lists: LatestCache[tuple[ImageVersionInfo, ...]] = LatestCache(clock)
        self.budgets = WriteBudgets(
            budget_settings,
            clock=clock,
            sleep=sleep,
            observer=observer,
            token_set_aside=token_set_aside,
        )
        self.polls = PollPacer(clock=clock, sleep=sleep)
        self.high_cost = HighCostReports(clock)
        max_wait = (client_options or ClientOptions()).max_retry_wait
        self.low_cost = LowCostHolds(clock=clock, sleep=sleep, max_wait=max_wait)
        self.accepted_plans: set[tuple[str, MarketplacePlan]] = set()

    @asynccontextmanager
    async def borrow(
        self, connection: AccountConnection, *, location: str
    ) -> AsyncIterator[ComputeGateway]:
        """The connection's gateway for VMs in `location`, whose clients stay open until the
        block ends (even if the connection is discarded meanwhile: a rotated secret never closes
        a call in flight)."""
        async with self.clients.borrow(connection) as clients:
            yield self.gateway(clients, location)

    def gateway(self, clients: AzureClients, location: str) -> AzureGateway:
        """The gateway of borrowed `clients` for VMs in `location`: the region its writes and
        reads of one VM are counted and held in (no VM URL names it), so there is no default."""
        return AzureGateway(
            clients,
            self.latest,
            self.budgets.for_subscription(clients.connection.subscription_id),
            self.accepted_plans,
            self.version_lists,
            self.polls,
            location=location,
            high_cost=self.high_cost,
            low_cost=self.low_cost,
        )

    async def discard(self, connection: AccountConnection) -> None:
        """Close the clients of a connection no longer used (account changed or deleted)."""
        await self.clients.discard(connection)

    async def retain(
        self, connections: Collection[AccountConnection], *, resolved_after: float
    ) -> None:
        """Keep only what `connections` use: their clients, and their subscriptions' budgets,
        accepted terms and image resolutions made after `resolved_after`."""
        await self.clients.retain(connections)
        subscriptions = {connection.subscription_id.lower() for connection in connections}
        self.budgets.retain(subscriptions)
        self.polls.forget_idle()
        self.high_cost.retain(subscriptions)
        self.low_cost.retain(subscriptions)
        kept = {key for key in self.accepted_plans if key[0] in subscriptions}
        self.accepted_plans.intersection_update(kept)
        self.latest.retain(subscriptions, resolved_after)
        self.version_lists.retain(subscriptions, resolved_after)

    def tracked(self) -> dict[str, int]:
        """How many of each shared thing are kept, for `vmroll_tracked_entries`."""
        return {
            "sdk_clients": len(self.clients),
            "write_budgets": len(self.budgets),
            "operation_polls": len(self.polls),
            "high_cost_reports": len(self.high_cost),
            "low_cost_holds": len(self.low_cost),
            "image_resolutions": len(self.latest) + len(self.version_lists),
            "accepted_plans": len(self.accepted_plans),
            **self.budgets.waiting(),
        }

    async def close(self) -> None:
        """Close every client; on operator shutdown."""
        await self.clients.close()
