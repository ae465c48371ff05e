"""What a spec would do to a pool, without doing it: the operator's planner, run forward.

`kubectl vmroll plan` needs the batches a rollout would take, in order, under the pool's
strategy and fenceposts, and must not guess them with code of its own. This runs `plan_rollout`,
the function each reconcile pass runs, over the pool's VMs as its status recorded them, pass
after pass, as if every action succeeded at once: created and reimaged VMs are healthy and, one
step later, available for longer than `minReadySeconds`. A batch is the old VMs one pass takes
down (reimaged, or deleted once their replacements stand), as the `RolloutBatch` event counts
them. The preview assumes a resumed pool inside its window: pause and windows only delay it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from vmroll.plan.availability import AppHealth, HealthSignals, PowerState, ProvisioningState
from vmroll.plan.rollout import plan_rollout
from vmroll.plan.rollout_model import (
    CreateVM,
    DeleteReason,
    DeleteVM,
    ObservedInstance,
    ReimagePairs,
    ReimageVM,
    RolloutHistory,
    RolloutSpec,
    RolloutStrategy,
    Target,
)

MAX_PASSES = 1000
"""More passes than any pool of the CRD's maximum size needs; a bound against a planner bug."""


@dataclass(frozen=True)
class PreviewVm:
    """One VM as the pool's status lists it."""

    name: str
    revision: str
    image_version: str
    zone: str | None = None
    restart: str | None = None


@dataclass(frozen=True)
class Batch:
    """The old VMs one pass takes down. (Their replacements are created before them with a
    surge, after them without: `Preview.created` counts them all.)"""

    reimaged: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    """Deleted without a replacement: the pool scales down."""


@dataclass(frozen=True)
class Preview:
    batches: tuple[Batch, ...]
    created: int
    """VMs created over the whole rollout."""
    complete: bool
    """Every VM reached the target (never, with OnDelete, while old VMs stand)."""


def _healthy(at: datetime) -> HealthSignals:
    return HealthSignals(
        ProvisioningState.SUCCEEDED, PowerState.RUNNING, True, AppHealth.NOT_REPORTED, at, at
    )


def preview_rollout(
    spec: RolloutSpec,
    vms: Iterable[PreviewVm],
    previous_good: Target | None,
    now: datetime,
    reimage_pairs: ReimagePairs,
) -> Preview:
    """The batches `plan_rollout` would take to bring `vms` to `spec.target`, in order.

    OnDelete takes down no old VM (only missing VMs are created): no batch, and not complete
    while old VMs remain. A paused spec is previewed as resumed.
    """
    spec = replace(spec, paused=False)
    step = timedelta(seconds=spec.min_ready_seconds + 1)
    long_ago = now - step
    fleet = {
        vm.name: ObservedInstance(
            vm.name, vm.revision, vm.image_version, vm.zone, order, _healthy(long_ago),
            restart=vm.restart,
        )
        for order, vm in enumerate(vms)
    }  # fmt: skip
    history = RolloutHistory(previous_good=previous_good)
    batches: list[Batch] = []
    created = 0
    for _ in range(MAX_PASSES):
        plan = plan_rollout(
            spec, fleet.values(), history, now, in_window=True, reimage_pairs=reimage_pairs
        )
        if not plan.actions:
            complete = spec.strategy is not RolloutStrategy.ON_DELETE or not any(
                vm.revision != spec.target.revision for vm in fleet.values()
            )
            return Preview(tuple(batches), created, complete=complete)
        history = plan.history
        batch = Batch()
        for action in plan.actions:
            if isinstance(action, ReimageVM):
                fleet[action.name] = replace(
                    fleet[action.name], revision=action.revision,
                    image_version=action.image_version, health=_healthy(now),
                )  # fmt: skip
                batch = replace(batch, reimaged=(*batch.reimaged, action.name))
            elif isinstance(action, DeleteVM):
                del fleet[action.name]
                if action.reason is DeleteReason.REPLACED:
                    batch = replace(batch, replaced=(*batch.replaced, action.name))
                else:
                    batch = replace(batch, removed=(*batch.removed, action.name))
            elif isinstance(action, CreateVM):
                created += 1
                name = f"new-{created}"
                fleet[name] = ObservedInstance(
                    name, action.revision, action.image_version, action.zone,
                    len(fleet) + created, _healthy(now),
                )  # fmt: skip
        if batch.reimaged or batch.replaced or batch.removed:
            batches.append(batch)
        now += step
    return Preview(tuple(batches), created, complete=False)
