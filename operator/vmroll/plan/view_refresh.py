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

When, within its period, a pool's views fall due is the pool's own moment, drawn from its UID
(`refresh_phase`): the views of a pool are read together at the moments k·period + phase·period,
whenever its VMs became healthy. A rule that only counted from the last read kept the moment at
which a fleet was created: created at once, 1,000 pools fell due within the same few minutes of
every period, and the operator's idle minutes swung from 14 % of a core to 2 % with them. Drawn
from the UID, the moments spread evenly over the period, and a pool keeps its own across restarts.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

REFRESH_SHARE = 0.4


def refresh_period(vms: int, configured: float, refill_per_second: float) -> float:
    """Seconds between two reads of a healthy VM's view when `vms` VMs are refreshed through a
    bucket refilled `refill_per_second`."""
    return max(configured, vms / (REFRESH_SHARE * refill_per_second))


def refresh_phase(key: str) -> float:
    """Where in every period the views of the pool keyed `key` (its UID) fall due, in [0, 1):
    spread evenly over keys and the same at every start of the operator."""
    return zlib.crc32(key.encode()) / 2**32


@dataclass(frozen=True)
class RefreshSchedule:
    """A pool's refresh moments: every `period` seconds, at `phase` of the period."""

    period: float
    phase: float = 0.0

    def due_at(self, read_at: datetime) -> datetime:
        """The first of the pool's moments at least half a period after `read_at`: no view is
        read again sooner than that, and views read at different moments fall due together."""
        if math.isinf(self.period):
            return datetime.max.replace(tzinfo=UTC)
        earliest = read_at.timestamp() + self.period / 2
        offset = self.phase * self.period
        k = math.ceil((earliest - offset) / self.period)
        return datetime.fromtimestamp(k * self.period + offset, UTC)

    def due(self, read_at: datetime, now: datetime) -> bool:
        """Whether a view read at `read_at` is due again at `now`."""
        return now >= self.due_at(read_at)


NEVER = RefreshSchedule(math.inf)
"""No refresh is ever due: the views a pass reads only to learn a VM's health."""
