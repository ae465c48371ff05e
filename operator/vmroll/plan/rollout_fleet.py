"""The fleet as one planning pass sees it, and the pass's running tally of decisions.

A pass decides several actions in a row (repairs, scaling, a rollout batch); each decision
changes what the next one may do: how many VMs still exist, how many are still available, which
zone is emptiest. `PlanningPass` carries that tally as an immutable value, one `with_*` per
decision, so each step is a pure function from pass to pass and the two fences are enforced in
one place:

- the surge ceiling: a VM being deleted still exists until Azure says it is gone, and a VM being
  created exists as soon as it is asked for;
- the availability floor: a VM with any operation in flight does not count as available, and
  deleting or reimaging an available VM spends one unit of `available - floor`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property

from vmroll.plan.availability import Readiness, ReadinessPolicy, assess
from vmroll.plan.rollout_model import (
    Action,
    CreateReason,
    CreateVM,
    DeleteReason,
    DeleteVM,
    InFlight,
    ObservedInstance,
    ReimageVM,
    Target,
)


@dataclass(frozen=True)
class Member:
    """An observed VM with its readiness at `now` and whether it runs the target revision."""

    instance: ObservedInstance
    readiness: Readiness
    updated: bool
    name: str = field(init=False)
    busy: bool = field(init=False)
    leaving: bool = field(init=False)
    available: bool = field(init=False)

    def __post_init__(self) -> None:
        # Derived once: a pass of a large pool asks these millions of times.
        busy = self.instance.in_flight is not InFlight.NONE
        object.__setattr__(self, "name", self.instance.name)
        object.__setattr__(self, "busy", busy)
        object.__setattr__(self, "leaving", self.instance.in_flight is InFlight.DELETE)
        object.__setattr__(self, "available", self.readiness.is_available and not busy)


def assess_fleet(
    instances: Iterable[ObservedInstance], target: Target, policy: ReadinessPolicy, now: datetime
) -> tuple[Member, ...]:
    return tuple(
        Member(i, _readiness(i, policy, now), i.revision == target.revision)
        for i in sorted(instances, key=lambda i: i.name)
    )


def _readiness(instance: ObservedInstance, policy: ReadinessPolicy, now: datetime) -> Readiness:
    # A create or reimage vmroll is still running is the VM's grace period: however long Azure
    # takes, the VM is starting, not unhealthy, and must not count towards a rollback.
    readiness = assess(instance.health, policy, now)
    in_transition = instance.in_flight in (InFlight.CREATE, InFlight.REIMAGE)
    broken = readiness.is_unhealthy or readiness.is_failed
    return Readiness.STARTING if in_transition and broken else readiness


@dataclass(frozen=True)
class PlanningPass:
    """The fleet plus the actions decided so far in this pass.

    Every `with_*` returns a new pass, so the derived tallies are computed at most once each.
    """

    members: tuple[Member, ...]
    target: Target
    zones: tuple[str, ...]
    ceiling: int
    floor: int
    actions: tuple[Action, ...] = ()
    touched: frozenset[str] = frozenset()
    deleted: frozenset[str] = frozenset()
    replaced: frozenset[str] = frozenset()

    @cached_property
    def existing(self) -> int:
        return len(self.members) + len(self.planned_creates)

    @property
    def room(self) -> int:
        """How many more VMs may be created without passing the surge ceiling."""
        return max(0, self.ceiling - self.existing)

    @cached_property
    def available(self) -> int:
        return sum(m.available and m.name not in self.touched for m in self.members)

    @property
    def budget(self) -> int:
        """How many more available VMs may be disrupted without going below the floor."""
        return max(0, self.available - self.floor)

    @cached_property
    def remaining(self) -> tuple[Member, ...]:
        """VMs that will still be there after this pass: not leaving, not deleted by it."""
        return tuple(m for m in self.members if not m.leaving and m.name not in self.deleted)

    @cached_property
    def planned_creates(self) -> tuple[CreateVM, ...]:
        return tuple(a for a in self.actions if isinstance(a, CreateVM))

    @cached_property
    def live(self) -> int:
        return len(self.remaining) + len(self.planned_creates)

    @cached_property
    def updated_live(self) -> int:
        return sum(m.updated for m in self.remaining) + len(self.planned_creates)

    def actionable(self, member: Member) -> bool:
        return not member.busy and member.name not in self.touched

    def may_disrupt(self, member: Member) -> bool:
        return self.actionable(member) and (not member.available or self.budget > 0)

    def disruptable(self, members: Iterable[Member]) -> list[Member]:
        """`members` that `may_disrupt`, with the budget computed once (pools can be large)."""
        budget = self.budget
        return [m for m in members if self.actionable(m) and (not m.available or budget > 0)]

    def zone_populations(self) -> Counter[str | None]:
        """VMs per zone after this pass: those staying plus those being created."""
        return Counter(m.instance.zone for m in self.remaining) + Counter(
            c.zone for c in self.planned_creates
        )

    def zone_disruptions(self) -> Counter[str | None]:
        """VMs per zone this pass already deleted or reimaged."""
        return Counter(m.instance.zone for m in self.members if m.name in self.touched)

    def with_replaced(self, names: Iterable[str]) -> PlanningPass:
        """Record which old VMs the strategy will replace (they do not count where VMs stay)."""
        return replace(self, replaced=frozenset(names))

    def with_delete(self, member: Member, reason: DeleteReason) -> PlanningPass:
        return replace(
            self,
            actions=(*self.actions, DeleteVM(member.name, reason)),
            touched=self.touched | {member.name},
            deleted=self.deleted | {member.name},
        )

    def with_reimage(self, member: Member) -> PlanningPass:
        action = ReimageVM(member.name, self.target.revision, self.target.image_version)
        return replace(self, actions=(*self.actions, action), touched=self.touched | {member.name})

    def with_create(self, reason: CreateReason) -> PlanningPass:
        action = CreateVM(
            self._emptiest_zone(), self.target.revision, self.target.image_version, reason
        )
        return replace(self, actions=(*self.actions, action))

    def _emptiest_zone(self) -> str | None:
        # Balance the pool the rollout converges to: old VMs about to be replaced do not count,
        # so a surge VM lands where the replacement is due, and the zone emptiest right now,
        # then the spec's order, breaks ties deterministically.
        if not self.zones:
            return None
        population = self.zone_populations()
        staying = population - Counter(
            m.instance.zone for m in self.remaining if m.name in self.replaced
        )
        return min(
            self.zones,
            key=lambda zone: (staying[zone], population[zone], self.zones.index(zone)),
        )
