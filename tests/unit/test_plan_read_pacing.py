"""Instance-view reads paced by Azure's per-VM Low Cost Get bucket: 36 at once, then 12 a minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vmroll.plan.read_pacing import (
    BURST,
    READS_PER_MINUTE,
    RESERVE,
    ReadAllowance,
    refilled,
    take_read,
)

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def reads_allowed(times: list[datetime]) -> int:
    allowance: ReadAllowance | None = None
    allowed = 0
    for now in times:
        ok, allowance = take_read(allowance, now)
        allowed += ok
    return allowed


def test_a_fresh_vm_may_be_read_32_times_at_once_leaving_4_for_other_gets() -> None:
    assert reads_allowed([T0] * 50) == BURST - RESERVE == 32


def test_after_the_burst_reads_refill_at_12_a_minute() -> None:
    every_second = [T0 + timedelta(seconds=s) for s in range(10 * 60)]
    # 32 at first, then one every 5 s for the rest of the ten minutes.
    assert reads_allowed(every_second) == 32 + int((10 * 60 - 1) * READS_PER_MINUTE / 60)


def test_reads_spaced_wider_than_the_refill_are_never_refused() -> None:
    every_five_seconds = [T0 + timedelta(seconds=5 * s) for s in range(500)]
    assert reads_allowed(every_five_seconds) == 500


def test_a_clock_going_backwards_refills_nothing() -> None:
    allowance = ReadAllowance(RESERVE + 0.5, T0)
    ok, after = take_read(allowance, T0 - timedelta(minutes=5))
    assert not ok
    assert after.tokens == RESERVE + 0.5


def test_a_spent_bucket_is_remembered_until_it_is_full_again() -> None:
    _, spent = take_read(None, T0)
    assert not refilled(spent, T0 + timedelta(seconds=4))
    assert refilled(spent, T0 + timedelta(seconds=5))
