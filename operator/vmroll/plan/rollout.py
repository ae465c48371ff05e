"""Plan one reconcile pass of a VM pool: scaling, repairs and the rolling update, as pure data.

    plan_rollout(spec, instances, history, now, *, in_window=True, reimage_pairs=NO_REIMAGE)
        -> Plan

Inputs (all in `vmroll.plan.rollout_model`):
- `spec: RolloutSpec`: replicas, target revision and image version, strategy, maxSurge /
  maxUnavailable (ints or "25%"), minReadySeconds, progressDeadlineSeconds, rollback policy,
  paused, zones, health grace period.
- `instances`: every VM of the pool Azure listed this pass (`ObservedInstance`: name, revision,
  image version, zone, creation order, `HealthSignals`, the operation vmroll has in flight).
  A VM deleted out of band is simply absent. A VM whose create vmroll started but Azure does
  not list yet must be passed too, with `InFlight.CREATE`, or the planner, seeing it missing,
  asks for it again: the pool pass reads such a VM by name (reconcile/listing.py) and takes
  its in-flight state from the recorded operation (reconcile/observe.py).
- `history: RolloutHistory`: previous good target, known-bad revisions, progress record, as the
  previous plan returned them (the pool pass keeps them in memory and restores them from
  status after a restart, reconcile/memory.py).
- `now`: the pass's clock; `in_window`: `maintenance.in_maintenance_window(...)` at `now`;
  `reimage_pairs`: which (from, to) revision changes a reimage can make (default none).

Output, a `Plan`: `actions` (CreateVM / DeleteVM / ReimageVM) safe to run concurrently; the
effective `target` (the previous good one while rolling back); `phase`; current and update
revision; Deployment-style `counts`; `up_next` (old VMs in the order later batches take them);
per-VM readiness for status; the `history` to store; and `facts` for conditions and events.

Invariants of every plan, whatever subset of its actions succeeds:
- no action on a VM with an operation in flight, at most one action per VM;
- VMs in existence (including those being deleted) never exceed `replicas + surge`, and a pool
  already above that gets no creates;
- available VMs (VMs with an operation in flight never count) stay at or above
  `replicas - maxUnavailable`, or, where they already are below it, are not reduced.

Every type named here is importable from this module, the planner's public surface; the
`rollout_*` modules beside it are its parts. Bad fenceposts raise ValueError.

Scaling and repairs run always; a rollout batch (surge creates, deletes and reimages of old VMs,
rolling back included) only when not paused, inside a maintenance window, and not OnDelete.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from vmroll.plan.availability import (
    AppHealth,
    HealthSignals,
    PowerState,
    ProvisioningState,
    Readiness,
    ReadinessPolicy,
)
from vmroll.plan.fenceposts import resolve_fenceposts
from vmroll.plan.rollout_failure import TargetDecision, decide_target, fleet_complete
from vmroll.plan.rollout_fleet import Member, PlanningPass, assess_fleet
from vmroll.plan.rollout_model import (
    Action,
    Counts,
    CreateReason,
    CreateVM,
    DeleteReason,
    DeleteVM,
    InFlight,
    InstanceReport,
    ObservedInstance,
    Plan,
    ReimagePairs,
    ReimageVM,
    RollbackPolicy,
    RolloutFacts,
    RolloutHistory,
    RolloutPhase,
    RolloutProgress,
    RolloutSpec,
    RolloutStrategy,
    Target,
)
from vmroll.plan.rollout_steps import (
    add_vms,
    disrupt_old,
    new_vms_wanted,
    remove_surplus,
    replace_failed,
    to_replace,
    up_next,
)

__all__ = [
    "NO_REIMAGE",
    "Action",
    "AppHealth",
    "Counts",
    "CreateReason",
    "CreateVM",
    "DeleteReason",
    "DeleteVM",
    "HealthSignals",
    "InFlight",
    "InstanceReport",
    "ObservedInstance",
    "Plan",
    "PowerState",
    "ProvisioningState",
    "Readiness",
    "ReimagePairs",
    "ReimageVM",
    "RollbackPolicy",
    "RolloutFacts",
    "RolloutHistory",
    "RolloutPhase",
    "RolloutProgress",
    "RolloutSpec",
    "RolloutStrategy",
    "Target",
    "plan_rollout",
]

NO_REIMAGE = ReimagePairs()
"""No revision change can be made by reimaging: every old VM is replaced."""


def plan_rollout(
    spec: RolloutSpec,
    instances: Iterable[ObservedInstance],
    history: RolloutHistory,
    now: datetime,
    *,
    in_window: bool = True,
    reimage_pairs: ReimagePairs = NO_REIMAGE,
) -> Plan:
    """Decide this pass's actions and status for one pool (see the module docstring)."""
    observed = tuple(instances)
    surge, unavailable = resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)
    policy = ReadinessPolicy(spec.min_ready_seconds, spec.health_grace_seconds)
    targets = [spec.target] + ([history.previous_good] if history.previous_good else [])
    members_for = {t.revision: assess_fleet(observed, t, policy, now) for t in targets}
    held = not in_window or spec.strategy is RolloutStrategy.ON_DELETE
    decision = decide_target(spec, history, members_for, now, held=held)
    members = members_for[decision.target.revision]

    p = PlanningPass(
        members=members,
        target=decision.target,
        zones=spec.zones,
        ceiling=spec.replicas + surge,
        floor=max(0, spec.replicas - unavailable),
    )
    p = replace_failed(p)
    failed = tuple(a.name for a in p.actions if isinstance(a, DeleteVM))
    p = remove_surplus(p, spec.replicas, surge, spec.strategy)
    p = p.with_replaced(to_replace(p, spec.strategy, reimage_pairs))
    rolling = not spec.paused and in_window and spec.strategy is not RolloutStrategy.ON_DELETE
    wanted = new_vms_wanted(p, spec.replicas, surge, unavailable) if rolling else 0
    p = add_vms(p, missing=spec.replicas - p.live, wanted=wanted)
    fallback: tuple[str, ...] = ()
    if rolling:
        p, fallback = disrupt_old(p)

    old_remain = any(not m.updated for m in p.remaining)
    complete = not p.actions and fleet_complete(members, spec.replicas)
    good = spec.target if complete and decision.rolled_back_from is None else None
    current = decision.target if complete else history.previous_good
    return Plan(
        actions=p.actions,
        phase=_phase(spec, decision, complete=complete, old_remain=old_remain, in_window=in_window),
        current_revision=current.revision if current else None,
        update_revision=decision.target.revision,
        target=decision.target,
        counts=_counts(members),
        up_next=up_next(p) if old_remain else (),
        instances=tuple(InstanceReport(m.name, m.readiness, m.updated) for m in members),
        history=RolloutHistory(
            previous_good=good or history.previous_good,
            known_bad=decision.known_bad,
            progress=decision.progress,
        ),
        facts=RolloutFacts(
            surge=surge,
            max_unavailable=unavailable,
            rolled_back_from=decision.rolled_back_from,
            rollback_started=decision.rollback_started,
            deadline_exceeded=decision.deadline_exceeded,
            outside_window=not in_window and old_remain,
            below_availability_floor=_available(members) < p.floor,
            unhealthy_updated=decision.unhealthy_updated,
            replaced_instead_of_reimaged=(
                fallback if spec.strategy is RolloutStrategy.ROLLING_REIMAGE else ()
            ),
            failed_replaced=failed,
        ),
    )


def _phase(
    spec: RolloutSpec,
    decision: TargetDecision,
    *,
    complete: bool,
    old_remain: bool,
    in_window: bool,
) -> RolloutPhase:
    rolling_back = decision.rolled_back_from is not None
    if complete:
        return RolloutPhase.ROLLED_BACK if rolling_back else RolloutPhase.COMPLETE
    if spec.paused:
        return RolloutPhase.PAUSED
    if decision.deadline_exceeded:
        return RolloutPhase.DEADLINE_EXCEEDED
    if rolling_back:
        return RolloutPhase.ROLLING_BACK
    if old_remain and not in_window:
        return RolloutPhase.WAITING_FOR_WINDOW
    if old_remain and spec.strategy is RolloutStrategy.ON_DELETE:
        return RolloutPhase.AWAITING_DELETION
    return RolloutPhase.PROGRESSING


def _available(members: tuple[Member, ...]) -> int:
    return sum(m.available for m in members)


def _counts(members: tuple[Member, ...]) -> Counts:
    live = [m for m in members if not m.leaving]
    return Counts(
        replicas=len(live),
        ready=sum(m.readiness.is_ready and not m.busy for m in live),
        updated=sum(m.updated for m in live),
        available=sum(m.available for m in live),
    )
