"""A spare read (an instance-view refresh nobody waits on) is refused at once while its Low-cost
get bucket is held, where any other read waits the hold out: a refresh must not hold a pass."""

from __future__ import annotations

import pytest
from fake_time import FakeTime

from vmroll.azure.headroom import Headroom
from vmroll.azure.low_cost_holds import LOW_COST_GET, LowCostHolds
from vmroll.azure.read_pacing import NoSpareRead, spare_reads

KEY = ("sub", "westeurope")


def held(time: FakeTime) -> LowCostHolds:
    holds = LowCostHolds(clock=time.clock, sleep=time.sleep, max_wait=30.0)
    throttled = Headroom(subscription={LOW_COST_GET: 0}, retry_after=5.0)
    holds.answered(KEY, 429, throttled)
    return holds


async def test_a_read_waits_a_short_hold_out() -> None:
    time = FakeTime()
    await held(time).before_read(KEY)
    assert time.slept == [5.0]


async def test_a_spare_read_is_refused_during_a_hold_without_waiting() -> None:
    time = FakeTime()
    holds = held(time)
    with spare_reads(), pytest.raises(NoSpareRead):
        await holds.before_read(KEY)
    assert time.slept == []


async def test_a_spare_read_goes_once_the_hold_has_passed() -> None:
    time = FakeTime()
    holds = held(time)
    time.now += 5.0
    with spare_reads():
        await holds.before_read(KEY)
    assert time.slept == []
