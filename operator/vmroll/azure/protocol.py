"""What the handlers may ask of Azure, as `typing.Protocol`s.

Handlers depend on these and nothing else from `vmroll.azure`'s internals, so that they can be
tested with a fake and so that every Azure call goes through the one place that resolves
images once per interval, spends the write budget, records long-running operations and
classifies errors (`TransientAzureError`, `TerminalAzureError`, `AzureAccessError`).
"""

from __future__ import annotations

from typing import Protocol

from vmroll.azure.images import ImageRef, PurchasePlan, ResolvedImage
from vmroll.azure.lro import OperationRecord, OperationState
from vmroll.azure.settings import AccountConnection
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import PoolListing, PoolVm, VmRuntime
from vmroll.plan.ownership import PoolIdentity


class ComputeGateway(Protocol):
    """Azure as one subscription's pools see it."""

    async def resolve_image(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> ResolvedImage:
        """The exact image in `location`, resolved at most once per `max_age` seconds."""
        ...

    async def ensure_terms(self, plan: PurchasePlan, *, accept: bool) -> None:
        """Return when the plan's terms are accepted, accepting them only if `accept`."""
        ...

    async def list_pool_vms(self, resource_group: str, pool: PoolIdentity) -> PoolListing:
        """The pool's VMs and look-alikes in the resource group, from one paged list."""
        ...

    async def get_pool_vm(self, resource_group: str, name: str) -> PoolVm | None:
        """One VM by name, as Compute has it now (lists may lag); None when it does not exist."""
        ...

    async def get_vm_runtime(self, vm: PoolVm) -> VmRuntime | None:
        """Power state and guest health of one VM; None when it is gone."""
        ...

    async def create_vm(self, resource_group: str, spec: VmSpec) -> OperationRecord:
        """Start creating a VM; store the record before waiting on it."""
        ...

    async def delete_vm(self, vm: PoolVm, pool_uid: str, *, force: bool = False) -> OperationRecord:
        """Start deleting a VM that `pool_uid` owns."""
        ...

    async def reimage_vm(
        self, vm: PoolVm, pool_uid: str, exact_version: str | None
    ) -> OperationRecord:
        """Start reimaging a VM that `pool_uid` owns."""
        ...

    async def wait_operation(self, record: OperationRecord, *, max_wait: float) -> OperationState:
        """Follow a recorded operation for up to `max_wait` seconds, after a restart too."""
        ...


class GatewayFactory(Protocol):
    """Gateways per connection, sharing clients, image resolutions and write budgets."""

    def gateway(self, connection: AccountConnection) -> ComputeGateway:
        """The gateway of a connection; its clients are made once and then shared."""
        ...

    async def discard(self, connection: AccountConnection) -> None:
        """Close the clients of a connection no longer used (account deleted, secret rotated)."""
        ...

    async def close(self) -> None:
        """Close every client; on operator shutdown."""
        ...
