"""Named cases of one planning pass: scaling, repairs and each strategy's batches.

Each row is a fleet at NOW and the exact actions the planner must return, in order. Unless a row
says otherwise: 3 replicas, RollingReplace, maxSurge 1, maxUnavailable 0, no zones, previous
good revision rev-old, target rev-new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from rollout_builders import (
    AVAILABLE,
    FAILED,
    NEW,
    NOW,
    OLD,
    PLATFORM_FAILED,
    STARTING,
    UNHEALTHY,
    describe,
    new,
    spec,
    vm,
)

from vmroll.plan.rollout import plan_rollout
from vmroll.plan.rollout_model import (
    InFlight,
    ObservedInstance,
    ReimagePairs,
    RolloutHistory,
    RolloutPhase,
    RolloutSpec,
    RolloutStrategy,
    Target,
)

OLDER = Target("rev-older", "0.9.0")
REIMAGE = RolloutStrategy.ROLLING_REIMAGE
ZONES = ("1", "2", "3")
OLD_TO_NEW = ReimagePairs(frozenset({(OLD.revision, NEW.revision)}))
STEADY = RolloutHistory(previous_good=NEW)


@dataclass(frozen=True)
class Case:
    spec: RolloutSpec
    fleet: tuple[ObservedInstance, ...]
    actions: list[str]
    phase: RolloutPhase = RolloutPhase.PROGRESSING
    in_window: bool = True
    pairs: ReimagePairs = OLD_TO_NEW
    history: RolloutHistory = field(default_factory=lambda: RolloutHistory(previous_good=OLD))


def three_old() -> tuple[ObservedInstance, ...]:
    return (vm("o1"), vm("o2"), vm("o3"))


CASES = {
    # Scaling and repairs.
    "create-from-empty-one-per-zone": Case(
        spec(zones=ZONES),
        (),
        ["create 1 rev-new Missing", "create 2 rev-new Missing", "create 3 rev-new Missing"],
        history=RolloutHistory(),
    ),
    "scale-up-fills-the-emptiest-zone": Case(
        spec(replicas=4, zones=ZONES),
        (new("n1", zone="1"), new("n2", zone="1"), new("n3", zone="3")),
        ["create 2 rev-new Missing"],
        history=STEADY,
    ),
    "zone-ties-break-by-spec-order": Case(
        spec(replicas=1, zones=("b", "a")), (), ["create b rev-new Missing"]
    ),
    "scale-down-unhealthy-then-not-yet-available": Case(
        spec(replicas=2),
        (new("n1"), new("n2", UNHEALTHY), new("n3"), new("n4", STARTING)),
        ["delete n2 Surplus", "delete n4 Surplus"],
        history=STEADY,
    ),
    "scale-down-old-revision-first": Case(
        spec(replicas=2, strategy=RolloutStrategy.ON_DELETE),
        (new("n1"), vm("o2"), new("n3")),
        ["delete o2 Surplus"],
        phase=RolloutPhase.PROGRESSING,
    ),
    "scale-down-newest-first": Case(
        spec(replicas=1),
        (new("n1"), new("n2"), new("n3")),
        ["delete n3 Surplus", "delete n2 Surplus"],
        history=STEADY,
    ),
    "scale-down-fullest-zone-first": Case(
        spec(replicas=2, zones=("1", "2")),
        (new("n1", zone="1"), new("n2", zone="1"), new("n3", zone="2")),
        ["delete n2 Surplus"],
        history=STEADY,
    ),
    "scale-down-stops-at-the-floor-and-skips-busy": Case(
        spec(replicas=2),
        (new("n1"), new("n2"), new("n3"), new("n4", in_flight=InFlight.REIMAGE)),
        ["delete n3 Surplus"],
        history=STEADY,
    ),
    "vm-deleted-out-of-band-is-recreated": Case(
        spec(),
        (new("n1"), new("n2")),
        ["create - rev-new Missing"],
        history=STEADY,
    ),
    "failed-vm-replaced-within-surge": Case(
        spec(),
        (new("n1"), new("n2"), new("n3", FAILED)),
        ["delete n3 ProvisioningFailed", "create - rev-new Missing"],
        history=STEADY,
    ),
    "a-vm-failed-by-azure-is-replaced-the-same-way": Case(
        spec(),
        (new("n1"), new("n2"), new("n3", PLATFORM_FAILED)),
        ["delete n3 ProvisioningFailed", "create - rev-new Missing"],
        history=STEADY,
    ),
    "failed-vm-replacement-waits-for-room-without-surge": Case(
        spec(max_surge=0, max_unavailable=1),
        (new("n1"), new("n2"), new("n3", FAILED)),
        ["delete n3 ProvisioningFailed"],
        history=STEADY,
    ),
    "paused-still-scales-up-on-the-target": Case(
        spec(paused=True), (vm("o1"), vm("o2")), ["create - rev-new Missing"], RolloutPhase.PAUSED
    ),
    # RollingReplace.
    "replace-surge-1-first-batch-creates-only": Case(
        spec(), three_old(), ["create - rev-new Surge"]
    ),
    "replace-deletes-oldest-once-new-is-available": Case(
        spec(), (*three_old(), new("n4")), ["delete o1 Replaced"]
    ),
    "replace-25pct-of-10-surges-3-deletes-2": Case(
        spec(replicas=10, max_surge="25%", max_unavailable="25%"),
        tuple(vm(f"o{i:02}") for i in range(1, 11)),
        [*["create - rev-new Surge"] * 3, "delete o01 Replaced", "delete o02 Replaced"],
    ),
    "replace-without-surge-deletes-first": Case(
        spec(max_surge=0, max_unavailable=1), three_old(), ["delete o1 Replaced"]
    ),
    "replace-both-zero-acts-as-unavailable-1": Case(
        spec(max_surge=0, max_unavailable=0), three_old(), ["delete o1 Replaced"]
    ),
    "replace-unhealthy-old-goes-first-and-costs-nothing": Case(
        spec(max_surge=0, max_unavailable=1),
        (vm("o1"), vm("o2", UNHEALTHY), vm("o3")),
        ["delete o2 Replaced"],
    ),
    "replace-deleting-vm-still-counts-against-surge": Case(
        spec(), (vm("o1", in_flight=InFlight.DELETE), vm("o2"), vm("o3"), new("n4")), []
    ),
    "replace-batch-spreads-over-zones": Case(
        spec(replicas=6, max_surge=0, max_unavailable=3, zones=ZONES),
        tuple(vm(f"o{i}", zone=ZONES[(i - 1) % 3]) for i in range(1, 7)),
        ["delete o1 Replaced", "delete o2 Replaced", "delete o3 Replaced"],
    ),
    "replace-deletes-in-the-zone-that-got-the-new-vm": Case(
        spec(zones=ZONES),
        (vm("o1", zone="1"), vm("o2", zone="2"), vm("o3", zone="3"), new("n4", zone="3")),
        ["delete o3 Replaced"],
    ),
    "replace-surge-lands-where-replacement-is-due": Case(
        spec(zones=ZONES),
        (new("n1", zone="1"), vm("o2", zone="2"), vm("o3", zone="3")),
        ["create 2 rev-new Surge"],
    ),
    # RollingReimage.
    "reimage-unavailable-1-oldest-first": Case(
        spec(strategy=REIMAGE, max_surge=0, max_unavailable=1),
        three_old(),
        ["reimage o1 rev-new 2.0.0"],
    ),
    "reimage-unavailable-0-surges-a-temporary-vm": Case(
        spec(strategy=REIMAGE), three_old(), ["create - rev-new Surge"]
    ),
    "reimage-with-the-temporary-vm-available": Case(
        spec(strategy=REIMAGE), (*three_old(), new("n4")), ["reimage o1 rev-new 2.0.0"]
    ),
    "reimage-temporary-vm-removed-at-the-end": Case(
        spec(strategy=REIMAGE),
        (new("n1"), new("n2"), new("n3"), new("n4")),
        ["delete n4 Surplus"],
    ),
    "reimage-unhealthy-old-first": Case(
        spec(strategy=REIMAGE, max_surge=0, max_unavailable=1),
        (vm("o1"), vm("o2", UNHEALTHY), vm("o3")),
        ["reimage o2 rev-new 2.0.0"],
    ),
    "reimage-batch-spreads-over-zones": Case(
        spec(strategy=REIMAGE, replicas=6, max_surge=0, max_unavailable=2, zones=ZONES),
        tuple(vm(f"o{i}", zone=ZONES[(i - 1) % 3]) for i in range(1, 7)),
        ["reimage o1 rev-new 2.0.0", "reimage o2 rev-new 2.0.0"],
    ),
    "reimage-falls-back-to-replace-when-incompatible": Case(
        spec(strategy=REIMAGE, max_surge=0, max_unavailable=2),
        (vm("o1", target=OLDER), vm("o2"), vm("o3")),
        ["delete o1 Replaced", "reimage o2 rev-new 2.0.0"],
    ),
    "reimage-never-touches-a-busy-vm": Case(
        spec(strategy=REIMAGE, max_surge=0, max_unavailable=1),
        (vm("o1", in_flight=InFlight.REIMAGE), vm("o2"), vm("o3")),
        [],
    ),
    # OnDelete, windows, completion.
    "on-delete-leaves-old-vms-alone": Case(
        spec(strategy=RolloutStrategy.ON_DELETE), three_old(), [], RolloutPhase.AWAITING_DELETION
    ),
    "on-delete-creates-missing-on-the-target": Case(
        spec(strategy=RolloutStrategy.ON_DELETE),
        (vm("o1"), vm("o2")),
        ["create - rev-new Missing"],
        RolloutPhase.AWAITING_DELETION,
    ),
    "outside-window-no-batch": Case(
        spec(), three_old(), [], RolloutPhase.WAITING_FOR_WINDOW, in_window=False
    ),
    "outside-window-still-creates-missing": Case(
        spec(),
        (vm("o1"), vm("o2")),
        ["create - rev-new Missing"],
        RolloutPhase.WAITING_FOR_WINDOW,
        in_window=False,
    ),
    "paused-no-batch": Case(spec(paused=True), three_old(), [], RolloutPhase.PAUSED),
    "complete": Case(spec(), (new("n1"), new("n2"), new("n3")), [], RolloutPhase.COMPLETE),
    "not-complete-while-a-delete-is-in-flight": Case(
        spec(), (new("n1"), new("n2"), new("n3"), new("n4", in_flight=InFlight.DELETE)), []
    ),
    "scale-to-zero": Case(
        spec(replicas=0),
        (new("n1"), vm("o2")),
        ["delete o2 Surplus", "delete n1 Surplus"],
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_plan(case: Case) -> None:
    plan = plan_rollout(
        case.spec,
        case.fleet,
        case.history,
        NOW,
        in_window=case.in_window,
        reimage_pairs=case.pairs,
    )
    assert describe(plan.actions) == case.actions
    assert plan.phase is case.phase


def test_fallback_to_replace_is_reported() -> None:
    fleet = (vm("o1", target=OLDER), vm("o2"), vm("o3"))
    plan = plan_rollout(
        spec(strategy=REIMAGE, max_surge=0, max_unavailable=2),
        fleet,
        RolloutHistory(previous_good=OLD),
        NOW,
        reimage_pairs=OLD_TO_NEW,
    )
    assert plan.facts.replaced_instead_of_reimaged == ("o1",)
    assert plan.up_next == ("o3",)


def test_status_of_a_pass() -> None:
    fleet = (
        vm("o1"),
        vm("o2", in_flight=InFlight.DELETE),
        new("n3"),
        new("n4", STARTING),
        new("n5", in_flight=InFlight.CREATE),
    )
    plan = plan_rollout(spec(replicas=4), fleet, RolloutHistory(previous_good=OLD), NOW)
    assert (plan.counts.replicas, plan.counts.ready, plan.counts.updated) == (4, 2, 3)
    assert plan.counts.available == 2
    assert (plan.current_revision, plan.update_revision) == (OLD.revision, NEW.revision)
    assert plan.up_next == ("o1",)
    assert plan.facts.below_availability_floor
    assert (plan.facts.surge, plan.facts.max_unavailable) == (1, 0)
    assert [(r.name, r.readiness, r.updated) for r in plan.instances][:2] == [
        ("n3", AVAILABLE, True),
        ("n4", STARTING, True),
    ]


def test_completion_records_the_new_good_revision() -> None:
    plan = plan_rollout(
        spec(), (new("n1"), new("n2"), new("n3")), RolloutHistory(previous_good=OLD), NOW
    )
    assert plan.history.previous_good == NEW
    assert plan.current_revision == NEW.revision


def test_bad_fenceposts_are_refused() -> None:
    with pytest.raises(ValueError, match="maxUnavailable must not exceed 100%"):
        plan_rollout(spec(max_unavailable="150%"), (), RolloutHistory(), NOW)


@pytest.mark.parametrize(
    ("deadline", "min_ready"),
    [pytest.param(60, 60, id="equal"), pytest.param(0, 0, id="zero")],
)
def test_deadline_must_exceed_min_ready(deadline: int, min_ready: int) -> None:
    with pytest.raises(ValueError, match="must be greater than minReadySeconds"):
        spec(progress_deadline_seconds=deadline, min_ready_seconds=min_ready)
