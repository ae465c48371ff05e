"""A group's list period by its pages: within a share of Compute's High-cost get refill (300
pages a minute per subscription and region) at any fleet size, and no slower than before for
small groups."""

from __future__ import annotations

import pytest

from vmroll.plan.list_pacing import AT_REST, AT_WORK, gap_at_work, oldest_at_rest, pages

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
