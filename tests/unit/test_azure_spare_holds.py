"""A spare read (an instance-view refresh nobody waits on) is refused at once while its Low-cost
get bucket is held, where any other read waits the hold out: a refresh must not hold a pass."""

from __future__ import annotations

import pytest

from vmroll.azure.headroom import Headroom
from vmroll.azure.low_cost_holds import LOW_COST_GET, LowCostHolds
from vmroll.azure.read_pacing import NoSpareRead, spare_reads

KEY = ("sub", "westeurope")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def held(clock: Clock) -> LowCostHolds:
    holds = LowCostHolds(clock=clock, sleep=clock.sleep, max_wait=30.0)
    throttled = Headroom(subscription={LOW_COST_GET: 0}, retry_after=5.0)
    holds.answered(KEY, 429, throttled)
    return holds


async def test_a_read_waits_a_short_hold_out() -> None:
    clock = Clock()
    await held(clock).before_read(KEY)
    assert clock.slept == [5.0]


async def test_a_spare_read_is_refused_during_a_hold_without_waiting() -> None:
    clock = Clock()
    holds = held(clock)
    with spare_reads(), pytest.raises(NoSpareRead):
        await holds.before_read(KEY)
    assert clock.slept == []


async def test_a_spare_read_goes_once_the_hold_has_passed() -> None:
    clock = Clock()
    holds = held(clock)
    clock.now = 5.0
    with spare_reads():
        await holds.before_read(KEY)
    assert clock.slept == []
