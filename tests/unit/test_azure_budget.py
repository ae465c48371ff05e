"""The per-subscription write budget, driven by a hand-moved clock."""

from __future__ import annotations

import asyncio

import pytest

from vmroll.azure.budget import BudgetSettings, WriteBudget, WriteBudgetExhausted, WriteBudgets


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(
    time: FakeTime, capacity: float = 3, refill: float = 1, max_wait: float = 10
) -> WriteBudget:
    settings = BudgetSettings(capacity=capacity, refill_per_second=refill, max_wait=max_wait)
    return WriteBudget(settings, clock=time.clock, sleep=time.sleep)


async def test_burst_up_to_capacity_without_waiting() -> None:
    time = FakeTime()
    bucket = budget(time)
    for _ in range(3):
        await bucket.acquire()
    assert time.slept == []
    assert bucket.available() == 0


async def test_next_write_waits_for_refill() -> None:
    time = FakeTime()
    bucket = budget(time, refill=0.5)
    for _ in range(3):
        await bucket.acquire()
    await bucket.acquire()
    assert time.slept == [2.0]


async def test_refill_never_exceeds_capacity() -> None:
    time = FakeTime()
    bucket = budget(time)
    await bucket.acquire()
    time.now += 3600
    assert bucket.available() == 3


async def test_wait_beyond_max_wait_raises_without_spending() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=1, refill=0.01, max_wait=10)
    await bucket.acquire()
    with pytest.raises(WriteBudgetExhausted) as raised:
        await bucket.acquire()
    assert raised.value.retry_after == pytest.approx(100.0)
    assert time.slept == []


async def test_time_queued_behind_other_writes_counts_against_max_wait() -> None:
    class QueueingTime(FakeTime):
        async def sleep(self, seconds: float) -> None:
            await asyncio.sleep(0)  # the other caller arrives and queues meanwhile
            await super().sleep(seconds)

    time = QueueingTime()
    bucket = WriteBudget(
        BudgetSettings(capacity=1, refill_per_second=0.125, max_wait=10),
        clock=time.clock,
        sleep=time.sleep,
    )
    await bucket.acquire()
    first, second = await asyncio.gather(bucket.acquire(), bucket.acquire(), return_exceptions=True)
    assert first is None
    assert isinstance(second, WriteBudgetExhausted)
    assert second.retry_after == pytest.approx(8.0)
    assert time.slept == [8.0]


async def test_throttled_write_blocks_the_subscription_for_retry_after() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=5, refill=1, max_wait=60)
    bucket.defer(30)
    assert bucket.wait_needed() == pytest.approx(30)
    time.now += 30
    assert bucket.available() == 0
    time.now += 2
    assert bucket.available() == 2


async def test_subscriptions_have_separate_budgets_shared_by_their_pools() -> None:
    time = FakeTime()
    budgets = WriteBudgets(BudgetSettings(capacity=1), clock=time.clock, sleep=time.sleep)
    assert budgets.for_subscription("SUB-A") is budgets.for_subscription("sub-a")
    await budgets.for_subscription("sub-a").acquire()
    assert budgets.for_subscription("sub-b").available() == 1
    assert budgets.for_subscription("sub-a").available() == 0
