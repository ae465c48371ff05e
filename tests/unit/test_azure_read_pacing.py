"""ARM's reads bucket paced on vmroll's side (250, then 25 a second), driven by a hand-moved
clock: reads go at once while tokens last, then one per refill, lowered to what ARM reports and
held back after ARM's own 429; a Compute 429 holds nothing back."""

from __future__ import annotations

import asyncio

from fake_time import FakeTime

from vmroll.azure.headroom import read_headroom
from vmroll.azure.read_pacing import ReadPacer


def pacer(time: FakeTime, reserve: float = 5.0) -> ReadPacer:
    return ReadPacer(clock=time.clock, sleep=time.sleep, reserve=reserve)


async def test_reads_go_at_once_until_the_reserve_then_one_per_refill() -> None:
    time = FakeTime()
    reads = pacer(time)
    for _ in range(245):
        await reads.before_read()
    assert time.slept == []

    await reads.before_read()

    assert abs(sum(time.slept) - 1 / 25) < 1e-9


async def test_waiters_are_handed_the_refill_a_token_at_a_time() -> None:
    time = FakeTime()
    reads = pacer(time, reserve=0.0)
    reads.answered(200, remaining=0, retry_after=None)

    await asyncio.gather(*(reads.before_read() for _ in range(50)))

    assert abs((time.now - 1000.0) - 50 / 25) < 1e-6


async def test_the_count_arm_reports_lowers_vmrolls_own() -> None:
    time = FakeTime()
    reads = pacer(time)
    reads.answered(200, remaining=10, retry_after=None)
    assert reads.delay() == 0
    for _ in range(5):
        await reads.before_read()
    assert time.slept == []

    await reads.before_read()

    assert abs(sum(time.slept) - 1 / 25) < 1e-9


async def test_an_arm_429_holds_every_read_back_for_its_retry_after() -> None:
    time = FakeTime()
    reads = pacer(time)
    reads.answered(429, remaining=0, retry_after=3)

    await reads.before_read()

    assert sum(time.slept) == 3


async def test_a_compute_429_with_reads_left_holds_nothing_back() -> None:
    time = FakeTime()
    reads = pacer(time)
    reads.answered(429, remaining=200, retry_after=30)

    await reads.before_read()

    assert time.slept == []


def test_the_reads_left_are_read_from_arms_header() -> None:
    headroom = read_headroom(
        {"x-ms-ratelimit-remaining-subscription-reads": "249", "Retry-After": "2"}
    )
    assert headroom.reads == 249
    assert headroom.retry_after == 2
    assert read_headroom({}).reads is None
