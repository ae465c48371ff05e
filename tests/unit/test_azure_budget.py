"""The per-subscription write budget, driven by a hand-moved clock: Azure's buckets, pacing from
the headroom Azure reports, round-robin between pools, and `max_wait` for queued callers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import pytest
from fake_time import FakeTime

from vmroll.azure.budget import (
    ArmBucket,
    BudgetSettings,
    ComputePolicy,
    Limit,
    Write,
    WriteBudget,
    WriteBudgetExhausted,
    WriteBudgets,
    bucket_keys,
)
from vmroll.azure.headroom import Headroom, feed_budget, read_headroom


def budget(
    time: FakeTime,
    capacity: float = 3,
    refill: float = 1,
    max_wait: float = 10,
    reserve: float = 0,
) -> WriteBudget:
    limit = Limit(capacity, refill)
    settings = BudgetSettings(arm=limit, compute=limit, reserve=reserve, max_wait=max_wait)
    return WriteBudget(settings, clock=time.clock, sleep=time.sleep)


def create(pool: str = "a", region: str = "westeurope") -> Write:
    return Write(pool, ArmBucket.WRITES, ComputePolicy.PUT_VM, region)


def delete(pool: str = "a", region: str = "westeurope") -> Write:
    return Write(pool, ArmBucket.DELETES, ComputePolicy.DELETE_VM, region)


async def test_burst_up_to_capacity_without_waiting() -> None:
    time = FakeTime()
    bucket = budget(time)
    for _ in range(3):
        await bucket.acquire(create())
    assert time.slept == []
    assert bucket.headroom(create()) == 0


async def test_next_write_waits_for_refill() -> None:
    time = FakeTime()
    bucket = budget(time, refill=0.5)
    for _ in range(3):
        await bucket.acquire(create())
    await bucket.acquire(create())
    assert time.slept == [2.0]


async def test_refill_never_exceeds_capacity() -> None:
    time = FakeTime()
    bucket = budget(time)
    await bucket.acquire(create())
    time.now += 3600
    assert bucket.headroom(create()) == 3


async def test_defaults_are_azures_published_limits() -> None:
    time = FakeTime()
    bucket = WriteBudget(BudgetSettings(), clock=time.clock, sleep=time.sleep)
    assert bucket.headroom(delete()) == 200 - 10  # ARM deletes: 200, 10 left to others
    for _ in range(190):
        await bucket.acquire(create())
    assert time.slept == []
    assert bucket.wait_needed(create()) == pytest.approx(0.1)  # ARM writes refill 10/s
    assert bucket.headroom(delete()) == 190  # deletes are another ARM bucket
    time.now += 60
    assert bucket.headroom(create()) == 190
    bucket.report(("compute", "westeurope", "PutVM"), 15)
    assert bucket.headroom(create()) == 5
    time.now += 6
    assert bucket.headroom(create()) == pytest.approx(15 + 50 - 10)  # PutVM: 500 a minute


async def test_a_write_draws_on_arm_and_on_computes_policy_in_its_region() -> None:
    assert bucket_keys(create(region="West Europe")) == (
        ("arm", "writes"),
        ("compute", "westeurope", "PutVM"),
    )
    assert bucket_keys(Write("a", ArmBucket.WRITES, None, "")) == (("arm", "writes"),)
    time = FakeTime()
    bucket = budget(time, capacity=2)
    bucket.report(("compute", "westeurope", "DeleteVM"), 0)
    assert bucket.headroom(delete()) == 0
    assert bucket.headroom(delete(region="northeurope")) == 2
    assert bucket.headroom(create()) == 2


@pytest.mark.parametrize(
    ("reported", "headroom", "wait"),
    [
        pytest.param(200, 190, 0.0, id="azure-agrees"),
        pytest.param(50, 40, 0.0, id="others-spent-some"),
        pytest.param(10, 0, 0.1, id="only-the-reserve-left"),
        pytest.param(0, 0, 1.1, id="empty"),
    ],
)
async def test_pacing_follows_the_headroom_azure_reports(
    reported: int, headroom: float, wait: float
) -> None:
    time = FakeTime()
    bucket = WriteBudget(BudgetSettings(reserve=10), clock=time.clock, sleep=time.sleep)
    bucket.report(("arm", "writes"), reported)
    assert bucket.headroom(create()) == headroom
    assert bucket.wait_needed(create()) == pytest.approx(wait)
    await bucket.acquire(create())
    assert sum(time.slept) == pytest.approx(wait)


async def test_a_report_never_raises_the_count() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=5)
    for _ in range(4):
        await bucket.acquire(create())
    bucket.report(("arm", "writes"), 5)
    assert bucket.headroom(create()) == 1


async def test_throttled_write_blocks_its_buckets_for_retry_after() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=5, refill=1, max_wait=60)
    bucket.defer(bucket_keys(create()), 30)
    assert bucket.wait_needed(create()) == pytest.approx(31)
    time.now += 30
    assert bucket.headroom(create()) == 0
    time.now += 2
    assert bucket.headroom(create()) == 2


@pytest.mark.parametrize(
    ("headroom", "blocked"),
    [
        pytest.param(
            Headroom(arm={ArmBucket.WRITES: 0}, subscription={"PutVM": 900}, retry_after=7),
            {"arm"},
            id="arm-empty",
        ),
        pytest.param(
            Headroom(
                arm={ArmBucket.WRITES: 120},
                subscription={"PutVM": 0},
                resource={"PutVM": 5},
                retry_after=7,
            ),
            {"compute"},
            id="compute-subscription-empty",
        ),
        pytest.param(
            Headroom(
                arm={ArmBucket.WRITES: 120},
                subscription={"PutVM": 900},
                resource={"PutVM": 0},
                retry_after=7,
            ),
            set(),
            id="only-the-vms-own-bucket-empty",
        ),
        pytest.param(Headroom(retry_after=7), {"arm", "compute"}, id="no-headers"),
    ],
)
async def test_a_429_holds_back_the_buckets_it_names(headroom: Headroom, blocked: set[str]) -> None:
    time = FakeTime()
    bucket = WriteBudget(BudgetSettings(reserve=0), clock=time.clock, sleep=time.sleep)
    feed_budget(bucket, create(), 429, headroom)
    arm_only = Write("a", ArmBucket.WRITES, None, "")
    compute_only = Write("a", ArmBucket.DELETES, ComputePolicy.PUT_VM, "westeurope")
    assert (bucket.wait_needed(arm_only) >= 7) == ("arm" in blocked)
    assert (bucket.wait_needed(compute_only) >= 7) == ("compute" in blocked)


async def test_pools_are_served_round_robin() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=1, refill=1, max_wait=100)
    await bucket.acquire(create("big"))
    served: list[str] = []

    async def write(pool: str) -> None:
        await bucket.acquire(create(pool))
        served.append(pool)

    big = [asyncio.create_task(write("big")) for _ in range(6)]
    await asyncio.sleep(0)
    small = [asyncio.create_task(write("small")) for _ in range(2)]
    late = asyncio.create_task(write("late"))
    await asyncio.gather(*big, *small, late)
    # One write a second; each pool with writes waiting gets one turn per round.
    assert served[:6] == ["big", "small", "late", "big", "small", "big"]
    assert served[6:] == ["big"] * 3
    assert time.now == 1009.0


async def test_a_small_pool_is_not_starved_by_a_huge_batch() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=10, refill=1, max_wait=1000)
    served: list[str] = []

    async def write(pool: str) -> None:
        await bucket.acquire(create(pool))
        served.append(pool)

    huge = [asyncio.create_task(write("huge")) for _ in range(200)]
    await asyncio.sleep(0)
    start = time.now
    await write("small")
    assert served.count("huge") <= 11  # the burst, then at most one turn before it
    assert time.now - start <= 2.0
    await asyncio.gather(*huge)


async def test_writes_in_other_regions_pass_a_pool_waiting_for_an_empty_region() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=5, refill=1, max_wait=100)
    bucket.report(("compute", "westeurope", "PutVM"), 0)
    waiting = asyncio.create_task(bucket.acquire(create("a", "westeurope")))
    await asyncio.sleep(0)
    await bucket.acquire(create("b", "northeurope"))
    assert time.now == 1000.0
    await waiting
    assert time.now == 1001.0


async def test_a_caller_beyond_max_wait_is_refused_at_once_counting_the_queue() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=1, refill=1, max_wait=5)
    await bucket.acquire(create())
    queued = [asyncio.create_task(bucket.acquire(create())) for _ in range(5)]
    await asyncio.sleep(0)
    assert bucket.queued() == 5
    with pytest.raises(WriteBudgetExhausted) as raised:
        await bucket.acquire(create())
    assert raised.value.retry_after == pytest.approx(6.0)  # its ticket's turn, 6 s on
    assert time.now == 1000.0  # refused before any time passed
    await asyncio.gather(*queued)
    await bucket.acquire(create())  # the token its ticket had set aside
    assert time.now == 1006.0


async def test_other_pools_queues_count_for_a_new_caller_as_round_robin_serves_them() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=1, refill=1, max_wait=3)
    await bucket.acquire(create("a"))
    others = [asyncio.create_task(bucket.acquire(create("a"))) for _ in range(3)]
    await asyncio.sleep(0)
    # Pool b counts one turn of a ahead of it, not three, and is let in.
    await bucket.acquire(create("b"))
    assert time.now == 1002.0
    outcomes = await asyncio.gather(*others, return_exceptions=True)
    assert outcomes[:2] == [None, None]
    assert isinstance(outcomes[2], WriteBudgetExhausted)  # b's turn came before it


async def test_a_delete_is_not_refused_for_creates_queued_on_other_buckets() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=1, refill=1, max_wait=3)
    await bucket.acquire(create("a"))
    await bucket.acquire(delete("a"))
    creates = [asyncio.create_task(bucket.acquire(create(pool))) for pool in "bcd"]
    await asyncio.sleep(0)
    assert bucket.queued() == 3
    # Only the deletes bucket's refill is ahead of it: 1 s, not the 4 s of every queued write.
    await bucket.acquire(delete("e"))
    assert time.now == 1001.0
    await asyncio.gather(*creates)


async def test_a_pools_delete_passes_its_own_creates_waiting_for_their_bucket() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=2, refill=1, max_wait=100)
    bucket.report(("compute", "westeurope", "PutVM"), 0)
    creates = [asyncio.create_task(bucket.acquire(create("a"))) for _ in range(3)]
    await asyncio.sleep(0)
    # A rollout's surge creates wait for Put VM; the delete of an old VM draws on other buckets.
    await bucket.acquire(delete("a"))
    assert time.now == 1000.0
    await asyncio.gather(*creates)
    assert time.now == 1003.0


async def test_a_caller_pushed_back_by_later_pools_is_refused_at_its_deadline() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=1, refill=1, max_wait=3)
    await bucket.acquire(create("a"))

    async def write(pool: str) -> tuple[str, float]:
        try:
            await bucket.acquire(create(pool))
        except WriteBudgetExhausted:
            return "refused", time.now
        return "written", time.now

    first = [asyncio.create_task(write("a")) for _ in range(3)]
    await asyncio.sleep(0)
    # a's second and third writes fit in 3 s when they arrive; then b and c arrive, and
    # round-robin serves both before them: they are refused when their 3 s are up.
    later = [asyncio.create_task(write(pool)) for pool in "bc"]
    outcomes = await asyncio.gather(*first, *later)
    assert outcomes == [
        ("written", 1001.0),
        ("refused", 1003.0),
        ("refused", 1003.0),
        ("written", 1002.0),
        ("written", 1003.0),
    ]


async def test_a_cancelled_caller_leaves_the_queue() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=1, refill=0.1, max_wait=100)
    await bucket.acquire(create())
    waiting = asyncio.create_task(bucket.acquire(create()))
    await asyncio.sleep(0)
    assert bucket.queued() == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert bucket.queued() == 0
    # The cancelled write took nothing: what is there is what refilled since.
    assert bucket.headroom(create()) == pytest.approx(min(1.0, (time.now - 1000.0) * 0.1))


async def test_subscriptions_have_separate_budgets_shared_by_their_pools() -> None:
    time = FakeTime()
    settings = BudgetSettings(arm=Limit(1, 1), reserve=0)
    budgets = WriteBudgets(settings, clock=time.clock, sleep=time.sleep)
    assert budgets.for_subscription("SUB-A") is budgets.for_subscription("sub-a")
    await budgets.for_subscription("sub-a").acquire(create())
    assert budgets.for_subscription("sub-b").headroom(create()) == 1
    assert budgets.for_subscription("sub-a").headroom(create()) == 0


async def test_the_writes_waiting_are_counted_over_every_subscription() -> None:
    time = FakeTime()
    settings = BudgetSettings(arm=Limit(1, 1), compute=Limit(1, 1), reserve=0, max_wait=1.5)
    told: list[str] = []
    both = asyncio.Event()

    def set_aside(pool: str) -> None:
        told.append(pool)
        if len(told) == 2:
            both.set()

    budgets = WriteBudgets(settings, clock=time.clock, sleep=time.sleep, token_set_aside=set_aside)
    each = [budgets.for_subscription(subscription) for subscription in ("sub-a", "sub-b")]
    for budget in each:
        await budget.acquire(create("a"))
    queued = [asyncio.create_task(budget.acquire(create("a"))) for budget in each]  # in 1 s
    await asyncio.sleep(0)
    for budget in each:
        with pytest.raises(WriteBudgetExhausted):
            await budget.acquire(create("a"))  # in 2 s: kept as a ticket
    assert budgets.waiting() == {
        "budget_writes_queued": 2, "budget_tickets": 2, "budget_tokens_set_aside": 0,
    }  # fmt: skip

    await asyncio.gather(*queued)
    await both.wait()
    assert budgets.waiting() == {
        "budget_writes_queued": 0, "budget_tickets": 0, "budget_tokens_set_aside": 2,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            {
                "x-ms-ratelimit-remaining-subscription-writes": "199",
                "x-ms-ratelimit-remaining-resource": (
                    "Microsoft.Compute/PutVM;11,Microsoft.Compute/PutVM;1499"
                ),
                "Retry-After": "10",
            },
            Headroom(
                arm={ArmBucket.WRITES: 199},
                subscription={"PutVM": 1499},
                resource={"PutVM": 11},
                retry_after=10.0,
            ),
            id="emulator-create",
        ),
        pytest.param(
            {"X-Ms-Ratelimit-Remaining-Subscription-Deletes": "3"},
            Headroom(arm={ArmBucket.DELETES: 3}),
            id="arm-delete-any-case",
        ),
        pytest.param(
            {
                "x-ms-ratelimit-remaining-resource": (
                    "Microsoft.Compute/PutVM3Min;239,Microsoft.Compute/PutVM30Min;1199"
                )
            },
            Headroom(subscription={"PutVM": 239}),
            id="windowed-before-2024",
        ),
        pytest.param(
            {"x-ms-ratelimit-remaining-resource": "Microsoft.Compute/HighCostGet;159"},
            Headroom(subscription={"HighCostGet": 159}),
            id="subscription-only",
        ),
        pytest.param(
            {"x-ms-ratelimit-remaining-resource": "garbage;x,;3", "Retry-After": "soon"},
            Headroom(),
            id="unreadable-ignored",
        ),
    ],
)
def test_headroom_is_read_from_the_answers_headers(
    headers: dict[str, str], expected: Headroom
) -> None:
    assert read_headroom(headers) == expected


async def test_a_refused_pool_keeps_its_place_and_is_told_when_its_token_is_set_aside() -> None:
    time = FakeTime()
    told: list[tuple[str, float]] = []
    both = asyncio.Event()

    def set_aside(pool: str) -> None:
        told.append((pool, time.now))
        if len(told) == 2:
            both.set()

    limit = Limit(1, 1)
    settings = BudgetSettings(arm=limit, compute=limit, reserve=0, max_wait=2)
    bucket = WriteBudget(settings, clock=time.clock, sleep=time.sleep, token_set_aside=set_aside)
    await bucket.acquire(create("a"))
    queued = [asyncio.create_task(bucket.acquire(create(pool))) for pool in "ac"]
    await asyncio.sleep(0)
    with pytest.raises(WriteBudgetExhausted) as raised:
        await bucket.acquire(create("b"))
    assert raised.value.retry_after == pytest.approx(3.0)  # its ticket's turn: after a's and c's
    with pytest.raises(WriteBudgetExhausted):
        await bucket.acquire(create("d"))  # behind b's ticket
    assert bucket.tickets() == 2
    await asyncio.gather(*queued)
    await both.wait()
    # Each ticket's turn came in the order the pools were refused, a token set aside for it.
    assert told == [("b", 1003.0), ("d", 1004.0)]
    assert bucket.set_aside() == 2
    await bucket.acquire(create("b"))  # taken at once, whatever the bucket holds
    await bucket.acquire(create("d"))
    assert time.now == 1004.0
    assert bucket.set_aside() == 0
    assert bucket.tickets() == 0


async def test_a_token_set_aside_and_not_taken_goes_back_to_its_buckets() -> None:
    time = FakeTime()
    seen: list[tuple[float, float]] = []
    aside = asyncio.Event()

    def set_aside(pool: str) -> None:
        seen.append((time.now, bucket.headroom(create())))
        aside.set()

    limit = Limit(1, 0.1)
    settings = BudgetSettings(arm=limit, compute=limit, reserve=0, max_wait=5, hold=5)
    bucket = WriteBudget(settings, clock=time.clock, sleep=time.sleep, token_set_aside=set_aside)
    await bucket.acquire(create("a"))
    with pytest.raises(WriteBudgetExhausted) as raised:
        await bucket.acquire(create("b"))  # the bucket alone, no queue: a ticket all the same
    assert raised.value.retry_after == pytest.approx(10.0)
    await aside.wait()
    assert seen == [(1010.0, 0.0)]  # b's token set aside at its turn
    for _ in range(3):  # the budget's timer, to the end of the hold
        await asyncio.sleep(0)
    # b never came for it: 5 s on it is back in the bucket, with what refilled meanwhile.
    assert time.now == 1015.0
    assert bucket.set_aside() == 0
    assert bucket.headroom(create()) == pytest.approx(1.0)
    assert bucket.tickets() == 0


def sender(bucket: WriteBudget, time: FakeTime, sent: list[float]) -> Callable[[], Awaitable[None]]:
    """Sends a delete of pool "a" that `bucket` let in, putting when it was sent in `sent`."""

    async def send() -> None:
        async with bucket.sending(delete("a")):
            sent.append(time.now)

    return send


async def in_flight(bucket: WriteBudget, flying: AsyncExitStack, count: int) -> None:
    """Lets in and sends `count` deletes of pool "a", unanswered until `flying` closes."""
    for _ in range(count):
        await bucket.acquire(delete("a"))
        await flying.enter_async_context(bucket.sending(delete("a")))


async def test_writes_let_in_together_are_sent_as_azures_bucket_refills() -> None:
    time = FakeTime()
    bucket = budget(time)
    sent: list[float] = []
    send = sender(bucket, time, sent)

    for _ in range(3):  # let in, sent later (tokens set aside for pools that come together)
        await bucket.acquire(delete("a"))
    time.now += 10  # Azure's bucket, full, holds 3: not the 3 let in and the 3 refilled
    for _ in range(3):
        await bucket.acquire(delete("a"))
    await asyncio.gather(*(send() for _ in range(6)))
    assert sent == [1010.0, 1010.0, 1010.0, 1011.0, 1012.0, 1013.0]


async def test_writes_in_flight_fill_azures_bucket_until_they_are_answered() -> None:
    time = FakeTime()
    bucket = budget(time)
    sent: list[float] = []
    send = sender(bucket, time, sent)

    async with AsyncExitStack() as flying:
        await in_flight(bucket, flying, 3)
        time.now += 10
        await bucket.acquire(delete("a"))  # refilled, but Azure's bucket holds the three
        fourth = asyncio.create_task(send())
        for _ in range(5):
            await asyncio.sleep(0)
        assert sent == []
    answered = time.now
    await fourth
    assert sent == [answered + 1.0]


async def test_azures_count_is_lowered_by_the_other_writes_in_flight() -> None:
    time = FakeTime()
    bucket = budget(time, capacity=10)
    sent: list[float] = []
    send = sender(bucket, time, sent)

    async with AsyncExitStack() as flying:
        await in_flight(bucket, flying, 3)
        # Azure answered one of the three with 6 left: the two others will take theirs.
        bucket.report(("arm", "deletes"), 6)
        for _ in range(5):
            await bucket.acquire(delete("a"))
        await asyncio.gather(*(send() for _ in range(5)))
    assert sent == [1000.0] * 4 + [1001.0]
