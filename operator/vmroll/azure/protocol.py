"""What a reconcile pass may ask of Azure, as a `typing.Protocol`.

The reconcile package depends on `ComputeGateway` and on the data that crosses it, never on the
SDK or on how the gateway is built (an import-linter contract holds it to that), so that a pass
is tested with a fake and every Azure call goes through the one place that resolves images once
per interval, spends the write budget (fed by the headroom Azure reports, held back by a 429),
paces operation polls, records long-running operations and classifies errors
(`TransientAzureError`, `TerminalAzureError`, `AzureAccessError`). The real gateway is built by
`AzureGateways` (azure/gateway.py), the one factory that the operator and the integration tests
both use.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from vmroll.azure.image_versions import ImageVersionInfo
from vmroll.azure.images import ImageRef, MarketplacePlan, ResolvedImage
from vmroll.azure.lro import OperationRecord, OperationState
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import AlreadyCreated, ListedShare, PoolListing, PoolVm, ReadVm, VmRuntime
from vmroll.plan.ownership import PoolIdentity


class ComputeGateway(Protocol):
    """Azure as one subscription's pools see it."""

    async def resolve_image(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> ResolvedImage:
        """The exact image in `location`, resolved at most once per `max_age` seconds."""
        ...

    async def image_versions(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> tuple[ImageVersionInfo, ...]:
        """The versions of `image` usable in `location`, for judging it against ImagePolicies;
        listed at most once per `max_age` seconds, for all pools."""
        ...

    async def ensure_terms(self, plan: MarketplacePlan, *, accept: bool, owner: str) -> None:
        """Return when the plan's terms are accepted, accepting them only if `accept`; the
        acceptance waits for the write budget in `owner`'s queue (the pool's or capture's UID),
        so that `owner` is woken when its turn comes after a refusal."""
        ...

    async def list_pool_vms(self, resource_group: str, pool: PoolIdentity) -> PoolListing:
        """The pool's VMs and look-alikes in the resource group, from one paged list."""
        ...

    async def list_group_vms(self, resource_group: str) -> tuple[PoolVm, ...]:
        """Every VM of the resource group, from one paged list (shared by its pools)."""
        ...

    async def read_vm(self, resource_group: str, name: str) -> ReadVm | None:
        """One VM by name with its instance view, as Compute has it now (lists may lag); None
        when it does not exist."""
        ...

    async def get_vm_runtime(self, vm: PoolVm) -> VmRuntime | None:
        """Power state and guest health of one VM; None when it is gone. Sent inside
        `read_pacing.spare_reads()`, it raises `NoSpareRead` rather than wait for ARM's reads."""
        ...

    def refresh_period(self, pool: str, vms: int, configured: float) -> float:
        """Seconds between two reads of a healthy VM's view, now that `pool` refreshes `vms`
        VMs through the connection's ARM reads bucket (plan/view_refresh.py)."""
        ...

    def rests(
        self, resource_group: str, pool: PoolIdentity, share: ListedShare, image: Hashable
    ) -> None:
        """The pool is at rest with `share` of the group's list (its VMs, its look-alikes),
        looking up `image` (resting_pools.image_key): a later list that shows its share
        otherwise wakes it (reconcile/resting_pools.py); nothing where lists are not shared."""
        ...

    async def create_vm(
        self, resource_group: str, spec: VmSpec
    ) -> OperationRecord | AlreadyCreated:
        """Start creating a VM; store the record before waiting on it. `AlreadyCreated` when an
        earlier send of this create made the VM; `vms.NameTaken` when another VM holds the name."""
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
        """Follow a recorded operation for up to `max_wait` seconds, after a restart too; no
        poll before the last answer's `Retry-After` or beyond the VM's Get Operation budget."""
        ...

    async def release_vm(self, vm: PoolVm, released_at: str) -> None:
        """Tag a VM of a `deletionPolicy: Retain` pool as released; its other tags stay."""
        ...

    async def retag_vm(self, vm: PoolVm, tags: dict[str, str]) -> None:
        """Replace a VM's tags (after a restart's reimage: reconcile/restart_tags.py)."""
        ...
