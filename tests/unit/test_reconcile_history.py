"""The rollout history a pass records: each record names the revision rolled to and the image
version that revision really runs; a rollout rolled back from ends `RolledBack`, and the
rollback that follows is a rollout of the previous revision at the previous version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vmroll.api.pool_status import RolloutOutcome, RolloutRecord
from vmroll.plan.rollout_model import (
    Counts,
    Plan,
    RolloutFacts,
    RolloutHistory,
    RolloutPhase,
    Target,
)
from vmroll.reconcile.report import history_after

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)
GOOD, BAD = Target("rev-good", "1.1.0"), Target("rev-bad", "1.2.0")
IN_PROGRESS, SUCCEEDED = RolloutOutcome.IN_PROGRESS, RolloutOutcome.SUCCEEDED
ROLLED_BACK, SUPERSEDED = RolloutOutcome.ROLLED_BACK, RolloutOutcome.SUPERSEDED


def plan(phase: RolloutPhase, target: Target, rolled_back_from: Target | None = None) -> Plan:
    return Plan(
        actions=(), phase=phase, current_revision=GOOD.revision, update_revision=target.revision,
        target=target, counts=Counts(3, 3, 3, 3), up_next=(), instances=(),
        history=RolloutHistory(previous_good=GOOD),
        facts=RolloutFacts(surge=1, max_unavailable=0, rolled_back_from=rolled_back_from),
    )  # fmt: skip


def record(target: Target, outcome: RolloutOutcome = SUCCEEDED) -> RolloutRecord:
    finished = None if outcome is IN_PROGRESS else T0
    return RolloutRecord(revision=target.revision, image_version=target.image_version,
                         started_at=T0, finished_at=finished, outcome=outcome)  # fmt: skip


def summary(records: list[RolloutRecord]) -> list[tuple[str, str | None, str]]:
    return [(r.revision, r.image_version, r.outcome.value) for r in records]


@pytest.mark.parametrize(
    ("before", "now", "after"),
    [
        pytest.param(
            [record(GOOD)], plan(RolloutPhase.PROGRESSING, BAD),
            [(BAD.revision, "1.2.0", "InProgress"), (GOOD.revision, "1.1.0", "Succeeded")],
            id="a-rollout-starts",
        ),
        pytest.param(
            [record(BAD, IN_PROGRESS), record(GOOD)],
            plan(RolloutPhase.ROLLING_BACK, GOOD, rolled_back_from=BAD),
            [(GOOD.revision, "1.1.0", "InProgress"), (BAD.revision, "1.2.0", "RolledBack"),
             (GOOD.revision, "1.1.0", "Succeeded")],
            id="a-rollback-starts-at-the-previous-version",
        ),
        pytest.param(
            [record(GOOD, IN_PROGRESS), record(BAD, ROLLED_BACK), record(GOOD)],
            plan(RolloutPhase.ROLLED_BACK, GOOD, rolled_back_from=BAD),
            [(GOOD.revision, "1.1.0", "Succeeded"), (BAD.revision, "1.2.0", "RolledBack"),
             (GOOD.revision, "1.1.0", "Succeeded")],
            id="a-rollback-ends",
        ),
        pytest.param(
            [record(BAD, IN_PROGRESS), record(GOOD)],
            plan(RolloutPhase.PROGRESSING, Target("rev-next", "1.3.0")),
            [("rev-next", "1.3.0", "InProgress"), (BAD.revision, "1.2.0", "Superseded"),
             (GOOD.revision, "1.1.0", "Succeeded")],
            id="a-new-spec-supersedes",
        ),
    ],
)  # fmt: skip
def test_history_records_what_each_revision_runs(
    before: list[RolloutRecord], now: Plan, after: list[tuple[str, str | None, str]]
) -> None:
    assert summary(history_after(before, now, NOW)) == after
