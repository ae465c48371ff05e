"""Properties of the rollout planner: one pass over any fleet, and whole simulated rollouts.

One pass over any fleet, reachable or not, keeps the fences and does not depend on the order
Azure lists VMs in. In whole runs the simulator checks the same invariants at every step (and no
rollout while paused or outside a window); these tests add that runs end where they should: a
good revision completes with zones balanced, a bad one is rolled back, a held pool only scales.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from hypothesis import given, settings
from hypothesis import strategies as st
from rollout_builders import NEW, NOW, OLD, spec, vm
from rollout_sim import Behaviour, World, fleet, run

from vmroll.plan.availability import Readiness
from vmroll.plan.rollout import plan_rollout
from vmroll.plan.rollout_model import (
    CreateVM,
    InFlight,
    ObservedInstance,
    Plan,
    ReimagePairs,
    RollbackPolicy,
    RolloutHistory,
    RolloutPhase,
    RolloutSpec,
    RolloutStrategy,
    Target,
)

OLDER = Target("rev-older", "0.9.0")
BOTH_WAYS = ReimagePairs(frozenset({(OLD.revision, NEW.revision), (NEW.revision, OLD.revision)}))


@dataclass(frozen=True)
class Scenario:
    spec: RolloutSpec
    world: World
    pairs: ReimagePairs
    seed: int


fenceposts = st.one_of(st.integers(0, 2), st.sampled_from(["0%", "25%", "50%", "100%"]))


@st.composite
def scenarios(draw: st.DrawFn, *, replicas: st.SearchStrategy[int], on_failure: bool) -> Scenario:
    count = draw(replicas)
    zones = draw(st.sampled_from([(), ("1",), ("1", "2", "3")]))
    strategy = draw(
        st.sampled_from([RolloutStrategy.ROLLING_REPLACE, RolloutStrategy.ROLLING_REIMAGE])
        if on_failure
        else st.sampled_from(RolloutStrategy)
    )
    deadline = draw(st.sampled_from([None, 900, 1800]))
    # A rollback needs a trigger: a deadline, or a share of unhealthy VMs below 100%.
    max_unhealthy = draw(st.integers(0, 100 if deadline else 99))
    spec = RolloutSpec(
        replicas=count,
        target=NEW,
        strategy=strategy,
        max_surge=draw(fenceposts),
        max_unavailable=draw(fenceposts),
        min_ready_seconds=draw(st.sampled_from([0, 30, 60])),
        progress_deadline_seconds=deadline,
        rollback=RollbackPolicy(on_failure, max_unhealthy),
        zones=zones,
        health_grace_seconds=draw(st.sampled_from([60, 120])),
    )
    initial = count if on_failure else draw(st.integers(0, 7))
    world = fleet(OLD, initial, zones, healthy=on_failure or draw(st.booleans()))
    world = World(world.now, world.vms, RolloutHistory(previous_good=OLD), world.next_order)
    pairs = BOTH_WAYS if draw(st.booleans()) else ReimagePairs()
    return Scenario(spec, world, pairs, draw(st.integers(0, 2**32 - 1)))


def finished(plan: Plan) -> bool:
    return plan.phase in (RolloutPhase.COMPLETE, RolloutPhase.ROLLED_BACK)


@settings(max_examples=300, deadline=None)
@given(
    scenario=scenarios(replicas=st.integers(0, 6), on_failure=False),
    chaos_steps=st.integers(0, 12),
    on_failure=st.booleans(),
)
def test_a_good_revision_always_completes(
    scenario: Scenario, chaos_steps: int, on_failure: bool
) -> None:
    # With rollback on, chaos is off and VMs turn healthy within their grace period: nothing
    # then justifies a rollback, so one would be a false alarm (a VM busy with an operation,
    # say, taken for unhealthy).
    spec = replace(scenario.spec, rollback=replace(scenario.spec.rollback, on_failure=on_failure))
    chaos_steps = 0 if on_failure else chaos_steps
    rng = random.Random(scenario.seed)
    behaviour = Behaviour(
        healthy_after_steps={
            OLD.revision: rng.randint(0, 2),
            NEW.revision: rng.randint(0, 1 if on_failure else 3),
        },
        chaos_steps=chaos_steps,
        user_deletes_old=spec.strategy is RolloutStrategy.ON_DELETE,
    )
    bound = 40 + chaos_steps + 20 * max(spec.replicas, len(scenario.world.vms))
    world, plan, steps = run(
        scenario.world, spec, behaviour, rng, max_steps=bound, pairs=scenario.pairs, done=finished
    )
    assert plan.phase is RolloutPhase.COMPLETE, f"{plan.phase} after {steps} steps: {world.vms}"
    assert len(world.vms) == spec.replicas
    assert all(vm.target == NEW and world.is_available(vm, spec) for vm in world.vms)
    assert plan.history.previous_good == NEW
    assert plan.actions == ()


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios(replicas=st.integers(1, 6), on_failure=True))
def test_a_revision_that_never_becomes_healthy_is_rolled_back(scenario: Scenario) -> None:
    spec = scenario.spec
    rng = random.Random(scenario.seed)
    behaviour = Behaviour(healthy_after_steps={OLD.revision: 1, NEW.revision: None})
    bound = 120 + 20 * spec.replicas
    world, plan, steps = run(
        scenario.world, spec, behaviour, rng, max_steps=bound, pairs=scenario.pairs, done=finished
    )
    assert plan.phase is RolloutPhase.ROLLED_BACK, f"{plan.phase} after {steps} steps: {world.vms}"
    assert NEW.revision in plan.history.known_bad
    assert plan.history.previous_good == OLD
    assert len(world.vms) == spec.replicas
    assert all(vm.target == OLD and world.is_available(vm, spec) for vm in world.vms)


@settings(max_examples=150, deadline=None)
@given(
    scenario=scenarios(replicas=st.integers(0, 6), on_failure=False),
    chaos_steps=st.integers(0, 12),
    paused=st.booleans(),
)
def test_a_held_pool_still_scales_and_repairs_but_never_rolls(
    scenario: Scenario, chaos_steps: int, paused: bool
) -> None:
    spec = replace(scenario.spec, paused=paused)
    rng = random.Random(scenario.seed)
    behaviour = Behaviour({OLD.revision: 1, NEW.revision: 1}, chaos_steps=chaos_steps)
    phases: set[RolloutPhase] = set()

    def watch(plan: Plan) -> bool:
        phases.add(plan.phase)
        return False

    world, plan, _ = run(
        scenario.world,
        spec,
        behaviour,
        rng,
        max_steps=60 + chaos_steps,
        pairs=scenario.pairs,
        done=watch,
        # Paused throughout, or unpaused but never inside a maintenance window.
        weather=lambda _step, _rng: (paused, False),
    )
    assert not phases & {RolloutPhase.DEADLINE_EXCEEDED, RolloutPhase.ROLLING_BACK}
    assert not plan.history.known_bad
    surge = plan.facts.surge
    assert spec.replicas <= len(world.vms) <= spec.replicas + surge
    assert not any(vm.failed for vm in world.vms)
    # Held pools get new VMs only where VMs are missing, and no old VM is reimaged.
    assert all(vm.target == OLD for vm in world.vms if vm.name.startswith("old-"))


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios(replicas=st.integers(0, 9), on_failure=False))
def test_a_replacing_rollout_leaves_zones_balanced(scenario: Scenario) -> None:
    spec = replace(scenario.spec, zones=("1", "2", "3"), strategy=RolloutStrategy.ROLLING_REPLACE)
    rng = random.Random(scenario.seed)
    behaviour = Behaviour({OLD.revision: 1, NEW.revision: rng.randint(0, 3)})
    start = fleet(OLD, len(scenario.world.vms), spec.zones, healthy=True)
    start = replace(start, history=scenario.world.history)
    bound = 40 + 20 * max(spec.replicas, len(start.vms))
    world, plan, _ = run(
        start, spec, behaviour, rng, max_steps=bound, pairs=scenario.pairs, done=finished
    )
    assert plan.phase is RolloutPhase.COMPLETE
    per_zone = [sum(vm.zone == zone for vm in world.vms) for zone in spec.zones]
    assert max(per_zone) - min(per_zone) <= 1, per_zone


@st.composite
def observed_fleets(draw: st.DrawFn) -> tuple[ObservedInstance, ...]:
    """Any fleet, reachable or not: mixed revisions, zones, readiness and operations."""
    size = draw(st.integers(0, 10))
    return tuple(
        vm(
            f"vm{i}",
            draw(st.sampled_from(Readiness)),
            target=draw(st.sampled_from([OLD, NEW, OLDER])),
            zone=draw(st.sampled_from([None, "1", "2", "3"])),
            in_flight=draw(st.sampled_from(InFlight)),
        )
        for i in range(size)
    )


one_pass_specs = st.builds(
    spec,
    replicas=st.integers(0, 8),
    strategy=st.sampled_from(RolloutStrategy),
    max_surge=fenceposts,
    max_unavailable=fenceposts,
    paused=st.booleans(),
    zones=st.sampled_from([(), ("1", "2", "3")]),
    rollback=st.builds(RollbackPolicy, st.booleans(), st.integers(0, 100)),
)


@settings(max_examples=400, deadline=None)
@given(
    rollout=one_pass_specs,
    observed=observed_fleets(),
    in_window=st.booleans(),
    good=st.sampled_from([None, OLD, OLDER]),
    pairs=st.sampled_from([ReimagePairs(), BOTH_WAYS]),
    order=st.randoms(use_true_random=False),
)
def test_one_pass_over_any_fleet_keeps_the_fences(
    rollout: RolloutSpec,
    observed: tuple[ObservedInstance, ...],
    in_window: bool,
    good: Target | None,
    pairs: ReimagePairs,
    order: random.Random,
) -> None:
    history = RolloutHistory(previous_good=good)
    plan = plan_rollout(rollout, observed, history, NOW, in_window=in_window, reimage_pairs=pairs)
    surge, unavailable = plan.facts.surge, plan.facts.max_unavailable
    ceiling, floor = rollout.replicas + surge, max(0, rollout.replicas - unavailable)
    by_name = {i.name: i for i in observed}
    named = [a.name for a in plan.actions if not isinstance(a, CreateVM)]
    assert len(named) == len(set(named))
    assert all(by_name[name].in_flight is InFlight.NONE for name in named)
    creates = len(plan.actions) - len(named)
    assert creates == 0 or len(observed) + creates <= ceiling
    available = {r.name for r in plan.instances if r.readiness is Readiness.AVAILABLE} - {
        i.name for i in observed if i.in_flight is not InFlight.NONE
    }
    disrupted = len(available & set(named))
    assert len(available) - disrupted >= min(floor, len(available))
    assert plan.counts.available == len(available)
    shuffled = list(observed)
    order.shuffle(shuffled)
    assert (
        plan_rollout(rollout, shuffled, history, NOW, in_window=in_window, reimage_pairs=pairs)
        == plan
    )
