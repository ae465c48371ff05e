"""ARM's reads bucket paced on vmroll's side (250, then 25 a second), driven by a hand-moved
clock: reads go at once while tokens last, then one per refill, lowered to what ARM reports and
held back after ARM's own 429; a Compute 429 holds nothing back; reads on the wire are not in
ARM's count yet, and its full bucket does not refill for them."""

from __future__ import annotations

import asyncio

import pytest
from fake_time import FakeTime

from vmroll.azure.headroom import read_headroom
from vmroll.azure.read_pacing import NoSpareRead, ReadPacer, spare_reads
from vmroll.emulator.throttling import TokenBucket


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


async def test_reads_on_the_wire_while_arms_bucket_is_full_leave_no_tokens_for_another_burst() -> (
    None
):
    time, arrived = FakeTime(), asyncio.Event()
    reads = pacer(time)
    arm = TokenBucket(250, 25.0)  # the emulator's own model of ARM's bucket, on the same clock
    refused = 0

    async def read() -> None:
        nonlocal refused
        async with reads.sending():
            await arrived.wait()  # queued for a connection, or for ARM's turn
            if arm.take(time.now):
                reads.answered(200, remaining=arm.remaining(time.now), retry_after=None)
            else:
                refused += 1
                reads.answered(429, remaining=0, retry_after=arm.retry_after(time.now))

    first = [asyncio.create_task(read()) for _ in range(245)]
    await asyncio.sleep(0)
    time.now += 10.0  # ARM's bucket, full, gained nothing; 245 reads are still to reach it
    assert reads.delay() > 0
    second = [asyncio.create_task(read()) for _ in range(245)]
    await asyncio.sleep(0)
    arrived.set()

    await asyncio.gather(*first, *second)

    assert refused == 0
    # The second burst went at the refill: ARM's 250 less the first 245, then 25 a second.
    assert time.now - 1010.0 > (245 - 5) / 25 - 1.0


async def test_a_read_that_fails_on_the_wire_leaves_it() -> None:
    time = FakeTime()
    reads = pacer(time)
    for _ in range(245):
        with pytest.raises(ConnectionResetError):
            async with reads.sending():
                raise ConnectionResetError

    time.now += 10.0

    assert reads.delay() == 0


def test_the_reads_left_are_read_from_arms_header() -> None:
    headroom = read_headroom(
        {"x-ms-ratelimit-remaining-subscription-reads": "249", "Retry-After": "2"}
    )
    assert headroom.reads == 249
    assert headroom.retry_after == 2
    assert read_headroom({}).reads is None


def held_until(time: FakeTime, arrived: asyncio.Event) -> ReadPacer:
    """An empty bucket whose refill comes once `arrived` is set: reads queue up meanwhile."""

    async def sleep(seconds: float) -> None:
        await arrived.wait()
        await time.sleep(seconds)

    reads = ReadPacer(clock=time.clock, sleep=sleep, reserve=0.0)
    reads.answered(200, remaining=0, retry_after=None)
    return reads


async def test_a_spare_read_goes_above_half_the_bucket_and_is_refused_below_it() -> None:
    time = FakeTime()
    reads = pacer(time)
    reads.answered(200, remaining=126, retry_after=None)  # one above half of 250
    with spare_reads():
        await reads.before_read()
        with pytest.raises(NoSpareRead):
            await reads.before_read()

    assert time.slept == []
    # The refused read took nothing; a read a pass waits on goes on the tokens below the floor.
    for _ in range(120):
        await reads.before_read()
    assert time.slept == []
    await reads.before_read()
    assert abs(sum(time.slept) - 1 / 25) < 1e-9


async def test_a_spare_read_is_refused_while_arm_holds_reads_back() -> None:
    time = FakeTime()
    reads = pacer(time)
    reads.answered(429, remaining=None, retry_after=10)
    time.now += 6.0  # 150 tokens again, above the floor; ARM's Retry-After has 4 s left

    with spare_reads(), pytest.raises(NoSpareRead):
        await reads.before_read()


async def test_a_spare_read_is_refused_while_another_read_waits() -> None:
    time, arrived = FakeTime(), asyncio.Event()
    reads = held_until(time, arrived)
    waiting = asyncio.create_task(reads.before_read())
    await asyncio.sleep(0)
    time.now += 10.0  # tokens again, but the waiter goes first

    with spare_reads(), pytest.raises(NoSpareRead):
        await reads.before_read()

    arrived.set()
    await waiting


def test_the_refresh_period_grows_with_the_vms_of_every_pool_of_the_connection() -> None:
    time = FakeTime()
    reads = pacer(time)
    assert reads.refresh_period("a", 10, 600.0) == 600.0
    for pool in range(999):
        reads.refresh_period(f"p{pool}", 10, 600.0)
    assert reads.refresh_period("a", 10, 600.0) == 1000.0
    # A pool tells its count again: counted once, at its new size.
    assert reads.refresh_period("a", 1010, 600.0) == 1100.0


def test_a_pool_that_stops_telling_its_count_is_forgotten_after_two_periods() -> None:
    time = FakeTime()
    reads = pacer(time)
    reads.refresh_period("gone", 15_000, 600.0)
    time.now += 2 * 1500.0
    assert reads.refresh_period("kept", 10, 600.0) == 1501.0
    time.now += 61.0  # a look for silent pools, once a minute

    assert reads.refresh_period("kept", 10, 600.0) == 600.0


async def test_a_waiter_cancelled_leaves_the_turn_to_the_next() -> None:
    time, arrived = FakeTime(), asyncio.Event()
    reads = held_until(time, arrived)
    first = asyncio.create_task(reads.before_read())
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(reads.before_read())
    last = asyncio.create_task(reads.before_read())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    arrived.set()

    await asyncio.gather(first, last)

    assert cancelled.cancelled()
    assert abs((time.now - 1000.0) - 2 / 25) < 1e-6


async def test_a_waiter_cancelled_as_it_is_handed_the_turn_hands_it_on() -> None:
    time, arrived = FakeTime(), asyncio.Event()
    reads = held_until(time, arrived)

    async def read_then_cancel_the_next() -> None:
        await reads.before_read()
        handed.cancel()

    first = asyncio.create_task(read_then_cancel_the_next())
    await asyncio.sleep(0)
    handed = asyncio.create_task(reads.before_read())
    last = asyncio.create_task(reads.before_read())
    await asyncio.sleep(0)
    arrived.set()

    # A turn handed to a cancelled waiter and kept would hold `last` back for ever.
    async with asyncio.timeout(5):
        await asyncio.gather(first, last)

    assert handed.cancelled()
    assert abs((time.now - 1000.0) - 2 / 25) < 1e-6
