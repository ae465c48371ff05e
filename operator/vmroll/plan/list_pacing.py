"""How often a resource group's shared list may start: by its pages, against Compute's High-cost
get bucket.

Each page of a list of VMs (50 VMs) costs a token of Compute's High-cost get bucket per
subscription and region: 900, refilled 300 a minute (tests/integration/azure_examples/
compute_throttling.md). Lists were spaced by the group's own size at the full refill (a page per
0.2 s of the last list), so at rest one group of 10,000 VMs (200 pages) was listed every ~38 s:
315 pages a minute, above the refill, and two such groups in one subscription twice that.

So a group's list period counts the pages of every group the connection lists (one account's
groups draw on one subscription's bucket) against a share of the refill: `AT_REST` for pools at
rest, which take an older list rather than wait for one, and `AT_WORK` for pools waiting on a
change (a create or delete they follow through the list), which wait for the next list. Pools at
rest never take a list older than the operator's window or the period at rest, whichever is
longer: small groups are listed as often as before, large ones by their pages.
"""

from __future__ import annotations

import math

VMS_PER_PAGE = 50
HIGH_COST_REFILL_PER_SECOND = 300.0 / 60.0
AT_REST = 0.5
"""The share of the refill lists for pools at rest may spend: half is left to other clients."""
AT_WORK = 2.0 / 3.0
"""The share lists for pools waiting on a change may spend: a third is left to other clients."""


def pages(vms: int) -> int:
    """Pages of a list of `vms` VMs: an empty group still costs one."""
    return max(1, math.ceil(vms / VMS_PER_PAGE))


def list_period(pages_listed: int, share: float) -> float:
    """Seconds between the starts of each group's lists so that the groups listed, `pages_listed`
    pages in all, spend at most `share` of the High-cost refill."""
    return pages_listed / (share * HIGH_COST_REFILL_PER_SECOND)


def oldest_at_rest(window: float, pages_listed: int) -> float:
    """The age below which a list serves pools at rest."""
    return max(window, list_period(pages_listed, AT_REST))


def gap_at_work(pages_listed: int) -> float:
    """Seconds after a group's last list started before one may start for a pool at work."""
    return list_period(pages_listed, AT_WORK)
