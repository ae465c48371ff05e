"""What a list's answers say of the High-cost get bucket is kept per subscription and region: the
newest count, a 429's Retry-After when it names the bucket empty, nothing once refilled."""

from __future__ import annotations

import math

from vmroll.azure.headroom import read_headroom
from vmroll.azure.list_headroom import HighCostReports, high_cost_key
from vmroll.plan.list_pacing import HighCostReport

KEY = high_cost_key("SUB", "West Europe")


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(remaining: int, retry_after: str | None = None) -> dict[str, str]:
    headers = {"x-ms-ratelimit-remaining-resource": f"Microsoft.Compute/HighCostGet;{remaining}"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return headers


def test_the_newest_count_is_kept_under_the_subscription_and_region() -> None:
    clock = Clock()
    reports = HighCostReports(clock)
    reports.answered(KEY, 200, read_headroom(answer(120)))
    clock.now += 1
    reports.answered(high_cost_key("sub", "westeurope"), 200, read_headroom(answer(119)))

    assert KEY == ("sub", "westeurope")
    assert reports.latest(KEY) == HighCostReport(119, 1001.0)
    assert reports.latest(high_cost_key("sub", "eastus")) is None


def test_a_429_naming_the_bucket_empty_blocks_it_and_one_with_tokens_left_does_not() -> None:
    clock = Clock()
    reports = HighCostReports(clock)

    reports.answered(KEY, 429, read_headroom(answer(5, "7")))  # ARM's reads, not this bucket
    assert reports.latest(KEY) == HighCostReport(5, 1000.0, -math.inf)
    reports.answered(KEY, 429, read_headroom(answer(0, "10")))
    assert reports.latest(KEY) == HighCostReport(0, 1000.0, 1010.0)
    clock.now += 2
    reports.answered(KEY, 200, read_headroom({}))  # no count: nothing learnt
    reports.answered(KEY, 200, read_headroom(answer(3)))
    assert reports.latest(KEY) == HighCostReport(3, 1002.0, 1010.0)


def test_reports_go_once_refilled_or_with_their_subscription() -> None:
    clock = Clock()
    reports = HighCostReports(clock)
    reports.answered(KEY, 200, read_headroom(answer(0)))
    reports.answered(high_cost_key("other", "westeurope"), 200, read_headroom(answer(0)))

    reports.retain({"sub"})
    assert len(reports) == 1
    clock.now += 179
    reports.retain({"sub"})
    assert len(reports) == 1
    clock.now += 1  # 900 tokens at 5 a second
    reports.retain({"sub"})
    assert len(reports) == 0
