"""The seam between a reconcile pass and Azure: `vmroll.azure`'s `ComputeGateway`, plus the
calls a pool needs that the boundary does not offer yet: `release_vm`, with which
`deletionPolicy: Retain` tags the VMs it leaves behind, and `retag_vm`, with which a restart's
reimage records the revision the VM runs. It goes through the same clients and
the same write budget as the boundary's own calls.
"""

from __future__ import annotations

from typing import Protocol

from azure.mgmt.compute.models import VirtualMachineUpdate

from vmroll.azure.budget import WriteBudget
from vmroll.azure.clients import AzureClients
from vmroll.azure.errors import azure_errors
from vmroll.azure.gateway import AzureGateway
from vmroll.azure.images import ImageRef, PurchasePlan, ResolvedImage
from vmroll.azure.lro import OperationRecord, OperationState
from vmroll.azure.protocol import ComputeGateway
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import PoolListing, PoolVm, VmRuntime
from vmroll.plan.ownership import PoolIdentity

RELEASED_TAG = "vmroll.io_released"
"""Set on the VMs of a `deletionPolicy: Retain` pool when the pool goes: vmroll lets go."""


class PoolGateway(ComputeGateway, Protocol):
    """What one pass needs from one subscription."""

    async def release_vm(self, vm: PoolVm, released_at: str) -> None:
        """Tag a retained VM as released; its other tags stay."""
        ...

    async def retag_vm(self, vm: PoolVm, tags: dict[str, str]) -> None:
        """Replace a VM's tags (after a restart's reimage: reconcile/restart_tags.py)."""
        ...


class AzurePoolGateway:
    """`PoolGateway` over the boundary's `AzureGateway` and the same connection's clients."""

    def __init__(self, gateway: AzureGateway, clients: AzureClients, budget: WriteBudget) -> None:
        self._gateway = gateway
        self._clients = clients
        self._budget = budget

    async def resolve_image(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> ResolvedImage:
        return await self._gateway.resolve_image(location, image, max_age=max_age)

    async def ensure_terms(self, plan: PurchasePlan, *, accept: bool) -> None:
        await self._gateway.ensure_terms(plan, accept=accept)

    async def list_pool_vms(self, resource_group: str, pool: PoolIdentity) -> PoolListing:
        return await self._gateway.list_pool_vms(resource_group, pool)

    async def get_pool_vm(self, resource_group: str, name: str) -> PoolVm | None:
        return await self._gateway.get_pool_vm(resource_group, name)

    async def get_vm_runtime(self, vm: PoolVm) -> VmRuntime | None:
        return await self._gateway.get_vm_runtime(vm)

    async def create_vm(self, resource_group: str, spec: VmSpec) -> OperationRecord:
        return await self._gateway.create_vm(resource_group, spec)

    async def delete_vm(self, vm: PoolVm, pool_uid: str, *, force: bool = False) -> OperationRecord:
        return await self._gateway.delete_vm(vm, pool_uid, force=force)

    async def reimage_vm(
        self, vm: PoolVm, pool_uid: str, exact_version: str | None
    ) -> OperationRecord:
        return await self._gateway.reimage_vm(vm, pool_uid, exact_version)

    async def wait_operation(self, record: OperationRecord, *, max_wait: float) -> OperationState:
        return await self._gateway.wait_operation(record, max_wait=max_wait)

    async def release_vm(self, vm: PoolVm, released_at: str) -> None:
        await self._update_tags(vm, {**vm.tags, RELEASED_TAG: released_at}, "as released")

    async def retag_vm(self, vm: PoolVm, tags: dict[str, str]) -> None:
        await self._update_tags(vm, tags, "with the revision it runs")

    async def _update_tags(self, vm: PoolVm, tags: dict[str, str], why: str) -> None:
        await self._budget.acquire()
        operations = self._clients.compute.virtual_machines
        with azure_errors(f"tag {vm.resource_id} {why}"):
            poller = await operations.begin_update(
                vm.resource_group, vm.name, VirtualMachineUpdate(tags=tags)
            )
            await poller.result()
