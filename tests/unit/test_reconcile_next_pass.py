"""When the loop comes back after a pass that ended without errors (`PoolPass.next_pass`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rollout_builders import NOW, OLD, new, spec, vm
from test_reconcile_fakes import World

from vmroll.api.image import ImageSourceKind
from vmroll.api.pool_status import ImageStatus
from vmroll.plan.rollout import Plan, RolloutHistory, RolloutPhase, plan_rollout
from vmroll.reconcile.inputs import Next, Outcome
from vmroll.reconcile.report import Progress

HISTORY = RolloutHistory(previous_good=OLD)
IMAGE = ImageStatus(source=ImageSourceKind.MARKETPLACE, requested="Canonical:ubuntu:server:latest")


def progress(plan: Plan, *, busy: bool = False, next_window_in: float | None = None) -> Progress:
    window = None if next_window_in is None else NOW + timedelta(seconds=next_window_in)
    return Progress(
        plan=plan, image=IMAGE, instances=(), busy=busy, image_message="", paused=False,
        next_window=window,
    )  # fmt: skip


SETTLED = plan_rollout(spec(), [new("web-1"), new("web-2"), new("web-3")], HISTORY, NOW)
SURGE_LEFT = plan_rollout(
    spec(), [new("web-1"), new("web-2"), new("web-3"), new("web-4")], HISTORY, NOW
)
OUT_OF_WINDOW = plan_rollout(
    spec(), [vm("web-1"), vm("web-2"), vm("web-3")], HISTORY, NOW, in_window=False
)


@pytest.mark.parametrize(
    ("state", "finished", "expected"),
    [
        pytest.param(progress(SETTLED), True, Outcome(Next.PROGRESSING, after=0.0), id="finished"),
        pytest.param(progress(SETTLED, busy=True), False, Outcome(Next.PROGRESSING), id="busy"),
        pytest.param(progress(SETTLED), False, Outcome(Next.SETTLED), id="settled"),
        pytest.param(progress(SURGE_LEFT), False, Outcome(Next.PROGRESSING), id="surge-left"),
        pytest.param(
            progress(OUT_OF_WINDOW, next_window_in=3600),
            False,
            Outcome(Next.PROGRESSING, after=3600.0),
            id="until-the-window-opens",
        ),
    ],
)
def test_next_pass(state: Progress, finished: bool, expected: Outcome) -> None:
    world = World()
    assert world.pool["spec"]["replicas"] == 3
    assert world.pass_().next_pass(state, finished, NOW) == expected


def test_the_plans_are_what_the_cases_say() -> None:
    assert OUT_OF_WINDOW.phase is RolloutPhase.WAITING_FOR_WINDOW
    assert SURGE_LEFT.counts.replicas == 4
    assert SETTLED.counts.available == SETTLED.counts.updated == 3
