"""Compute's Low-cost get bucket of a subscription and region, held by every pool once Azure
says it is empty.

Compute charges each GET of a VM and each instance view to the Low-cost get policy's bucket of
the VM and to the one of its subscription and region (emulator/compute_throttling.py, as
Microsoft lists them). When the subscription's is empty, Compute answers 429 with
`Microsoft.Compute/LowCostGet;0` as the subscription's entry of
`x-ms-ratelimit-remaining-resource`, and every such read of every pool of the subscription and
region is refused as well until its `Retry-After`. ARM's reads bucket still has tokens then, so
read_pacing.py (ARM's bucket, per connection) lets those reads go: each pool met the 429 of its
own, waited it out, and only that one pool did.

So every read of one VM the operator sends is sent inside `held(key)`, under the key of the
subscription and the VM's region (no VM URL names the region: a pool's VMs are in its region):
a pool's GET and instance view, the read-back of a create refused because its name exists, a
capture's reads of its source and builder, and the GET of the VM by which the SDK ends a create
or a tag update (sent while the gateway waits for the operation or writes). The request policy
(request_policy.py) finds the key in `held_reads()`, as it finds a call's `CallScope`, tells
each answer here, and first waits for the hold of the key to pass: it sleeps when the hold ends
within `max_wait` (as long as the SDK's retry policy waits out a 429 of its own), else nothing
is sent and it raises `Throttled` with the time left, which the pass waits out and names as its
cause, as it does Azure's own 429. The wait is after the retry policy, so that a read retried
after a 429 waits too. A 429 of one VM's own bucket (the VM's entry 0, the subscription's not)
holds nothing here: other VMs may be read. Holds are dropped once passed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from vmroll.azure.budget import Clock, Sleep
from vmroll.azure.errors import Throttled
from vmroll.azure.headroom import Headroom
from vmroll.azure.list_headroom import HighCostKey
from vmroll.azure.read_pacing import NoSpareRead, reads_spare

LOW_COST_GET = "LowCostGet"
_EPSILON = 1e-6
"""Waits below this are none: a timer woken at the computed instant finds the hold passed."""


class LowCostHolds:
    """Until when each (subscription, region) may not send Low-cost reads; shared by every
    account and pool."""

    def __init__(self, *, clock: Clock, sleep: Sleep, max_wait: float) -> None:
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait
        self._until: dict[HighCostKey, float] = {}

    def __len__(self) -> int:
        return len(self._until)

    def delay(self, key: HighCostKey) -> float:
        """Seconds until a Low-cost read under `key` may go."""
        until = self._until.get(key)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= _EPSILON:
            del self._until[key]
            return 0.0
        return left

    async def before_read(self, key: HighCostKey) -> None:
        """Wait out a hold that ends within `max_wait`; refuse the read for a longer one, and a
        spare read (read_pacing.py) for any hold: it is read at a later pass instead."""
        wait = self.delay(key)
        if wait > 0.0 and reads_spare():
            raise NoSpareRead
        while wait > 0.0:
            if wait > self._max_wait:
                subscription, region = key
                raise Throttled(
                    f"Compute's Low-cost get bucket of subscription {subscription} in "
                    f"{region} is empty (another read was answered 429); nothing was sent",
                    retry_after=wait,
                    policy=LOW_COST_GET,
                )
            await self._sleep(wait)
            wait = self.delay(key)

    @contextmanager
    def held(self, key: HighCostKey) -> Iterator[None]:
        """Reads of one VM sent inside (in this task and the tasks it starts) wait out the
        holds of `key`, and their answers are told here."""
        token = _HELD.set(HeldReads(self, key))
        try:
            yield
        finally:
            _HELD.reset(token)

    def answered(self, key: HighCostKey, status: int, headroom: Headroom) -> None:
        """One Low-cost read's answer: a 429 naming the subscription's bucket empty holds every
        read under `key` for its `Retry-After` (a second when it names none)."""
        if status != 429 or headroom.subscription.get(LOW_COST_GET) != 0:
            return
        until = self._clock() + (headroom.retry_after or 1.0)
        self._until[key] = max(self._until.get(key, until), until)

    def retain(self, subscriptions: Collection[str]) -> None:
        """Forget the holds of other subscriptions (lower case) and those passed."""
        now = self._clock()
        for key, until in list(self._until.items()):
            if key[0] not in subscriptions or until <= now:
                del self._until[key]


@dataclass(frozen=True)
class HeldReads:
    """The holds, and the key, of the reads of one VM sent from here."""

    holds: LowCostHolds
    key: HighCostKey

    async def before_read(self) -> None:
        await self.holds.before_read(self.key)

    def answered(self, status: int, headroom: Headroom) -> None:
        self.holds.answered(self.key, status, headroom)


_HELD: ContextVar[HeldReads | None] = ContextVar("vmroll_low_cost_held", default=None)


def held_reads() -> HeldReads | None:
    """The holds that reads of one VM sent from here wait out (`LowCostHolds.held`), if any."""
    return _HELD.get()
