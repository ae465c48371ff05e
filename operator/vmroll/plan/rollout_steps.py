"""The steps of one planning pass, each a pure function from `PlanningPass` to `PlanningPass`.

Like the Deployment controller's `rolling.go`, the sequence is fixed and each step only adds
what the fences still allow: replace failed VMs, remove surplus, create missing and surge VMs,
then disrupt old VMs (delete or reimage) within the availability budget. The arithmetic of
"how many" sits in small functions here; which VM and which zone sits in `PlanningPass`.

RollingReimage with `maxUnavailable` resolving to 0: a reimage always takes its VM down, so
with a floor of `replicas` no reimage could ever start. The surge allowance (which then is at
least 1, see fenceposts) is spent on temporary VMs on the target revision; once one is
available the pool is above its floor and an old VM is reimaged. When no old VM remains, the
extra VMs are surplus and the newest go first. Treating unavailable as 1 instead would break
the promise the user wrote down ("never fewer than replicas available").
"""

from __future__ import annotations

from collections.abc import Callable

from vmroll.plan.rollout_fleet import Member, PlanningPass
from vmroll.plan.rollout_model import CreateReason, DeleteReason, ReimagePairs, RolloutStrategy


def replace_failed(p: PlanningPass) -> PlanningPass:
    """Delete VMs whose provisioning failed; the create step then replaces them."""
    for member in p.members:
        if member.readiness.is_failed and p.actionable(member):
            p = p.with_delete(member, DeleteReason.FAILED)
    return p


def surplus_order(p: PlanningPass) -> Callable[[Member], tuple[bool, bool, int, bool, int, str]]:
    """Unhealthy first, then old revision, fullest zone, not yet available, newest.

    Zone balance outranks "not yet available": a VM that is starting is likely serving within
    minutes, while a pool left lopsided across zones stays so until the next rollout.
    """

    population = p.zone_populations()

    def key(m: Member) -> tuple[bool, bool, int, bool, int, str]:
        return (
            not (m.readiness.is_unhealthy or m.readiness.is_failed),
            m.updated,
            -population[m.instance.zone],
            m.readiness.is_available,
            -m.instance.created_order,
            m.name,
        )

    return key


def rollout_order(p: PlanningPass) -> Callable[[Member], tuple[bool, int, int, int, str]]:
    """Unavailable old VMs first (they cost no availability), then spread over zones, oldest."""

    population, disruptions = p.zone_populations(), p.zone_disruptions()

    def key(m: Member) -> tuple[bool, int, int, int, str]:
        zone = m.instance.zone
        return (
            m.available,
            disruptions[zone],
            -population[zone],
            m.instance.created_order,
            m.name,
        )

    return key


def remove_surplus(
    p: PlanningPass, replicas: int, surge: int, strategy: RolloutStrategy
) -> PlanningPass:
    """Delete VMs beyond `allowed_live` in `surplus_order`; when the next one in that order
    would take availability below the floor, wait for a later pass rather than pick another."""
    while p.live > allowed_live(p, replicas, surge, strategy):
        candidates = [m for m in p.remaining if p.actionable(m)]
        if not candidates:
            break
        victim = min(candidates, key=surplus_order(p))
        if not p.may_disrupt(victim):
            break
        p = p.with_delete(victim, DeleteReason.SURPLUS)
    return p


def allowed_live(p: PlanningPass, replicas: int, surge: int, strategy: RolloutStrategy) -> int:
    """While old VMs remain a rolling strategy may use its surge; otherwise `replicas`."""
    old_remain = any(not m.updated for m in p.remaining)
    return (
        replicas + surge if old_remain and strategy is not RolloutStrategy.ON_DELETE else replicas
    )


def to_replace(p: PlanningPass, strategy: RolloutStrategy, pairs: ReimagePairs) -> frozenset[str]:
    """Old VMs the strategy will replace rather than keep (in place, or forever for OnDelete)."""
    if strategy is RolloutStrategy.ON_DELETE:
        return frozenset()
    return frozenset(
        m.name
        for m in p.remaining
        if not m.updated
        and (
            strategy is RolloutStrategy.ROLLING_REPLACE
            or not pairs.allows(m.instance.revision, p.target.revision)
        )
    )


def new_vms_wanted(p: PlanningPass, replicas: int, surge: int, unavailable: int) -> int:
    """VMs on the target revision the rollout wants beyond those that exist or will be
    reimaged; for RollingReimage with no unavailability allowed, plus temporary headroom."""
    to_reimage = sum(not m.updated and m.name not in p.replaced for m in p.remaining)
    headroom = min(surge, to_reimage) if unavailable == 0 else 0
    return max(0, replicas - p.updated_live - to_reimage + headroom)


def add_vms(p: PlanningPass, missing: int, wanted: int) -> PlanningPass:
    """Create `missing` VMs, then surge VMs up to `wanted` new ones, within the ceiling."""
    for _ in range(min(max(0, missing), p.room)):
        p = p.with_create(CreateReason.MISSING)
    for _ in range(min(max(0, wanted - max(0, missing)), p.room)):
        p = p.with_create(CreateReason.SURGE)
    return p


def disrupt_old(p: PlanningPass) -> tuple[PlanningPass, tuple[str, ...]]:
    """Delete or reimage old VMs while the budget lasts; name those replaced for lack of a
    reimage path (only meaningful under RollingReimage)."""
    fallback: list[str] = []
    while True:
        candidates = p.disruptable(m for m in p.remaining if not m.updated)
        if not candidates:
            return p, tuple(fallback)
        member = min(candidates, key=rollout_order(p))
        if member.name in p.replaced:
            fallback.append(member.name)
            p = p.with_delete(member, DeleteReason.REPLACED)
        else:
            p = p.with_reimage(member)


def up_next(p: PlanningPass) -> tuple[str, ...]:
    """Old VMs not acted on yet, in the order later batches will take them."""
    waiting = [m for m in p.remaining if not m.updated and p.actionable(m)]
    return tuple(m.name for m in sorted(waiting, key=rollout_order(p)))
