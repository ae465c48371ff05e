"""What Compute last reported of each subscription-region's High-cost get bucket, which lists of
VMs draw on, for the resource groups' list pacing (plan/list_pacing.py).

Every page of a list is answered with what is left of the bucket (`HighCostGet` in
`x-ms-ratelimit-remaining-resource`): the gateway lists in a `CallScope` whose `listed` hands
each answer here (headroom.py), under the key of the subscription and the pool's region (Compute
charges a group's list to the group's region, which no list URL names: a pool's VMs are taken to
be in their group's region). The newest count wins, whichever account's list it answered: all
draw on one bucket. A 429 that names the bucket empty blocks it until its `Retry-After`.

Reports are dropped once the bucket has refilled by their count (they say nothing more), and
with their subscription when no account uses it.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable

from vmroll.azure.budget import Clock
from vmroll.azure.headroom import Headroom
from vmroll.plan.list_pacing import HIGH_COST_CAPACITY, HighCostReport, tokens_at

HIGH_COST_GET = "HighCostGet"
HighCostKey = tuple[str, str]


def high_cost_key(subscription_id: str, region: str) -> HighCostKey:
    return subscription_id.lower(), region.replace(" ", "").lower()


class HighCostReports:
    """The last report per (subscription, region), shared by every account and pool."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._reports: dict[HighCostKey, HighCostReport] = {}

    def __len__(self) -> int:
        return len(self._reports)

    def latest(self, key: Hashable) -> HighCostReport | None:
        """What was last reported under `key` (a `high_cost_key`), if anything."""
        return self._reports.get(key) if isinstance(key, tuple) else None

    def answered(self, key: HighCostKey, status: int, headroom: Headroom) -> None:
        """One page's answer: keep its count; on a 429 with none left, block the bucket for
        its `Retry-After` (a second when it names none). A 429 with tokens left is ARM's
        (read_pacing.py holds those back)."""
        remaining = headroom.subscription.get(HIGH_COST_GET)
        if remaining is None:
            return
        now = self._clock()
        previous = self._reports.get(key)
        blocked_until = previous.blocked_until if previous is not None else -float("inf")
        if status == 429 and remaining == 0:
            blocked_until = max(blocked_until, now + (headroom.retry_after or 1.0))
        self._reports[key] = HighCostReport(float(remaining), now, blocked_until)

    def retain(self, subscriptions: Collection[str]) -> None:
        """Forget the reports of other subscriptions (lower case) and of refilled buckets."""
        now = self._clock()
        for key, report in list(self._reports.items()):
            if key[0] not in subscriptions or tokens_at(report, now) >= HIGH_COST_CAPACITY:
                del self._reports[key]
