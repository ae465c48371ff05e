"""The pool's VMs as one pass must see them: the listing, corrected for a list that lags writes.

ARM's lists are eventually consistent (a VM created a moment ago may be missing from them, see
vmroll.emulator.consistency for what is known of it), but a GET by name reads Compute itself.
A create vmroll recorded, or a VM an earlier list showed (a list paged by offset can skip one
while VMs come and go), that the list does not show is read by name before anything is
concluded: a VM found is the pool's (the planner counts it, so no second one is made for its
slot, and the surge bound holds), one not found never reached Azure or is gone. One GET per such
VM and pass, and only while the list lags or skips; the common pass costs the one list, as before.
The GET carries the VM's instance view, kept for the pass (`views`): no second read for health.
In the operator that list is shared by the pools of the resource group (shared_listing.py),
never older than the pool's own last write, and a GET here makes the pool's next list a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from vmroll.azure.protocol import ComputeGateway
from vmroll.azure.vms import PoolVm, VmRuntime
from vmroll.plan.ownership import PoolIdentity
from vmroll.reconcile.memory import PoolMemory
from vmroll.reconcile.observe import unlisted_known


@dataclass(frozen=True)
class PoolVms:
    owned: dict[str, PoolVm]
    """Listed VMs carrying the pool's UID, and recorded creates found by name."""
    unlisted: frozenset[str]
    """Names in `owned` that only a GET found: the list does not show them yet."""
    look_alikes: tuple[PoolVm, ...]
    views: dict[str, VmRuntime]
    """Instance views read with VMs of `owned` by name in this observation."""


async def observe_pool(
    gateway: ComputeGateway, resource_group: str, pool: PoolIdentity, memory: PoolMemory
) -> PoolVms:
    listing = await gateway.list_pool_vms(resource_group, pool)
    owned = {vm.name: vm for vm in listing.owned}
    found: dict[str, PoolVm] = {}
    views = dict(listing.views)
    for name in unlisted_known(memory, owned):
        read = await gateway.read_vm(resource_group, name)
        if read is not None and read.vm.pool_uid == pool.uid:
            found[name] = read.vm
            views[name] = read.runtime
    return PoolVms({**owned, **found}, frozenset(found), listing.look_alikes, views)
