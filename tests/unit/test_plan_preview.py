"""The preview runs the operator's planner forward: batches in order, under the fenceposts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vmroll.plan.preview import Batch, PreviewVm, preview_rollout
from vmroll.plan.rollout_model import (
    ReimagePairs,
    RollbackPolicy,
    RolloutSpec,
    RolloutStrategy,
    Target,
)

NOW = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
OLD, NEW = Target("old", "1.0.0"), Target("new", "2.0.0")
FOUR = [PreviewVm(f"web-{i}", "old", "1.0.0", None) for i in range(4)]
CAN_REIMAGE = ReimagePairs(frozenset({("old", "new")}))


def spec(strategy: RolloutStrategy, surge: int | str, unavailable: int | str, replicas: int = 4,
         target: Target = NEW) -> RolloutSpec:  # fmt: skip
    return RolloutSpec(
        replicas=replicas, target=target, strategy=strategy, max_surge=surge,
        max_unavailable=unavailable, min_ready_seconds=30, progress_deadline_seconds=600,
        rollback=RollbackPolicy(on_failure=True, max_unhealthy_percent=20), paused=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("rollout", "pairs", "batches", "complete"),
    [
        pytest.param(spec(RolloutStrategy.ROLLING_REIMAGE, 0, 1), CAN_REIMAGE,
                     [Batch(reimaged=(f"web-{i}",)) for i in range(4)], True,
                     id="reimage-one-at-a-time-even-when-paused"),
        pytest.param(spec(RolloutStrategy.ROLLING_REIMAGE, 0, 2), CAN_REIMAGE,
                     [Batch(reimaged=("web-0", "web-1")), Batch(reimaged=("web-2", "web-3"))],
                     True, id="reimage-two-at-a-time"),
        pytest.param(spec(RolloutStrategy.ROLLING_REIMAGE, 0, 2), ReimagePairs(),
                     [Batch(replaced=("web-0", "web-1")),
                      Batch(replaced=("web-2", "web-3"))],
                     True, id="reimage-strategy-replaces-what-a-reimage-cannot-do"),
        pytest.param(spec(RolloutStrategy.ROLLING_REPLACE, 1, 0), CAN_REIMAGE,
                     [Batch(replaced=(f"web-{i}",)) for i in range(4)], True,
                     id="replace-surge-one"),
        pytest.param(spec(RolloutStrategy.ON_DELETE, 1, 0), CAN_REIMAGE, [], False,
                     id="on-delete-waits-for-deletions"),
        pytest.param(spec(RolloutStrategy.ROLLING_REIMAGE, 0, 1, target=OLD), CAN_REIMAGE, [], True,
                     id="nothing-to-do"),
    ],
)  # fmt: skip
def test_batches(
    rollout: RolloutSpec, pairs: ReimagePairs, batches: list[Batch], complete: bool
) -> None:
    preview = preview_rollout(rollout, FOUR, OLD, NOW, pairs)
    assert list(preview.batches) == batches
    assert preview.complete is complete


def test_scaling_up_during_a_rollout_counts_the_new_vms() -> None:
    pool = spec(RolloutStrategy.ROLLING_REIMAGE, 0, 1, replicas=5)
    preview = preview_rollout(pool, FOUR, OLD, NOW, CAN_REIMAGE)
    assert preview.created == 1
    assert [b.reimaged for b in preview.batches] == [(f"web-{i}",) for i in range(4)]
    assert preview.complete


def test_every_replaced_vm_is_created_anew() -> None:
    preview = preview_rollout(
        spec(RolloutStrategy.ROLLING_REPLACE, 1, 0), FOUR, OLD, NOW, ReimagePairs()
    )
    assert preview.created == 4
