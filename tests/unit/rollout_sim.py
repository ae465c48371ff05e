"""A small, pure fleet simulator for property tests of the rollout planner.

A `World` is a fake pool of VMs and a clock. `run` asks `plan_rollout` for a plan each step,
checks the plan against the invariants using the simulator's own ground truth, applies the
actions, and advances time: operations take a few steps, VMs become healthy after a delay that
depends on their revision (or never, for a bad revision), and, while `chaos` lasts, VMs flap,
fail provisioning, vanish out of band, and the pool is paused or outside its window. Randomness
comes from one seeded `random.Random`, so a failing example replays exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from vmroll.plan.availability import AppHealth, HealthSignals, PowerState, ProvisioningState
from vmroll.plan.fenceposts import resolve_fenceposts
from vmroll.plan.rollout import plan_rollout
from vmroll.plan.rollout_model import (
    CreateReason,
    CreateVM,
    DeleteReason,
    DeleteVM,
    InFlight,
    ObservedInstance,
    Plan,
    ReimagePairs,
    ReimageVM,
    RolloutHistory,
    RolloutSpec,
    RolloutStrategy,
    Target,
)

STEP = timedelta(seconds=30)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SimVM:
    name: str
    target: Target
    zone: str | None
    order: int
    op: InFlight = InFlight.NONE
    op_steps: int = 0
    failed: bool = False
    healthy_at: datetime | None = None
    healthy_since: datetime | None = None
    changed_at: datetime = EPOCH


@dataclass(frozen=True)
class Behaviour:
    """How the fake Azure behaves: health delay per revision (None: never healthy)."""

    healthy_after_steps: dict[str, int | None]
    chaos_steps: int = 0
    user_deletes_old: bool = False


@dataclass(frozen=True)
class World:
    now: datetime
    vms: tuple[SimVM, ...]
    history: RolloutHistory
    next_order: int = 0

    def available(self, spec: RolloutSpec) -> int:
        return sum(self.is_available(vm, spec) for vm in self.vms)

    def is_available(self, vm: SimVM, spec: RolloutSpec) -> bool:
        return (
            vm.op is InFlight.NONE
            and not vm.failed
            and vm.healthy_since is not None
            and self.now - vm.healthy_since >= timedelta(seconds=spec.min_ready_seconds)
        )

    def observe(self) -> tuple[ObservedInstance, ...]:
        return tuple(
            ObservedInstance(
                name=vm.name,
                revision=vm.target.revision,
                image_version=vm.target.image_version,
                zone=vm.zone,
                created_order=vm.order,
                health=_signals(vm),
                in_flight=vm.op,
            )
            for vm in self.vms
        )


def _signals(vm: SimVM) -> HealthSignals:
    provisioning = {
        InFlight.CREATE: ProvisioningState.CREATING,
        InFlight.REIMAGE: ProvisioningState.UPDATING,
        InFlight.DELETE: ProvisioningState.DELETING,
        InFlight.NONE: ProvisioningState.FAILED if vm.failed else ProvisioningState.SUCCEEDED,
    }[vm.op]
    healthy = vm.healthy_since is not None
    return HealthSignals(
        provisioning=provisioning,
        power=PowerState.RUNNING,
        agent_ready=healthy,
        app_health=AppHealth.HEALTHY if healthy else AppHealth.UNHEALTHY,
        healthy_since=vm.healthy_since,
        changed_at=vm.changed_at,
    )


def check_invariants(world: World, spec: RolloutSpec, plan: Plan, *, in_window: bool) -> None:
    """Fail with a message when the plan breaks a fence, acts on a busy VM, or rolls when held."""
    surge, unavailable = resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)
    ceiling, floor = spec.replicas + surge, max(0, spec.replicas - unavailable)
    by_name = {vm.name: vm for vm in world.vms}
    named = [a.name for a in plan.actions if not isinstance(a, CreateVM)]
    assert len(named) == len(set(named)), f"two actions on one VM: {plan.actions}"
    for name in named:
        assert by_name[name].op is InFlight.NONE, f"action on busy VM {name}: {plan.actions}"
    creates = sum(isinstance(a, CreateVM) for a in plan.actions)
    existing = len(world.vms)
    assert creates == 0 or existing + creates <= ceiling, (
        f"{existing} VMs + {creates} creates above ceiling {ceiling}"
    )
    before = world.available(spec)
    disrupted = sum(world.is_available(by_name[name], spec) for name in named)
    assert before - disrupted >= min(floor, before), (
        f"available {before} - {disrupted} disrupted below floor {floor}: {plan.actions}"
    )
    if spec.paused or not in_window or spec.strategy is RolloutStrategy.ON_DELETE:
        for action in plan.actions:
            assert not isinstance(action, ReimageVM), f"rollout while held: {action}"
            assert not isinstance(action, CreateVM) or action.reason is CreateReason.MISSING
            assert not isinstance(action, DeleteVM) or action.reason is not DeleteReason.REPLACED


def apply(world: World, plan: Plan, rng: random.Random) -> World:
    vms = {vm.name: vm for vm in world.vms}
    order = world.next_order
    for action in plan.actions:
        if isinstance(action, CreateVM):
            target = Target(action.revision, action.image_version)
            name = f"vm-{order}"
            vms[name] = SimVM(name, target, action.zone, order, InFlight.CREATE, rng.randint(1, 2))
            order += 1
        elif isinstance(action, DeleteVM):
            vms[action.name] = replace(vms[action.name], op=InFlight.DELETE, op_steps=1)
        else:
            target = Target(action.revision, action.image_version)
            vms[action.name] = replace(
                vms[action.name],
                target=target,
                op=InFlight.REIMAGE,
                op_steps=rng.randint(1, 2),
                healthy_since=None,
            )
    return replace(world, vms=tuple(vms.values()), next_order=order, history=plan.history)


def advance(world: World, behaviour: Behaviour, rng: random.Random, step: int) -> World:
    now = world.now + STEP
    chaos = step < behaviour.chaos_steps
    vms: list[SimVM] = []
    for vm in world.vms:
        if vm.op is not InFlight.NONE and vm.op_steps > 1:
            vms.append(replace(vm, op_steps=vm.op_steps - 1))
            continue
        if vm.op is InFlight.DELETE or (chaos and rng.random() < 0.03):
            continue
        if vm.op in (InFlight.CREATE, InFlight.REIMAGE):
            delay = behaviour.healthy_after_steps[vm.target.revision]
            failed = vm.op is InFlight.CREATE and chaos and rng.random() < 0.1
            vm = replace(
                vm,
                op=InFlight.NONE,
                op_steps=0,
                failed=failed,
                changed_at=now,
                healthy_since=None,
                healthy_at=None if delay is None or failed else now + delay * STEP,
            )
        if chaos and vm.healthy_since is not None and rng.random() < 0.05:
            vm = replace(vm, healthy_since=None, healthy_at=now + STEP)
        if vm.healthy_since is None and vm.healthy_at is not None and vm.healthy_at <= now:
            vm = replace(vm, healthy_since=now)
        vms.append(vm)
    return replace(world, now=now, vms=tuple(vms))


def user_deletes_an_old_vm(world: World, target: Target, rng: random.Random) -> World:
    """What a person does under OnDelete: delete one old VM now and then."""
    old = [vm for vm in world.vms if vm.target != target and vm.op is InFlight.NONE]
    if not old or rng.random() < 0.5:
        return world
    gone = rng.choice(old).name
    return replace(world, vms=tuple(vm for vm in world.vms if vm.name != gone))


Weather = Callable[[int, random.Random], tuple[bool, bool]]
"""(step, rng) -> (paused, in_window) for that step."""


def chaotic_weather(chaos_steps: int) -> Weather:
    """Paused or outside the window at random while chaos lasts, then clear."""

    def weather(step: int, rng: random.Random) -> tuple[bool, bool]:
        chaos = step < chaos_steps
        return chaos and rng.random() < 0.2, not (chaos and rng.random() < 0.2)

    return weather


def run(
    world: World,
    spec: RolloutSpec,
    behaviour: Behaviour,
    rng: random.Random,
    *,
    max_steps: int,
    pairs: ReimagePairs,
    done: Callable[[Plan], bool],
    weather: Weather | None = None,
) -> tuple[World, Plan, int]:
    """Plan, check, apply, advance until `done(plan)` or `max_steps`; returns the last state."""
    weather = weather or chaotic_weather(behaviour.chaos_steps)
    for step in range(max_steps):
        paused, in_window = weather(step, rng)
        held_spec = replace(spec, paused=spec.paused or paused)
        plan = plan_rollout(
            held_spec,
            world.observe(),
            world.history,
            world.now,
            in_window=in_window,
            reimage_pairs=pairs,
        )
        check_invariants(world, held_spec, plan, in_window=in_window)
        if done(plan):
            return world, plan, step
        world = apply(world, plan, rng)
        if behaviour.user_deletes_old:
            world = user_deletes_an_old_vm(world, plan.target, rng)
        world = advance(world, behaviour, rng, step)
    return world, plan, max_steps


def fleet(target: Target, count: int, zones: tuple[str, ...], *, healthy: bool) -> World:
    """`count` VMs on `target`, spread over `zones`, available (or never healthy) at EPOCH."""
    start = EPOCH - timedelta(hours=1)
    vms = tuple(
        SimVM(
            name=f"old-{i}",
            target=target,
            zone=zones[i % len(zones)] if zones else None,
            order=i,
            healthy_since=start if healthy else None,
            changed_at=start,
        )
        for i in range(count)
    )
    return World(now=EPOCH, vms=vms, history=RolloutHistory(), next_order=count)
