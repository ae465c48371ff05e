"""`CaptureGateway`: what an image capture may ask of Azure, and the real one behind it.

The capture pass depends on the Protocol only. The real gateway shares what `AzureGateways`
owns (the connection's SDK clients, the subscription's write budget and the operation polls'
pacing), so that captures and pools of one subscription draw on one budget and back off together
on a 429. A capture's writes draw on ARM's write bucket only: they are a handful per image, and
no VM URL names the region whose Compute buckets they would also count against. They wait in the
capture's own queue (its UID), as a pool's in the pool's: when a refused write's turn comes, the
token set aside for it wakes the capture's loop (handlers/captures.py), whatever write it sends
next. Queued under the resource written, a token went to no one that waited: a refused retention
delete came back at the next resync, minutes after its token had gone back. A builder VM is
resolved, checked for terms and created by the pools' own `AzureGateway` (image cache, accepted
terms, the Put VM bucket of the builder's region), so a builder is created exactly as a pool VM.
Its reads of one VM (the source's instance view, the builder's GET, the GET that ends the
builder's create) are Low-cost reads held and fed as a pool's are (low_cost_holds.py), in the
VM's subscription and region: a capture reading while the bucket is empty would otherwise be
answered 429 and retried where no pool may read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

from vmroll.azure import captures
from vmroll.azure.budget import ArmBucket, Write, WriteBudget
from vmroll.azure.captures import (
    BuilderInfo,
    DefinitionInfo,
    SourceInfo,
    VersionInfo,
    VersionRequest,
)
from vmroll.azure.clients import AzureClients
from vmroll.azure.gateway import AzureGateway, AzureGateways, follow, paced_write
from vmroll.azure.images import ImageRef, MarketplacePlan, ResolvedImage
from vmroll.azure.list_headroom import high_cost_key
from vmroll.azure.low_cost_holds import LowCostHolds
from vmroll.azure.lro import OperationRecord, OperationState
from vmroll.azure.poll_pacing import PollPacer
from vmroll.azure.settings import AccountConnection
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import AlreadyCreated, vm_resource_id
from vmroll.plan.retention import StoredVersion

T = TypeVar("T")


class CaptureGateway(Protocol):
    """Azure as one subscription's image captures see it."""

    async def read_source(self, vm_id: str, location: str) -> SourceInfo | None:
        """The source VM's instance view; `location` is the VM's region (no VM ID names it)."""
        ...

    async def read_definition(self, image_id: str) -> DefinitionInfo | None: ...

    async def version_names(self, image_id: str) -> tuple[str, ...]: ...

    async def read_version(self, image_id: str, name: str) -> VersionInfo | None: ...

    async def deallocate(self, vm_id: str) -> OperationRecord:
        """Start deallocating the VM; store the record before waiting on it."""
        ...

    async def generalize(self, vm_id: str) -> None: ...

    async def create_version(
        self, image_id: str, name: str, location: str, request: VersionRequest
    ) -> OperationRecord:
        """Start creating the version from the VM; store the record before waiting on it."""
        ...

    async def wait_operation(
        self, record: OperationRecord, *, max_wait: float
    ) -> OperationState: ...

    def vm_id(self, resource_group: str, name: str) -> str:
        """The resource ID of a VM of this subscription."""
        ...

    async def resolve_image(self, location: str, image: ImageRef) -> ResolvedImage: ...

    async def ensure_terms(self, plan: MarketplacePlan, *, accept: bool) -> None: ...

    async def read_builder(self, vm_id: str, uid_tag: str) -> BuilderInfo | None:
        """The VM, in the builder's region, with the value of its `uid_tag` tag (whose builder it
        is)."""
        ...

    async def create_builder(
        self, resource_group: str, spec: VmSpec
    ) -> OperationRecord | AlreadyCreated:
        """Start creating the builder; record its ID before calling, the record after. As a pool
        VM's create: `AlreadyCreated` when an earlier send made it (its capture-UID tag is the
        capture's), `vms.NameTaken` when another VM holds the name."""
        ...

    async def delete_builder(self, vm_id: str) -> OperationRecord:
        """Start deleting the builder; only once `read_builder` showed it is the capture's."""
        ...

    async def list_versions(self, image_id: str) -> tuple[StoredVersion, ...]: ...

    async def delete_version(self, image_id: str, name: str) -> None:
        """Start deleting the version; listing shows it `Deleting` until it is gone."""
        ...


class AzureCaptureGateway:
    def __init__(
        self,
        clients: AzureClients,
        budget: WriteBudget,
        polls: PollPacer,
        vms: AzureGateway,
        holds: LowCostHolds,
        location: str,
        owner: str,
    ) -> None:
        self._clients, self._budget, self._polls, self._vms = clients, budget, polls, vms
        self._holds = holds
        self._location = location
        """The builder's region."""
        self._owner = owner
        """The capture's UID: the queue its writes wait in, and who is woken at their turn."""

    async def read_source(self, vm_id: str, location: str) -> SourceInfo | None:
        compute = self._clients.compute
        return await self._low_cost_read(
            vm_id, location, lambda: captures.read_source(compute, vm_id)
        )

    async def read_definition(self, image_id: str) -> DefinitionInfo | None:
        return await captures.read_definition(self._clients.compute, image_id)

    async def version_names(self, image_id: str) -> tuple[str, ...]:
        return await captures.version_names(self._clients.compute, image_id)

    async def read_version(self, image_id: str, name: str) -> VersionInfo | None:
        return await captures.read_version(self._clients.compute, image_id, name)

    async def deallocate(self, vm_id: str) -> OperationRecord:
        compute = self._clients.compute
        return await self._write(vm_id, lambda: captures.begin_deallocate(compute, vm_id))

    async def generalize(self, vm_id: str) -> None:
        await self._write(vm_id, lambda: captures.generalize(self._clients.compute, vm_id))

    async def create_version(
        self, image_id: str, name: str, location: str, request: VersionRequest
    ) -> OperationRecord:
        compute = self._clients.compute
        return await self._write(
            f"{image_id}/versions/{name}",
            lambda: captures.begin_create_version(compute, image_id, name, location, request),
        )

    async def wait_operation(self, record: OperationRecord, *, max_wait: float) -> OperationState:
        # Of a capture's operations, only the builder's create ends on a GET of a VM.
        return await self._low_cost_read(
            record.resource_id,
            self._location,
            lambda: follow(self._clients, self._polls, record, captures.resume, max_wait=max_wait),
        )

    def vm_id(self, resource_group: str, name: str) -> str:
        return vm_resource_id(self._clients.connection.subscription_id, resource_group, name)

    async def resolve_image(self, location: str, image: ImageRef) -> ResolvedImage:
        return await self._vms.resolve_image(location, image, max_age=0.0)

    async def ensure_terms(self, plan: MarketplacePlan, *, accept: bool) -> None:
        await self._vms.ensure_terms(plan, accept=accept, owner=self._owner)

    async def read_builder(self, vm_id: str, uid_tag: str) -> BuilderInfo | None:
        compute = self._clients.compute
        return await self._low_cost_read(
            vm_id, self._location, lambda: captures.read_builder(compute, vm_id, uid_tag)
        )

    async def create_builder(
        self, resource_group: str, spec: VmSpec
    ) -> OperationRecord | AlreadyCreated:
        return await self._vms.create_vm(resource_group, spec)

    async def delete_builder(self, vm_id: str) -> OperationRecord:
        compute = self._clients.compute
        return await self._write(vm_id, lambda: captures.begin_delete_builder(compute, vm_id))

    async def list_versions(self, image_id: str) -> tuple[StoredVersion, ...]:
        return await captures.list_versions(self._clients.compute, image_id)

    async def delete_version(self, image_id: str, name: str) -> None:
        compute = self._clients.compute
        await self._write(
            f"{image_id}/versions/{name}",
            lambda: captures.begin_delete_version(compute, image_id, name),
        )

    async def _low_cost_read(
        self, vm_id: str, location: str, call: Callable[[], Awaitable[T]]
    ) -> T:
        """`call`, its reads of one VM (`vm_id`'s, in `location`) held and told to the Low-cost
        holds."""
        with self._holds.held(high_cost_key(captures.subscription_of(vm_id), location)):
            return await call()

    async def _write(self, resource_id: str, send: Callable[[], Awaitable[T]]) -> T:
        """`resource_id`: the VM or the version written, whose operation's polls are paced."""
        write = Write(self._owner, ArmBucket.WRITES, None, "")
        return await paced_write(self._budget, self._polls, write, resource_id, send)


@asynccontextmanager
async def borrow_captures(
    gateways: AzureGateways, connection: AccountConnection, *, location: str, owner: str
) -> AsyncIterator[CaptureGateway]:
    """The connection's capture gateway for a builder in `location` (empty for a capture
    without one, which neither reads nor writes a builder), writing for the capture whose UID
    is `owner`, its clients open until the block ends."""
    async with gateways.clients.borrow(connection) as clients:
        budget = gateways.budgets.for_subscription(connection.subscription_id)
        pools = gateways.gateway(clients, location)
        yield AzureCaptureGateway(
            clients, budget, gateways.polls, pools, gateways.low_cost, location, owner
        )
