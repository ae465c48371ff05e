"""ARM's reads bucket per subscription, paced on vmroll's side so that a fleet's reads slow
down before ARM answers 429.

ARM keeps a token bucket of reads per principal and subscription: 250, refilled 25 a second
(the shared reference's errors_throttling.md, section 2), and every answer reports what is left
of it in `x-ms-ratelimit-remaining-subscription-reads`. Writes were paced by their buckets
(budget.py) but reads were not: 50 pools of 10 VMs created at once asked for about 32 reads a
second (operation polls, instance views, lists, the SDK's final GET of each create) and were
answered 429 2,460 times in 167 s; each 429 costs a `Retry-After` wait and a retry of its own.

So every GET of a connection waits here first (request_policy.HeadroomPolicy, after the retry
policy, so that a retry waits too): until vmroll's count of the bucket (lowered to what ARM
reports) holds a token above `reserve`, and until the `Retry-After` of a 429 has passed. Waiters
go one at a time, so that the refill is handed out a token at a time and not to every waiter at
once. Reads that find tokens do not wait at all.

A read's token is taken when it is let go, but ARM counts it only when it arrives, and a read
let go may still wait for one of the session's connections (transport.py) and for the emulator's
or ARM's turn: meanwhile ARM's bucket, full, refills no further, while a count refilled by the
clock alone did, and let the next burst go on tokens ARM never had (each 429 then holds every
read back for its `Retry-After`; issue 12's 1,000 x 10 rollout met 352 of them). So reads
are counted on the wire from their token to their answer (`sending`), as the write budget counts
writes in flight: the count refills to no more than the capacity less the reads on the wire, and
a count ARM reports is lowered by the other reads on the wire, which it may not have counted yet.

Waiters go in arrival order. Reads sent inside `spare_reads()` never wait: they are the
refreshes of healthy VMs' instance views, which no pass waits on. One that finds other reads
waiting, or fewer than `SPARE_FLOOR` of the capacity left, raises `NoSpareRead` before anything
is sent, and the pass tries it again at a later pass: a pass held by refreshes while the bucket
is spent (issue 12's rollout, where they asked for more than the refill) delayed the reads of
every pool behind it. The floor keeps half the bucket for the reads passes wait on: refreshes
that took every token above the reserve kept the bucket empty through a rollout bound by ARM's
refill, so that each burst of lists, GETs and first views of new VMs went at the refill alone,
and the longer rollout brought more refreshes due (issue 12's 1,000 x 10 rollout read 21,580
views, 11,580 more than one per new VM; 10,816 with the floor). A bucket that refills above the
floor has reads no pass asks for.

How often they come is paced here too: each pool tells the pacer how many VMs it refreshes
(`refresh_period`), and the period grows with their sum so that the refreshes of every VM of the
connection keep to a share of the refill (plan/view_refresh.py). A pool that stops telling (it
was deleted, or moved to another account) is forgotten two periods later.

The clock and the sleep are injected so that tests drive time by hand.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar

from vmroll.azure.budget import Clock, Limit, Sleep
from vmroll.plan.view_refresh import refresh_period

ARM_READS = Limit(250.0, 25.0)
SPARE_FLOOR = 0.5
"""Share of the bucket's capacity a spare read leaves for the reads passes wait on."""
_EPSILON = 1e-6
"""Waits below this are none: a timer woken at the computed instant must find its token."""
_SPARE: ContextVar[bool] = ContextVar("vmroll_spare_reads", default=False)
_SWEEP_EVERY = 60.0
"""Seconds between two looks for pools no longer telling their count: a look reads every pool."""


class NoSpareRead(Exception):
    """A read sent inside `spare_reads()` would have waited for ARM's reads bucket: not sent."""


@contextmanager
def spare_reads() -> Iterator[None]:
    """Reads sent inside (in this task and the tasks it starts) go only on a token free now,
    ahead of no other read, else raise `NoSpareRead`: for reads nobody waits on."""
    token = _SPARE.set(True)
    try:
        yield
    finally:
        _SPARE.reset(token)


def reads_spare() -> bool:
    """Whether reads sent from here are spare ones (`spare_reads`)."""
    return _SPARE.get()


class ReadPacer:
    """One connection's ARM reads: shared by every client and pool that uses it."""

    def __init__(
        self, *, clock: Clock, sleep: Sleep, limit: Limit = ARM_READS, reserve: float = 5.0
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._limit = limit
        self._reserve = reserve
        self._tokens = limit.capacity
        self._updated = clock()
        self._not_before = self._updated
        self._held = False
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._on_the_wire = 0
        """Reads let go (`sending`) and not answered yet: maybe not in ARM's count."""
        self._refreshed: dict[str, tuple[int, float]] = {}
        """VMs each pool refreshes through this bucket, and when it last said so."""
        self._refreshed_sum = 0
        self._swept = self._updated

    def delay(self) -> float:
        """Seconds until a read may go."""
        self._refill()
        missing = max(0.0, 1.0 + self._reserve - self._tokens)
        return max(self._not_before - self._updated, missing / self._limit.refill_per_second)

    async def before_read(self) -> None:
        """Wait for a token (behind earlier waiters), then take it; a spare read that would
        wait, or take the bucket below `SPARE_FLOOR`, raises `NoSpareRead` instead."""
        if reads_spare() and (self._held or not self._spare_token()):
            raise NoSpareRead("no token of ARM's reads bucket is spare now")
        await self._take_turn()
        try:
            wait = self.delay()
            while wait > _EPSILON:
                await self._sleep(wait)
                wait = self.delay()
            self._tokens = max(0.0, self._tokens - 1.0)
        finally:
            self._pass_turn()

    @asynccontextmanager
    async def sending(self) -> AsyncIterator[None]:
        """Around one read's send: take its token (`before_read`); until the block ends the read
        is on the wire, maybe not yet in ARM's count. Its answer is told inside the block."""
        await self.before_read()
        self._on_the_wire += 1
        try:
            yield
        finally:
            self._refill()
            self._on_the_wire -= 1

    def answered(self, status: int, *, remaining: int | None, retry_after: float | None) -> None:
        """ARM's answer to a read (inside its `sending`): `remaining` of the bucket, of which the
        other reads on the wire will take theirs; on a 429 of this bucket (one naming no count,
        or none left), read nothing more until `retry_after` (one second when it names none)
        has passed. A 429 with reads left is Compute's, of one policy or one VM: other reads
        may go (Compute's buckets are paced where they are spent)."""
        self._refill()
        if remaining is not None:
            others = max(0, self._on_the_wire - 1)
            self._tokens = min(self._tokens, float(remaining) - others)
        if status == 429 and not remaining:
            self._tokens = min(self._tokens, 0.0)
            self._not_before = max(self._not_before, self._updated + (retry_after or 1.0))

    def _spare_token(self) -> bool:
        """Whether a read may go now and leave `SPARE_FLOOR` of the capacity."""
        floor = max(self._reserve, SPARE_FLOOR * self._limit.capacity)
        return self.delay() <= _EPSILON and self._tokens >= 1.0 + floor

    def _refill(self) -> None:
        now = self._clock()
        if now > self._updated:
            gained = (now - self._updated) * self._limit.refill_per_second
            # ARM's bucket holds the reads on the wire too, and no more than its capacity.
            ceiling = self._limit.capacity - self._on_the_wire
            self._tokens = min(ceiling, self._tokens + gained)
            self._updated = now

    def refresh_period(self, pool: str, vms: int, configured: float) -> float:
        """Seconds between two refreshes of a healthy VM's view, now that `pool` refreshes
        `vms` VMs through this bucket (plan/view_refresh.py)."""
        now = self._clock()
        known = self._refreshed.get(pool)
        self._refreshed_sum += vms - (known[0] if known is not None else 0)
        self._refreshed[pool] = (vms, now)
        if now - self._swept >= _SWEEP_EVERY:
            self._swept = now
            # A pool at rest still tells its count once a period, when its views come due.
            horizon = 2 * self._refresh_period(configured)
            for gone in [p for p, (_, told) in self._refreshed.items() if now - told > horizon]:
                self._refreshed_sum -= self._refreshed.pop(gone)[0]
        return self._refresh_period(configured)

    def _refresh_period(self, configured: float) -> float:
        return refresh_period(self._refreshed_sum, configured, self._limit.refill_per_second)

    async def _take_turn(self) -> None:
        if not self._held:
            self._held = True
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                # Handed the turn as it was cancelled: the next waiter takes it.
                self._pass_turn()
            else:
                self._waiting.remove(turn)
            raise

    def _pass_turn(self) -> None:
        """Hand the turn to the first waiter, or free it."""
        if self._waiting:
            self._waiting.popleft().set_result(None)
            return
        self._held = False
