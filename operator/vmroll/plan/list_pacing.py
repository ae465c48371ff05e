"""How often a resource group's shared list may start: by its pages, against Compute's High-cost
get bucket, as Azure last reported it.

Each page of a list of VMs (50 VMs) costs a token of Compute's High-cost get bucket per
subscription and region: 900, refilled 300 a minute (tests/integration/azure_examples/
compute_throttling.md). Lists were spaced by the group's own size at the full refill (a page per
0.2 s of the last list), so at rest one group of 10,000 VMs (200 pages) was listed every ~38 s:
315 pages a minute, above the refill, and two such groups in one subscription twice that.

So a group's list period counts the pages of every group listed in the subscription and region
(they draw on one bucket, whichever account lists them) against a share of the refill:
`AT_REST` for pools at rest, which take an older list rather than wait for one, and `AT_WORK`
for pools waiting on a change (a create or delete they follow through the list), which wait for
the next list. Pools at rest never take a list older than the operator's window or the period at
rest, whichever is longer: small groups are listed as often as before, large ones by their
pages.

That share assumes the bucket is vmroll's alone. Every page's answer says what is left of it
(`x-ms-ratelimit-remaining-resource`, `HighCostGet`), and a `HighCostReport` keeps the last
count: other clients of the subscription, a limit lower than published or a 429 show there. So:
- below `LOW_HEADROOM` tokens the share shrinks in proportion to what is left (225 left, half
  the share; an empty bucket, no share at all: pools at rest keep the list they have);
- a list starts only once the bucket, as reported and refilled since at the published rate,
  holds its pages and `RESERVE` tokens for other clients (the whole bucket at most);
- after a 429, no token is counted back before its `Retry-After` has passed.
Examples, one group of 200 pages alone: 60 s apart at work with 450 or more left; 120 s with 225
left; with 100 left, not before 22 s (210 tokens at 5 a second), then its period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

VMS_PER_PAGE = 50
HIGH_COST_CAPACITY = 900.0
HIGH_COST_REFILL_PER_SECOND = 300.0 / 60.0
AT_REST = 0.5
"""The share of the refill lists for pools at rest may spend: half is left to other clients."""
AT_WORK = 2.0 / 3.0
"""The share lists for pools waiting on a change may spend: a third is left to other clients."""
LOW_HEADROOM = HIGH_COST_CAPACITY / 2
"""Tokens below which lists slow down: others (or a lower limit) hold the other half."""
RESERVE = 10.0
"""Tokens a list leaves in the bucket for other clients, on top of its own pages."""


@dataclass(frozen=True)
class HighCostReport:
    """What Azure last said of one subscription-region's High-cost get bucket: `remaining`
    tokens at `at` (seconds, the caller's clock), none before `blocked_until` (a 429's
    `Retry-After`)."""

    remaining: float
    at: float
    blocked_until: float = -math.inf


def pages(vms: int) -> int:
    """Pages of a list of `vms` VMs: an empty group still costs one."""
    return max(1, math.ceil(vms / VMS_PER_PAGE))


def tokens_at(report: HighCostReport | None, now: float) -> float:
    """The bucket's tokens at `now` as reported and refilled since (none while blocked); full
    when nothing was reported."""
    if report is None:
        return HIGH_COST_CAPACITY
    if now < report.blocked_until:
        return 0.0
    since = max(report.at, report.blocked_until)
    refilled = max(0.0, now - since) * HIGH_COST_REFILL_PER_SECOND
    return min(HIGH_COST_CAPACITY, report.remaining + refilled)


def headroom_share(share: float, tokens: float) -> float:
    """`share` of the refill, shrunk in proportion below `LOW_HEADROOM` tokens."""
    return share * min(1.0, max(0.0, tokens) / LOW_HEADROOM)


def list_period(pages_listed: int, share: float) -> float:
    """Seconds between the starts of each group's lists so that the groups listed, `pages_listed`
    pages in all, spend at most `share` of the High-cost refill (never, with no share)."""
    if share <= 0.0:
        return math.inf
    return pages_listed / (share * HIGH_COST_REFILL_PER_SECOND)


def oldest_at_rest(
    window: float, pages_listed: int, report: HighCostReport | None = None, now: float = 0.0
) -> float:
    """The age below which a list serves pools at rest."""
    share = headroom_share(AT_REST, tokens_at(report, now))
    return max(window, list_period(pages_listed, share))


def refill_wait(list_pages: int, report: HighCostReport | None, now: float) -> float:
    """Seconds until the bucket holds a list of `list_pages` pages and the reserve."""
    if report is None:
        return 0.0
    need = min(HIGH_COST_CAPACITY, list_pages + RESERVE)
    start = max(now, report.blocked_until)
    missing = max(0.0, need - tokens_at(report, start))
    return start - now + missing / HIGH_COST_REFILL_PER_SECOND


def gap_at_work(
    pages_listed: int,
    since_last: float = 0.0,
    list_pages: int = 1,
    report: HighCostReport | None = None,
    now: float = 0.0,
) -> float:
    """Seconds from `now` until a group's next list may start for a pool at work: `since_last`
    seconds after its last list started (infinite: never listed), its list `list_pages` pages,
    `pages_listed` pages listed in all in its subscription and region. The share is that of when
    the bucket holds the list: from then on it only grows, so waiting this long is enough."""
    ready = refill_wait(list_pages, report, now)
    share = headroom_share(AT_WORK, tokens_at(report, now + ready))
    return max(0.0, ready, list_period(pages_listed, share) - since_last)
