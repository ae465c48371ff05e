"""A group's list period by its pages: within a share of Compute's High-cost get refill (300
pages a minute per subscription and region) at any fleet size, and no slower than before for
small groups; slower when Azure reports the bucket low, never into an empty or throttled one."""

from __future__ import annotations

import math

import pytest

from vmroll.plan.list_pacing import (
    AT_REST,
    AT_WORK,
    HighCostReport,
    gap_at_work,
    oldest_at_rest,
    pages,
    refill_wait,
    tokens_at,
)

WINDOW = 30.0
REFILL_A_MINUTE = 300.0


def test_a_page_holds_50_vms_and_an_empty_group_costs_a_page() -> None:
    assert [pages(n) for n in (0, 1, 50, 51, 500, 10_000)] == [1, 1, 1, 2, 10, 200]


def test_one_group_of_10000_vms_is_listed_every_80_s_at_rest_and_60_s_at_work() -> None:
    assert oldest_at_rest(WINDOW, 200) == pytest.approx(80.0)
    assert gap_at_work(200) == pytest.approx(60.0)


def test_a_small_group_is_listed_once_a_window_at_rest_and_soon_at_work() -> None:
    assert oldest_at_rest(WINDOW, 10) == WINDOW
    assert gap_at_work(10) == pytest.approx(3.0)


@pytest.mark.parametrize("groups", [1, 2, 7, 40])
@pytest.mark.parametrize("vms_each", [1, 499, 2_000, 10_000, 100_000])
def test_lists_spend_at_most_their_share_of_the_refill_at_any_fleet_size(
    groups: int, vms_each: int
) -> None:
    # Each group of the connection is listed once a period; the period counts all their pages.
    listed = groups * pages(vms_each)

    at_rest = listed * 60.0 / oldest_at_rest(WINDOW, listed)
    at_work = listed * 60.0 / gap_at_work(listed)

    assert at_rest <= AT_REST * REFILL_A_MINUTE + 1e-9
    assert at_work == pytest.approx(AT_WORK * REFILL_A_MINUTE)


NOW = 1000.0


@pytest.mark.parametrize(
    ("report", "now", "tokens"),
    [
        pytest.param(None, NOW, 900.0, id="nothing reported: full"),
        pytest.param(HighCostReport(100, NOW), NOW, 100.0, id="as reported"),
        pytest.param(HighCostReport(100, NOW), NOW + 10, 150.0, id="refilled 5 a second"),
        pytest.param(HighCostReport(100, NOW), NOW + 1000, 900.0, id="never above capacity"),
        pytest.param(HighCostReport(0, NOW, NOW + 30), NOW + 20, 0.0, id="429: none before"),
        pytest.param(HighCostReport(0, NOW, NOW + 30), NOW + 32, 10.0, id="429: refills after"),
    ],
)
def test_the_bucket_is_counted_from_the_last_report(
    report: HighCostReport | None, now: float, tokens: float
) -> None:
    assert tokens_at(report, now) == pytest.approx(tokens)


@pytest.mark.parametrize(
    ("remaining", "since_last", "gap"),
    [
        pytest.param(900, 0.0, 60.0, id="full: the period"),
        pytest.param(450, 0.0, 60.0, id="half left: still the period"),
        pytest.param(225, 0.0, 120.0, id="a quarter left: twice the period"),
        pytest.param(225, 100.0, 20.0, id="a quarter left, 100 s since the last list"),
        # 210 tokens (the list and the reserve) in 22 s; then 7/15 of the share: 128.6 s.
        pytest.param(100, 0.0, 60.0 * 450 / 210, id="too few for the list: its refill first"),
        pytest.param(100, 1000.0, 22.0, id="too few, long since: the refill alone"),
        pytest.param(0, 1000.0, 42.0, id="empty: the refill of the list and the reserve"),
    ],
)
def test_lists_at_work_slow_down_as_the_reported_remainder_runs_low(
    remaining: int, since_last: float, gap: float
) -> None:
    report = HighCostReport(remaining, NOW)

    assert gap_at_work(200, since_last, 200, report, NOW) == pytest.approx(gap)


def test_no_list_starts_before_a_429s_retry_after_and_the_refill_after_it() -> None:
    report = HighCostReport(0, NOW, blocked_until=NOW + 30)

    assert refill_wait(10, report, NOW) == pytest.approx(30 + 20 / 5)
    assert gap_at_work(10, math.inf, 10, report, NOW) == pytest.approx(34.0)
    assert gap_at_work(10, math.inf, 10, report, NOW + 34) == 0.0


def test_a_list_larger_than_the_bucket_waits_only_for_a_full_bucket() -> None:
    assert refill_wait(2_000, HighCostReport(0, NOW), NOW) == pytest.approx(180.0)


@pytest.mark.parametrize(
    ("remaining", "oldest"),
    [
        pytest.param(900, 80.0, id="full: the period at rest"),
        pytest.param(90, 400.0, id="a tenth left: five times longer"),
        pytest.param(0, math.inf, id="empty: the last list serves however old"),
    ],
)
def test_pools_at_rest_keep_older_lists_as_the_reported_remainder_runs_low(
    remaining: int, oldest: float
) -> None:
    assert oldest_at_rest(WINDOW, 200, HighCostReport(remaining, NOW), NOW) == oldest
