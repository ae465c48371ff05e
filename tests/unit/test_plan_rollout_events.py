"""Which events a pass posts, for plans the real planner makes: one row per transition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from rollout_builders import NEW, NOW, OLD, STARTING, ago, new, spec, vm

from vmroll.plan.rollout import (
    ObservedInstance,
    Plan,
    ReimagePairs,
    RolloutHistory,
    RolloutStrategy,
    Target,
    plan_rollout,
)
from vmroll.plan.rollout_events import (
    Before,
    EventType,
    PassContext,
    RecordedRollout,
    format_duration,
    rollout_events,
)

WINDOW = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)
REIMAGE = ReimagePairs(frozenset({(OLD.revision, NEW.revision)}))
GOOD = RolloutHistory(previous_good=OLD)


def _reimage_plan(*instances: ObservedInstance, in_window: bool = True, replicas: int = 6) -> Plan:
    rollout = spec(
        replicas=replicas, strategy=RolloutStrategy.ROLLING_REIMAGE, max_surge=0, max_unavailable=2
    )
    return plan_rollout(rollout, instances, GOOD, NOW, in_window=in_window, reimage_pairs=REIMAGE)


def _before(
    newest: Target | None,
    *,
    in_progress: bool = False,
    previous: str = "",
    generation: int = 2,
    waiting: bool = False,
) -> Before:
    record = (
        None
        if newest is None
        else RecordedRollout(newest.revision, newest.image_version, ago(192), in_progress)
    )
    return Before(record, previous, generation, waiting)


def _context(generation: int = 2, replicas: int = 6) -> PassContext:
    return PassContext(generation, replicas, NOW, WINDOW)


def _lines(before: Before, plan: Plan, context: PassContext) -> list[str]:
    return [
        f"{e.type.value} {e.reason.value}: {e.message}"
        for e in rollout_events(before, plan, context)
    ]


OLD6 = [vm(f"web-{i}") for i in range(1, 7)]


@dataclass(frozen=True)
class Row:
    name: str
    before: Before
    plan: Plan
    context: PassContext
    expected: list[str]


ROWS = [
    Row(
        "a spec change starts a rollout and its first batch",
        _before(OLD, generation=1),
        _reimage_plan(*OLD6),
        _context(generation=2),
        [
            "Normal RolloutStarted: rolling out image version 2.0.0 (revision rev-new) over "
            "1.0.0: the spec changed (generation 2)",
            "Normal RolloutBatch: batch 1 of 3: reimaging web-1, web-2",
        ],
    ),
    Row(
        "a newer latest with the same spec names the publication",
        _before(OLD),
        _reimage_plan(*OLD6),
        _context(),
        [
            "Normal RolloutStarted: rolling out image version 2.0.0 (revision rev-new) over "
            "1.0.0: a newer image version was published and the pool tracks the latest",
            "Normal RolloutBatch: batch 1 of 3: reimaging web-1, web-2",
        ],
    ),
    Row(
        "a newer latest that an ImageCapture produced names the capture",
        _before(OLD),
        _reimage_plan(*OLD6),
        PassContext(2, 6, NOW, WINDOW, captured_by="team-a/golden-2026-11-29"),
        [
            "Normal RolloutStarted: rolling out image version 2.0.0 (revision rev-new) over "
            "1.0.0: a newer image version was published and the pool tracks the latest "
            "(captured by ImageCapture team-a/golden-2026-11-29)",
            "Normal RolloutBatch: batch 1 of 3: reimaging web-1, web-2",
        ],
    ),
    Row(
        "the second batch, once the first is back",
        _before(NEW, in_progress=True, previous="1.0.0"),
        _reimage_plan(new("web-1"), new("web-2"), *OLD6[2:]),
        _context(),
        ["Normal RolloutBatch: batch 2 of 3: reimaging web-3, web-4"],
    ),
    Row(
        "the capture is named once, when the rollout starts",
        _before(NEW, in_progress=True, previous="1.0.0"),
        _reimage_plan(new("web-1"), new("web-2"), *OLD6[2:]),
        PassContext(2, 6, NOW, WINDOW, captured_by="team-a/golden-2026-11-29"),
        ["Normal RolloutBatch: batch 2 of 3: reimaging web-3, web-4"],
    ),
    Row(
        "a batch in flight is not posted again",
        _before(NEW, in_progress=True, previous="1.0.0"),
        _reimage_plan(new("web-1", STARTING), new("web-2", STARTING), *OLD6[2:]),
        _context(),
        [],
    ),
    Row(
        "the last VMs moved: completion with versions, count and time",
        _before(NEW, in_progress=True, previous="1.0.0"),
        _reimage_plan(*(new(f"web-{i}") for i in range(1, 7))),
        _context(),
        ["Normal RolloutComplete: rolled 6 VMs from 1.0.0 to 2.0.0 in 3m12s"],
    ),
    Row(
        "a complete rollout already recorded as such posts nothing",
        _before(NEW, in_progress=False, previous="1.0.0"),
        _reimage_plan(*(new(f"web-{i}") for i in range(1, 7))),
        _context(),
        [],
    ),
    Row(
        "a new pool's first rollout completes without a from-version",
        _before(NEW, in_progress=True),
        _reimage_plan(*(new(f"web-{i}") for i in range(1, 4)), replicas=3),
        _context(replicas=3),
        ["Normal RolloutComplete: rolled 3 VMs to 2.0.0 in 3m12s"],
    ),
    Row(
        "a pool that never rolled out starts nothing",
        _before(None),
        _reimage_plan(*OLD6),
        _context(),
        ["Normal RolloutBatch: batch 1 of 3: reimaging web-1, web-2"],
    ),
    Row(
        "outside its window a rollout starts and says when the window opens",
        _before(OLD, generation=1),
        _reimage_plan(*OLD6, in_window=False),
        _context(generation=2),
        [
            "Normal RolloutStarted: rolling out image version 2.0.0 (revision rev-new) over "
            "1.0.0: the spec changed (generation 2)",
            "Normal WaitingForMaintenanceWindow: the rollout to image version 2.0.0 (revision "
            "rev-new) waits for a maintenance window: the next window opens at "
            "2026-01-01T20:00:00Z",
        ],
    ),
    Row(
        "still waiting: the window event is not posted again",
        _before(NEW, in_progress=True, previous="1.0.0", waiting=True),
        _reimage_plan(*OLD6, in_window=False),
        _context(),
        [],
    ),
    Row(
        "the window opened: the first batch",
        _before(NEW, in_progress=True, previous="1.0.0", waiting=True),
        _reimage_plan(*OLD6),
        _context(),
        ["Normal RolloutBatch: batch 1 of 3: reimaging web-1, web-2"],
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_rollout_events(row: Row) -> None:
    assert _lines(row.before, row.plan, row.context) == row.expected


def test_a_replaced_batch_names_the_vms_it_replaces() -> None:
    rollout = spec(
        replicas=3, strategy=RolloutStrategy.ROLLING_REPLACE, max_surge=1, max_unavailable=0
    )
    fleet = [new("web-4"), vm("web-1"), vm("web-2"), vm("web-3")]
    plan = plan_rollout(rollout, fleet, GOOD, NOW)
    assert _lines(_before(NEW, in_progress=True, previous="1.0.0"), plan, _context(replicas=3)) == [
        "Normal RolloutBatch: batch 1 of 3: replacing web-1"
    ]


def test_a_failed_revision_posts_a_rollback_warning() -> None:
    rollout = spec(
        replicas=2,
        strategy=RolloutStrategy.ROLLING_REIMAGE,
        max_surge=0,
        max_unavailable=1,
        progress_deadline_seconds=600,
    )
    history = RolloutHistory(previous_good=OLD)
    broken = [vm("web-1"), new("web-2", STARTING)]
    broken_plan = plan_rollout(
        rollout, broken, history, NOW + timedelta(hours=1), reimage_pairs=REIMAGE
    )
    assert broken_plan.facts.rolled_back_from == NEW, broken_plan.phase
    events = rollout_events(
        _before(NEW, in_progress=True, previous="1.0.0"), broken_plan, _context(replicas=2)
    )
    assert (events[0].type, events[0].reason.value) == (EventType.WARNING, "RollingBack")
    assert events[0].message == (
        "image version 2.0.0 (revision rev-new) failed: rolling back to image version 1.0.0 "
        "(revision rev-old)"
    )


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (45, "45s"), (192, "3m12s"), (3840, "1h4m0s"), (-5, "0s")]
)
def test_durations_read_like_go(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


def test_a_new_restart_stamp_is_named_as_the_cause() -> None:
    before = _before(OLD, generation=1)
    context = PassContext(2, 6, NOW, WINDOW, restart="2026-11-28T21:00:00Z")
    assert _lines(before, _reimage_plan(*OLD6), context)[0] == (
        "Normal RolloutStarted: rolling out image version 2.0.0 (revision rev-new) over 1.0.0: "
        "a restart was requested (spec.template.restartedAt 2026-11-28T21:00:00Z)"
    )
    unchanged = Before(
        RecordedRollout(OLD.revision, OLD.image_version, ago(192), False, "2026-11-28T21:00:00Z"),
        "",
        1,
        False,
    )
    assert "the spec changed (generation 2)" in _lines(unchanged, _reimage_plan(*OLD6), context)[0]
