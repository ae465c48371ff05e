"""How long a pool's loop sleeps after a pass: a pass that asks to come back later (a rollout
waiting days for its maintenance window) still comes back every resync, for repairs; a retry
waits what the backoff (or Azure's Retry-After) chose; a stalled pool waits long."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from vmroll.handlers.pools import _delay
from vmroll.handlers.run_config import RunConfig
from vmroll.reconcile.inputs import Next, Outcome

STATE: Any = SimpleNamespace(
    config=RunConfig(resync_seconds=60, progress_seconds=2, stalled_seconds=600)
)


@pytest.mark.parametrize(
    ("outcome", "delay"),
    [
        (Outcome(Next.PROGRESSING), 2),
        (Outcome(Next.PROGRESSING, after=0.0), 0),
        (Outcome(Next.PROGRESSING, after=30.0), 30),
        (Outcome(Next.PROGRESSING, after=3 * 86400.0), 60),
        (Outcome(Next.SETTLED), 60),
        (Outcome(Next.RETRY), 10),
        (Outcome(Next.RETRY, after=42.0), 42),
        (Outcome(Next.STALLED), 600),
        (Outcome(Next.STALLED, after=5.0), 600),
    ],
)
def test_delay(outcome: Outcome, delay: float) -> None:
    assert _delay(STATE, outcome) == delay
