"""How often one VM's instance view may be read: Azure's Low Cost Get policy, per VM.

Compute keeps a token bucket per VM for cheap reads (get, instance view): 12 tokens a minute, up
to 36 (Microsoft's "Compute throttling limits", copied in
tests/integration/azure_examples/compute_throttling.md). A pass reads the instance view of every
VM that is not healthy yet, every pass (2 s by default): a VM that stays unhealthy, the very case
a health-gated rollout watches, would empty its bucket in about two minutes and then be answered
429 for as long as it stays so. Pacing those reads by the same bucket keeps vmroll inside the
limit without slowing the common case: a VM that turns healthy within its first 32 reads is read
exactly as often as before; after that it is read every 5 s, which still gives a health verdict
well within any grace period.

Azure charges other reads to the same bucket: the SDK's final GET of each create or reimage it
polls, a GET by name while a list lags. vmroll does not count those, so it leaves `RESERVE`
tokens in its model of the bucket for them: without that margin its paced reads would arrive
just as Azure's bucket, a token or two lower, is empty, and every one would be refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

READS_PER_MINUTE = 12.0
BURST = 36.0
RESERVE = 4.0


@dataclass(frozen=True, slots=True)
class ReadAllowance:
    """The reads left in one VM's bucket at `at`, as vmroll counts them."""

    tokens: float
    at: datetime


def take_read(allowance: ReadAllowance | None, now: datetime) -> tuple[bool, ReadAllowance]:
    """Whether a read may be sent now, and the allowance after it (or after refusing it).

    A VM never read starts with a full bucket; a clock that goes backwards refills nothing.
    """
    tokens = BURST if allowance is None else _tokens_at(allowance, now)
    if tokens < 1.0 + RESERVE:
        return False, ReadAllowance(tokens, now)
    return True, ReadAllowance(tokens - 1.0, now)


def refilled(allowance: ReadAllowance, now: datetime) -> bool:
    """Whether the bucket is full again: only then may vmroll forget it. Azure keeps a bucket
    per VM resource ID, and a pool gives a deleted VM's name to the next VM it creates, so an
    allowance dropped with its VM would let the new VM read from a bucket Azure still counts as
    spent."""
    return _tokens_at(allowance, now) >= BURST


def _tokens_at(allowance: ReadAllowance, now: datetime) -> float:
    elapsed = max(0.0, (now - allowance.at).total_seconds())
    return min(BURST, allowance.tokens + elapsed * READS_PER_MINUTE / 60.0)
