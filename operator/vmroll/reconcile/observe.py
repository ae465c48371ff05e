"""Turn one listing of the resource group into the planner's view of the pool.

Only VMs carrying the pool's UID tag are the pool's. Operations recorded in status are matched
against the listing: finished ones are dropped, a create recorded but never seen by Azure (the
operator died between recording and sending it) is forgotten, so that the planner decides anew
instead of trusting a VM that does not exist. A list may lag a write (ARM's eventual
consistency) or skip a VM it showed before, so "not listed" alone never forgets a create or a
VM seen before: listing.py reads such a VM by name first, and a create stays recorded until a
list shows it finished or a GET says it does not exist. Health comes from the instance view,
read only for VMs whose health is still unknown or stale; a VM read by name brings its view
along (`keep_views`).
Operations are settled here, by the list, where it can prove them ended (following.py); the
others are polled after the pass.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from vmroll.api.pool_status import Health, InstanceStatus, OperationKind
from vmroll.azure.vms import PoolVm, VmRuntime
from vmroll.plan.availability import AppHealth, HealthSignals, PowerState, ProvisioningState
from vmroll.plan.ownership import RESTART_TAG
from vmroll.plan.rollout_model import InFlight, ObservedInstance
from vmroll.plan.view_refresh import RefreshSchedule
from vmroll.reconcile.memory import PoolMemory, SeenRuntime

TERMINAL_STATES = frozenset({"Succeeded", "Failed"})
_IN_FLIGHT = {
    OperationKind.CREATE: InFlight.CREATE,
    OperationKind.DELETE: InFlight.DELETE,
    OperationKind.REIMAGE: InFlight.REIMAGE,
}
_APP_HEALTH = {
    "healthy": AppHealth.HEALTHY,
    "unhealthy": AppHealth.UNHEALTHY,
    "initializing": AppHealth.INITIALIZING,
}


@dataclass(frozen=True)
class Finished:
    """An operation recorded in status that the listing shows done."""

    name: str
    kind: OperationKind
    succeeded: bool


def unlisted_known(memory: PoolMemory, listed: Collection[str]) -> list[str]:
    """VMs the pool knows that the listing does not show, to read by name before forgetting
    them: recorded creates, and VMs an earlier list showed with no delete recorded since. A list
    may skip a VM it showed before (pages read by offset while VMs come and go); a pool that
    took the slot for empty would make a second VM for it under the lowest free name."""
    creates = [
        name
        for name, op in memory.pending.items()
        if op.kind is OperationKind.CREATE and name not in listed
    ]
    seen = [name for name in memory.first_seen if name not in listed and name not in memory.pending]
    return creates + seen


def settle_pending(
    memory: PoolMemory, owned: Mapping[str, PoolVm], unlisted: Collection[str] = ()
) -> list[Finished]:
    """Drop recorded operations the listing shows finished; return them for events.

    `owned` holds the listed VMs and those of `unlisted`, found by name but not yet listed.
    """
    finished: list[Finished] = []
    for name, op in list(memory.pending.items()):
        vm = owned.get(name)
        if op.kind is OperationKind.DELETE:
            done = vm is None
            succeeded = done
        elif vm is None:
            # Read by name and not found: never reached Azure, or created and deleted since.
            # The planner decides anew.
            done, succeeded = True, False
        elif name in unlisted and op.kind is OperationKind.CREATE:
            # It exists, the list does not show it yet: forgetting it now would let the next
            # pass, listing the same, create it again under another name.
            done = succeeded = False
        elif vm.provisioning_state == "Failed" and op.resume_token is not None:
            # The operation's own status says why it failed: the pass polls it (following.py),
            # and its error reaches the condition and the event.
            done = succeeded = False
        else:
            done = vm.provisioning_state in TERMINAL_STATES
            succeeded = vm.provisioning_state == "Succeeded"
        if done:
            del memory.pending[name]
            memory.operation_ended(name)
            if op.kind is OperationKind.DELETE and succeeded:
                memory.deleted(name)
            finished.append(Finished(name, op.kind, succeeded))
    return finished


def unsent_deletes(memory: PoolMemory, owned: dict[str, PoolVm]) -> list[PoolVm]:
    """Listed VMs whose recorded delete has no resume token: the operator died before sending it.

    Both a normal pass and a deleted pool's cleanup send these again; nothing else would.
    """
    return [
        owned[name]
        for name, op in memory.pending.items()
        if op.kind is OperationKind.DELETE and op.resume_token is None and name in owned
    ]


def keep_views(
    memory: PoolMemory,
    owned: Mapping[str, PoolVm],
    views: Mapping[str, VmRuntime],
    now: datetime,
) -> None:
    """Keep the instance views read with VMs by name this pass, of VMs whose operations ended:
    their health is then known without reading the view again (`needs_runtime`). A view read
    while an operation of the VM runs may predate it (a reimage), and is not kept."""
    for name, runtime in views.items():
        vm = owned.get(name)
        if (
            vm is not None
            and name not in memory.pending
            and vm.provisioning_state in TERMINAL_STATES
        ):
            memory.runtimes[name] = SeenRuntime(runtime, now)


def needs_runtime(vm: PoolVm, memory: PoolMemory, now: datetime, refresh: RefreshSchedule) -> bool:
    """A running VM's health until it is healthy, then at the pool's refresh moments; a failed
    VM's instance view once, for the code that says whether the failure is Azure's own."""
    if vm.name in memory.pending:
        return False
    seen = memory.runtimes.get(vm.name)
    if vm.provisioning_state == "Failed":
        return seen is None or seen.runtime.failure_code is None
    if vm.provisioning_state != "Succeeded":
        return False
    if seen is None or not _healthy(vm, seen.runtime):
        return True
    return refresh.due(seen.read_at, now)


def runtimes_due(
    owned: Iterable[PoolVm], memory: PoolMemory, now: datetime, refresh: RefreshSchedule
) -> list[PoolVm]:
    """The VMs whose instance view a pass reads: those `needs_runtime` names.

    A pool's VMs become healthy, and so are read, at different moments; refreshed one by one,
    each would end the pool's rest on its own (reconcile/at_rest.py), about once a minute for 10
    VMs. Due at the pool's moments (plan/view_refresh.py), its healthy views are read together
    from the second refresh on, and a settled pool runs one full pass per period.
    """
    return [vm for vm in owned if needs_runtime(vm, memory, now, refresh)]


def observe(owned: Iterable[PoolVm], memory: PoolMemory, now: datetime) -> list[ObservedInstance]:
    """The planner's instances; records first-seen and healthy-since times in `memory`."""
    instances: list[ObservedInstance] = []
    for vm in owned:
        first = memory.first_seen.get(vm.name, now)
        if vm.provisioning_state != "Deleting":
            # Known from now on: a later list that skips it makes listing.py read it by name.
            # One being deleted holds no slot, and a list that no longer shows it is no skip.
            memory.first_seen.setdefault(vm.name, now)
        elif vm.name not in memory.first_seen:
            memory.first_seen_deleting.setdefault(vm.name, now)
        if vm.name in memory.changed_at and memory.changed_at[vm.name] is None:
            memory.changed_at[vm.name] = now
        changed = memory.changed_at.get(vm.name) or first
        seen = memory.runtimes.get(vm.name)
        runtime = seen.runtime if seen else None
        if _healthy(vm, runtime):
            memory.healthy_since.setdefault(vm.name, now)
        else:
            memory.healthy_since.pop(vm.name, None)
        instances.append(
            ObservedInstance(
                name=vm.name,
                revision=vm.revision or "",
                image_version=vm.image_version or "",
                zone=vm.zone,
                created_order=int(first.timestamp() * 1_000_000),
                health=_signals(vm, runtime, memory.healthy_since.get(vm.name), changed),
                in_flight=_in_flight(vm, memory),
                restart=vm.tags.get(RESTART_TAG),
            )
        )
    return instances


def instance_status(vm: PoolVm, memory: PoolMemory) -> InstanceStatus:
    seen = memory.runtimes.get(vm.name)
    runtime = seen.runtime if seen else None
    health = Health.UNKNOWN
    if runtime is not None:
        health = Health.HEALTHY if _healthy(vm, runtime) else Health.UNHEALTHY
    return InstanceStatus(
        name=vm.name,
        revision=vm.revision or "",
        image_version=vm.image_version,
        provisioning_state=vm.provisioning_state or None,
        power_state=runtime.power_state if runtime else None,
        health=health,
        zone=vm.zone,
        since=memory.since(vm.name),
    )


def _in_flight(vm: PoolVm, memory: PoolMemory) -> InFlight:
    op = memory.pending.get(vm.name)
    if op is not None:
        return _IN_FLIGHT[op.kind]
    if vm.provisioning_state == "Deleting":
        return InFlight.DELETE
    if vm.provisioning_state == "Creating":
        return InFlight.CREATE
    return InFlight.NONE


def _healthy(vm: PoolVm, runtime: VmRuntime | None) -> bool:
    return _signals(vm, runtime, None, datetime.min).healthy


def _signals(
    vm: PoolVm, runtime: VmRuntime | None, healthy_since: datetime | None, changed_at: datetime
) -> HealthSignals:
    try:
        provisioning = ProvisioningState(vm.provisioning_state)
    except ValueError:
        provisioning = ProvisioningState.UNKNOWN
    power = PowerState.UNKNOWN
    app = AppHealth.NOT_REPORTED
    if runtime is not None:
        try:
            power = PowerState(runtime.power_state or "unknown")
        except ValueError:
            power = PowerState.UNKNOWN
        if runtime.health is not None:
            app = _APP_HEALTH.get(runtime.health.lower(), AppHealth.UNKNOWN)
    return HealthSignals(
        provisioning=provisioning,
        power=power,
        # The listing and instance view carry no separate agent signal vmroll relies on: a
        # running VM whose health extension (when present) is healthy counts as ready.
        agent_ready=power is PowerState.RUNNING,
        app_health=app,
        healthy_since=healthy_since,
        changed_at=changed_at,
        failure_code=runtime.failure_code if runtime is not None else None,
    )
