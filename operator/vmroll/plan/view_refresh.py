"""How often a healthy VM's instance view is read again: no sooner than the configured period,
and no sooner than keeps the refreshes of every VM read through one ARM reads bucket (one
principal and subscription: every pool and group of it) to `REFRESH_SHARE` of its refill.

ARM refills a subscription's reads bucket 25 a second (azure/read_pacing.py). Refreshed every
600 s, 10,000 VMs ask 16.7 reads a second and 20,000 (a rollout surging to twice the fleet) 33:
more than the whole refill, so that the lists, GETs, polls and first views a rollout waits on
queued behind them (issue 12). The refreshes watch VMs already healthy; nothing waits on them.

`REFRESH_SHARE` is 40 %: the rest, 15 reads a second, is about twice what a rollout of 1,000
pools of 10 VMs sent besides the views (7.6 a second: GETs, list pages, operation polls), so
that the reads a pool at work waits on keep room for the views of its new VMs too.

  VMs read through the bucket  configured  period
  1,000                        600 s       600 s (1,000 / 10 = 100 s: the configured rules)
  6,000                        600 s       600 s (exactly both)
  10,000                       600 s       1,000 s
  20,000                       600 s       2,000 s
"""

from __future__ import annotations

REFRESH_SHARE = 0.4


def refresh_period(vms: int, configured: float, refill_per_second: float) -> float:
    """Seconds between two reads of a healthy VM's view when `vms` VMs are refreshed through a
    bucket refilled `refill_per_second`."""
    return max(configured, vms / (REFRESH_SHARE * refill_per_second))
