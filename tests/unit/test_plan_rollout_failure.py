"""Named cases of progress deadlines, unhealthy shares and rollback, with an injected clock.

Unless a row says otherwise: 3 replicas, RollingReplace, maxSurge 1, maxUnavailable 0,
progressDeadlineSeconds 600, rollback on failure above 20% unhealthy, target rev-new,
previous good rev-old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from rollout_builders import (
    FAILED,
    NEW,
    NOW,
    OLD,
    PLATFORM_FAILED,
    STARTING,
    UNHEALTHY,
    ago,
    describe,
    new,
    spec,
    vm,
)

from vmroll.plan.rollout import NO_REIMAGE, plan_rollout
from vmroll.plan.rollout_model import (
    CreateVM,
    InFlight,
    ObservedInstance,
    ReimagePairs,
    ReimageVM,
    RollbackPolicy,
    RolloutHistory,
    RolloutPhase,
    RolloutProgress,
    RolloutSpec,
    RolloutStrategy,
    Target,
)

MIDWAY = (new("n1"), vm("o2"), vm("o3"))


def stalled_since(seconds: int, *, updated_available: int = 1, old: int = 2) -> RolloutProgress:
    """A record for rev-new whose last progress was `seconds` ago, matching MIDWAY's counts."""
    return RolloutProgress(NEW.revision, ago(7200), ago(seconds), updated_available, old)


def history(
    progress: RolloutProgress | None = None,
    *,
    good: Target | None = OLD,
    bad: frozenset[str] = frozenset(),
) -> RolloutHistory:
    return RolloutHistory(previous_good=good, known_bad=bad, progress=progress)


@dataclass(frozen=True)
class Case:
    spec: RolloutSpec
    fleet: tuple[ObservedInstance, ...]
    history: RolloutHistory
    phase: RolloutPhase
    target: Target
    in_window: bool = True


NO_ROLLBACK = RollbackPolicy(on_failure=False, max_unhealthy_percent=20)

CASES = {
    "deadline-not-reached": Case(
        spec(), MIDWAY, history(stalled_since(599)), RolloutPhase.PROGRESSING, NEW
    ),
    "deadline-exactly-reached-is-not-exceeded": Case(
        spec(), MIDWAY, history(stalled_since(600)), RolloutPhase.PROGRESSING, NEW
    ),
    "deadline-exceeded-without-rollback": Case(
        spec(rollback=NO_ROLLBACK),
        MIDWAY,
        history(stalled_since(601)),
        RolloutPhase.DEADLINE_EXCEEDED,
        NEW,
    ),
    "deadline-exceeded-rolls-back": Case(
        spec(), MIDWAY, history(stalled_since(601)), RolloutPhase.ROLLING_BACK, OLD
    ),
    "no-deadline-never-exceeds": Case(
        spec(progress_deadline_seconds=None, rollback=NO_ROLLBACK),
        MIDWAY,
        history(stalled_since(10**6)),
        RolloutPhase.PROGRESSING,
        NEW,
    ),
    "progress-since-the-record-is-not-a-timeout": Case(
        spec(),
        (new("n1"), new("n2"), vm("o3")),
        history(stalled_since(601)),
        RolloutPhase.PROGRESSING,
        NEW,
    ),
    "paused-never-times-out": Case(
        spec(paused=True), MIDWAY, history(stalled_since(10**6)), RolloutPhase.PAUSED, NEW
    ),
    "outside-window-never-times-out": Case(
        spec(),
        MIDWAY,
        history(stalled_since(10**6)),
        RolloutPhase.WAITING_FOR_WINDOW,
        NEW,
        in_window=False,
    ),
    "deadline-without-previous-good-cannot-roll-back": Case(
        spec(),
        (new("n1"), new("n2", STARTING)),
        history(stalled_since(601, old=0), good=None),
        RolloutPhase.DEADLINE_EXCEEDED,
        NEW,
    ),
    "deadline-exceeded-with-a-previous-that-cannot-be-rebuilt": Case(
        spec(previous_rebuildable=False),
        MIDWAY,
        history(stalled_since(601)),
        RolloutPhase.DEADLINE_EXCEEDED,
        NEW,
    ),
    "unhealthy-share-with-a-previous-that-cannot-be-rebuilt": Case(
        spec(previous_rebuildable=False),
        (new("n1", UNHEALTHY), vm("o2"), vm("o3")),
        history(),
        RolloutPhase.PROGRESSING,
        NEW,
    ),
    "known-bad-with-a-previous-that-cannot-be-rebuilt": Case(
        spec(previous_rebuildable=False),
        MIDWAY,
        history(bad=frozenset({NEW.revision})),
        RolloutPhase.PROGRESSING,
        NEW,
    ),
    "unhealthy-share-above-limit-rolls-back": Case(
        spec(),
        (new("n1", UNHEALTHY), vm("o2"), vm("o3")),
        history(),
        RolloutPhase.ROLLING_BACK,
        OLD,
    ),
    "starting-vms-are-not-unhealthy": Case(
        spec(), (new("n1", STARTING), vm("o2"), vm("o3")), history(), RolloutPhase.PROGRESSING, NEW
    ),
    "a-vm-busy-being-reimaged-is-not-unhealthy": Case(
        spec(),
        (new("n1", UNHEALTHY, in_flight=InFlight.REIMAGE), vm("o2"), vm("o3")),
        history(),
        RolloutPhase.PROGRESSING,
        NEW,
    ),
    "one-in-three-is-not-above-50pct": Case(
        spec(rollback=RollbackPolicy(on_failure=True, max_unhealthy_percent=50)),
        (new("n1", UNHEALTHY), new("n2"), new("n3"), vm("o4")),
        history(),
        RolloutPhase.PROGRESSING,
        NEW,
    ),
    "one-in-three-is-above-33pct": Case(
        spec(rollback=RollbackPolicy(on_failure=True, max_unhealthy_percent=33)),
        (new("n1", UNHEALTHY), new("n2"), new("n3"), vm("o4")),
        history(),
        RolloutPhase.ROLLING_BACK,
        OLD,
    ),
    "a-failed-provisioning-is-held-against-the-revision": Case(
        spec(), (new("n1", FAILED), vm("o2"), vm("o3")), history(), RolloutPhase.ROLLING_BACK, OLD
    ),
    "azures-own-provisioning-failure-is-not-held-against-the-revision": Case(
        spec(),
        (new("n1", PLATFORM_FAILED), vm("o2"), vm("o3")),
        history(),
        RolloutPhase.PROGRESSING,
        NEW,
    ),
    "unhealthy-share-without-on-failure-keeps-going": Case(
        spec(rollback=NO_ROLLBACK),
        (new("n1", UNHEALTHY), vm("o2"), vm("o3")),
        history(),
        RolloutPhase.PROGRESSING,
        NEW,
    ),
    "paused-does-not-roll-back": Case(
        spec(paused=True),
        (new("n1", UNHEALTHY), vm("o2"), vm("o3")),
        history(),
        RolloutPhase.PAUSED,
        NEW,
    ),
    "known-bad-keeps-rolling-back": Case(
        spec(), MIDWAY, history(bad=frozenset({NEW.revision})), RolloutPhase.ROLLING_BACK, OLD
    ),
    "known-bad-rolled-back-when-done": Case(
        spec(),
        (vm("o1"), vm("o2"), vm("o3")),
        history(bad=frozenset({NEW.revision})),
        RolloutPhase.ROLLED_BACK,
        OLD,
    ),
    "known-bad-without-previous-good-stays": Case(
        spec(),
        MIDWAY,
        history(good=None, bad=frozenset({NEW.revision})),
        RolloutPhase.PROGRESSING,
        NEW,
    ),
    "unchanged-spec-does-not-roll-back-to-itself": Case(
        spec(),
        (new("n1", UNHEALTHY), new("n2"), new("n3")),
        history(good=NEW),
        RolloutPhase.PROGRESSING,
        NEW,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_failure_handling(case: Case) -> None:
    plan = plan_rollout(case.spec, case.fleet, case.history, NOW, in_window=case.in_window)
    assert plan.phase is case.phase
    assert plan.target == case.target
    assert plan.update_revision == case.target.revision


def test_rollback_marks_the_revision_bad_and_rolls_towards_the_good_one() -> None:
    plan = plan_rollout(spec(), (new("n1", UNHEALTHY), vm("o2"), vm("o3")), history(), NOW)
    assert plan.facts.rollback_started
    assert plan.facts.rolled_back_from == NEW
    assert plan.facts.unhealthy_updated == ("n1",)
    assert plan.history.known_bad == {NEW.revision}
    assert plan.history.previous_good == OLD
    assert describe(plan.actions) == ["create - rev-old Surge", "delete n1 Replaced"]
    assert plan.history.progress == RolloutProgress(OLD.revision, NOW, NOW, 2, 1)


def test_rollback_in_progress_is_not_restarted() -> None:
    plan = plan_rollout(spec(), MIDWAY, history(bad=frozenset({NEW.revision})), NOW)
    assert not plan.facts.rollback_started
    assert plan.facts.rolled_back_from == NEW


def test_a_new_target_starts_a_progress_record() -> None:
    record = RolloutProgress("rev-previous", ago(9000), ago(9000), 3, 0)
    plan = plan_rollout(spec(), MIDWAY, history(record), NOW)
    assert plan.history.progress == RolloutProgress(NEW.revision, NOW, NOW, 1, 2)


@pytest.mark.parametrize(
    ("fleet", "last_progress"),
    [
        pytest.param(MIDWAY, ago(100), id="no-change-keeps-the-clock"),
        pytest.param((new("n1"), new("n2"), vm("o3")), NOW, id="more-updated-available"),
        pytest.param((new("n1"), vm("o2")), NOW, id="fewer-old"),
        pytest.param((new("n1", STARTING), vm("o2"), vm("o3")), ago(100), id="fewer-available"),
    ],
)
def test_progress_is_more_updated_available_or_fewer_old(
    fleet: tuple[ObservedInstance, ...], last_progress: datetime
) -> None:
    plan = plan_rollout(spec(), fleet, history(stalled_since(100)), NOW)
    assert plan.history.progress is not None
    assert plan.history.progress.last_progress_at == last_progress
    assert plan.history.progress.started_at == ago(7200)


def test_a_long_complete_pool_scaling_up_is_not_timed_out() -> None:
    done = (new("n1"), new("n2"), new("n3"))
    record = RolloutProgress(NEW.revision, ago(10**6), ago(10**6), 3, 0)
    complete = plan_rollout(spec(), done, history(record, good=NEW), NOW)
    assert complete.phase is RolloutPhase.COMPLETE
    scaled = plan_rollout(spec(replicas=5), done, complete.history, NOW)
    assert scaled.phase is RolloutPhase.PROGRESSING
    assert not scaled.facts.deadline_exceeded
    assert describe(scaled.actions) == ["create - rev-new Missing"] * 2


@pytest.mark.parametrize("held", ["paused", "outside-window"])
def test_the_first_pass_after_a_long_hold_restarts_the_clock(held: str) -> None:
    """A pool outside its window is next visited when the window opens, hours later: that
    pass must not judge the rollout against the hours it was held."""
    paused = held == "paused"
    waiting = plan_rollout(
        spec(paused=paused), MIDWAY, history(stalled_since(10)), ago(4 * 3600), in_window=paused
    )
    assert waiting.history.progress is not None
    assert waiting.history.progress.stopped
    resumed = plan_rollout(spec(), MIDWAY, waiting.history, NOW)
    assert resumed.phase is RolloutPhase.PROGRESSING
    assert not resumed.facts.deadline_exceeded
    assert resumed.facts.rolled_back_from is None
    assert resumed.history.progress is not None
    assert resumed.history.progress.last_progress_at == NOW
    assert not resumed.history.progress.stopped


def test_a_known_bad_revision_is_forgotten_once_the_spec_moves_on() -> None:
    newer = Target("rev-newer", "3.0.0")
    bad = history(bad=frozenset({NEW.revision}))
    plan = plan_rollout(spec(target=newer), MIDWAY, bad, NOW)
    assert plan.target == newer
    assert plan.history.known_bad == frozenset()
    assert plan.phase is RolloutPhase.PROGRESSING


ROLLING_BACK = history(bad=frozenset({NEW.revision}))


@pytest.mark.parametrize(
    ("strategy", "fleet", "pairs", "before", "expected"),
    [
        pytest.param(
            RolloutStrategy.ROLLING_REPLACE, (new("n1", UNHEALTHY), vm("o2"), vm("o3")), NO_REIMAGE,
            history(), ["create - rev-old 1.0.0"], id="replace-creates-the-previous-version",
        ),
        pytest.param(
            RolloutStrategy.ROLLING_REIMAGE, (new("n1", UNHEALTHY), new("n2", UNHEALTHY), vm("o3")),
            ReimagePairs(frozenset({(NEW.revision, OLD.revision)})), history(),
            ["reimage n1 rev-old 1.0.0", "reimage n2 rev-old 1.0.0"],
            id="reimage-back-to-the-previous-version",
        ),
        pytest.param(
            RolloutStrategy.ROLLING_REIMAGE, (vm("o3"),), NO_REIMAGE, ROLLING_BACK,
            ["create - rev-old 1.0.0"] * 2, id="replaced-by-the-previous-version",
        ),
    ],
)  # fmt: skip
def test_a_rollback_writes_the_previous_revisions_image(
    strategy: RolloutStrategy,
    fleet: tuple[ObservedInstance, ...],
    pairs: ReimagePairs,
    before: RolloutHistory,
    expected: list[str],
) -> None:
    """Whatever the spec's target is now, every VM a rollback writes is the previous good
    revision at its own image version, never the failed one."""
    reimage = strategy is RolloutStrategy.ROLLING_REIMAGE
    rolling = spec(strategy=strategy, max_surge=0 if reimage else 1,
                   max_unavailable=1 if reimage else 0)  # fmt: skip
    plan = plan_rollout(rolling, fleet, before, NOW, reimage_pairs=pairs)
    written = [
        f"{'reimage ' + a.name if isinstance(a, ReimageVM) else 'create -'} "
        f"{a.revision} {a.image_version}"
        for a in plan.actions
        if isinstance(a, CreateVM | ReimageVM)
    ]
    assert written == expected
    assert plan.target == OLD
    assert plan.facts.rolled_back_from == NEW
