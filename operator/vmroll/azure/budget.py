"""Write budgets per subscription: Azure's own buckets, kept in step with the headroom Azure
reports, and shared fairly by the pools that write.

A write to a VM passes two of Azure's token buckets, and vmroll models both with Azure's
published figures (the shared reference's errors_throttling.md, section 2, and
tests/integration/azure_examples/compute_throttling.md):
- ARM's, per subscription (and principal): `writes` (PUT, PATCH, POST) and `deletes`, each 200,
  refilled 10 a second;
- Compute's, per subscription and region, one per policy: Put VM (create), Update VM (reimage,
  tag update) and Delete VM, each 1,500, refilled 500 a minute.
Every answer says what is left of the buckets it was charged to; the pipeline reads it
(headroom.py) and `report` lowers vmroll's count to Azure's, so that other clients of the
subscription, a limit smaller than published or spending forgotten in a restart slow vmroll down
before Azure answers 429. `reserve` tokens of each bucket are left to others. When Azure still
throttles, `defer` empties the buckets it named until the `Retry-After` passes.

Fairness: writes wait in one queue per pool, and the next token goes to the pool served least
recently (a pool newly waiting first): round-robin, so a pool that asks for a hundred writes at
once gets one turn per round like a pool that asks for one, and every pool's rollout progresses
in every window, whatever the others ask. Who was served when is forgotten whenever no write
waits. A pool's queue keeps one line per kind of write (the buckets it draws on), first come
first served within each: a delete whose buckets have tokens goes while the pool's creates wait
for theirs. In one line per pool, a rollout's deletes of old VMs waited behind its surge creates
for the Put VM bucket (issue 12: 1,000 pools rolling, deletes went at a quarter of their refill
while creates kept Azure's pace).

`max_wait` bounds a caller's whole wait, queue included. On arrival its wait is estimated for
each bucket it draws on, from the writes ahead of it that draw on that bucket (its own pool's
queue and, under round-robin, at most as many turns of every other pool) and the bucket's
refill: a delete does not wait behind creates, which other buckets serve. A caller that would
wait longer is refused at once (`WriteBudgetExhausted`). One that pools arriving later push
back is refused at its deadline, never later.

A refusal's `retry_after` is when a write like it would be let in (its estimate less
`max_wait`), not when it would be served: the refused pool's next pass lists and reads before it
writes, and at fleet scale, where reads are paced, that takes tens of seconds. A pool told to
come back when its write would be served comes back after the queue ran dry; pools refused
together come back together, and buckets refill unused in between (benchmarks/budget_share.py:
1,000 pools rolling with 30-s passes, creates took 1.36x Azure's pace, 1.04x so).

When the queue runs dry before a refused pool comes back (writes that were ahead withdrawn,
refused at their deadline, or served faster than estimated), tokens would refill unused while it
waits. So every pool refused while others queued is named to `drained` (the operator wakes its
pass) once no write waits.

The clock and the sleep are injected so that tests drive time by hand; waits and refusals are
reported to the observer (the operator's metrics).
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field

from vmroll.azure.errors import WriteBudgetExhausted
from vmroll.azure.observer import NOT_OBSERVED, AzureObserver

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Drained = Callable[[str], None]

_EPSILON = 1e-9
"""Waits below this are none: a timer woken at the computed instant must find its token."""


class ArmBucket(enum.StrEnum):
    """ARM's per-subscription buckets a write draws on, as its answers name them."""

    WRITES = "writes"
    DELETES = "deletes"


class ComputePolicy(enum.StrEnum):
    """Compute's write policies, named as in `x-ms-ratelimit-remaining-resource`."""

    PUT_VM = "PutVM"
    UPDATE_VM = "UpdateVM"
    DELETE_VM = "DeleteVM"


@dataclass(frozen=True)
class Limit:
    """One token bucket: `capacity` at once, then `refill_per_second`."""

    capacity: float
    refill_per_second: float


ARM_WRITES = Limit(200.0, 10.0)
COMPUTE_WRITES = Limit(1500.0, 500.0 / 60.0)


@dataclass(frozen=True)
class BudgetSettings:
    """Azure's published limits; `reserve` tokens of each bucket are left to other clients; a
    caller waits at most `max_wait` in all, queueing behind other writes included."""

    arm: Limit = ARM_WRITES
    compute: Limit = COMPUTE_WRITES
    reserve: float = 10.0
    max_wait: float = 10.0


@dataclass(frozen=True)
class Write:
    """What one write asks of its subscription's budget, and whose queue it waits in."""

    pool: str
    arm: ArmBucket
    policy: ComputePolicy | None
    region: str


BucketKey = tuple[str, ...]


def no_one(pool: str) -> None:
    """No one to tell that the queue ran dry."""


def bucket_keys(write: Write) -> tuple[BucketKey, ...]:
    arm: BucketKey = ("arm", write.arm.value)
    if write.policy is None:
        return (arm,)
    return arm, ("compute", write.region.replace(" ", "").lower(), write.policy.value)


class _Bucket:
    def __init__(self, limit: Limit, now: float) -> None:
        self.limit = limit
        self.tokens = limit.capacity
        self.updated = now
        self.blocked_until = float("-inf")

    def refill(self, now: float) -> None:
        start = max(self.updated, min(now, self.blocked_until))
        if now > start:
            gained = (now - start) * self.limit.refill_per_second
            self.tokens = min(self.limit.capacity, self.tokens + gained)
        self.updated = max(self.updated, now)

    def wait_for(self, count: float, reserve: float, now: float) -> float:
        """Seconds until `count` tokens above `reserve` are there."""
        self.refill(now)
        blocked = max(0.0, self.blocked_until - now)
        missing = max(0.0, count + reserve - self.tokens)
        return blocked + missing / self.limit.refill_per_second


@dataclass(eq=False)
class _Waiter:
    keys: tuple[BucketKey, ...]
    deadline: float
    arrival: int
    granted: asyncio.Future[None] = field(repr=False)


class _PoolQueue:
    """One pool's waiting writes: a line per kind (the buckets drawn on), each in arrival
    order, so that deadlines grow along each line too."""

    def __init__(self) -> None:
        self.lines: dict[tuple[BucketKey, ...], deque[_Waiter]] = {}

    def __len__(self) -> int:
        return sum(len(line) for line in self.lines.values())

    def __iter__(self) -> Iterator[_Waiter]:
        for line in self.lines.values():
            yield from line

    def append(self, waiter: _Waiter) -> None:
        self.lines.setdefault(waiter.keys, deque()).append(waiter)

    def remove(self, waiter: _Waiter) -> bool:
        line = self.lines.get(waiter.keys)
        if line is None or waiter not in line:
            return False
        line.remove(waiter)
        if not line:
            del self.lines[waiter.keys]
        return True

    def heads(self) -> list[_Waiter]:
        """The first waiter of each line, the callers cancelled meanwhile dropped."""
        for keys, line in list(self.lines.items()):
            while line and line[0].granted.done():
                line.popleft()
            if not line:
                del self.lines[keys]
        return [line[0] for line in self.lines.values()]

    def first_arrival(self) -> int:
        return min(line[0].arrival for line in self.lines.values())


class WriteBudget:
    """The buckets of one subscription, and the writes queued for them per pool."""

    def __init__(
        self,
        settings: BudgetSettings,
        *,
        clock: Clock,
        sleep: Sleep,
        observer: AzureObserver = NOT_OBSERVED,
        drained: Drained = no_one,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._observer = observer
        self._drained = drained
        self._refused: set[str] = set()
        """Pools refused while writes queued, to be told when none does."""
        self._buckets: dict[BucketKey, _Bucket] = {}
        self._queues: dict[str, _PoolQueue] = {}
        """Pools with writes waiting."""
        self._last_served: dict[str, int] = {}
        """The grant (a sequence number) each pool had last, while writes wait."""
        self._sequence = 0
        self._timer: asyncio.Task[None] | None = None
        self._timer_at = float("inf")

    def headroom(self, write: Write) -> float:
        """Writes like `write` that could start now, the reserve left aside."""
        now = self._clock()
        counts = []
        for key in bucket_keys(write):
            bucket = self._bucket(key)
            bucket.refill(now)
            blocked = bucket.blocked_until > now
            counts.append(0.0 if blocked else bucket.tokens - self._settings.reserve)
        return max(0.0, min(counts))

    def wait_needed(self, write: Write) -> float:
        """Seconds until one write like `write` fits, not counting writes queued."""
        now = self._clock()
        return self._wait_for(bucket_keys(write), 1.0, now)

    def queued(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    async def acquire(self, write: Write) -> None:
        """Take one token of each bucket `write` draws on, waiting up to `max_wait` in all (the
        queue included); beyond it raise `WriteBudgetExhausted`, at once when foreseeable."""
        now = self._clock()
        keys = bucket_keys(write)
        if not self._queues and self._wait_for(keys, 1.0, now) <= _EPSILON:
            self._take(keys)
            return
        estimate = self._estimate(write.pool, keys, now)
        if estimate > self._settings.max_wait:
            if self._queues:
                self._refused.add(write.pool)
            raise self._exhausted(estimate)
        self._sequence += 1
        future = asyncio.get_running_loop().create_future()
        waiter = _Waiter(keys, now + self._settings.max_wait, self._sequence, future)
        self._queues.setdefault(write.pool, _PoolQueue()).append(waiter)
        self._wake()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            self._withdraw(write.pool, waiter)
            raise
        self._observer.budget_wait(self._clock() - now)

    def report(self, key: BucketKey, remaining: float) -> None:
        """Azure said `remaining` tokens are left in this bucket: never count more."""
        bucket = self._bucket(key)
        bucket.refill(self._clock())
        bucket.tokens = min(bucket.tokens, max(0.0, remaining))

    def defer(self, keys: Iterable[BucketKey], seconds: float) -> None:
        """Azure throttled a write on these buckets: none is spent for `seconds`."""
        now = self._clock()
        for key in keys:
            bucket = self._bucket(key)
            bucket.refill(now)
            bucket.tokens = 0.0
            bucket.blocked_until = max(bucket.blocked_until, now + seconds)

    def _bucket(self, key: BucketKey) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = self._settings.arm if key[0] == "arm" else self._settings.compute
            bucket = self._buckets[key] = _Bucket(limit, self._clock())
        return bucket

    def _wait_for(self, keys: tuple[BucketKey, ...], count: float, now: float) -> float:
        reserve = self._settings.reserve
        return max(self._bucket(key).wait_for(count, reserve, now) for key in keys)

    def _take(self, keys: tuple[BucketKey, ...]) -> None:
        for key in keys:
            bucket = self._bucket(key)
            bucket.tokens = max(0.0, bucket.tokens - 1.0)

    def _estimate(self, pool: str, keys: tuple[BucketKey, ...], now: float) -> float:
        """An estimate of the wait of a write arriving now, bucket by bucket: of the writes that
        round-robin can serve before it (its pool's queue, at most as many turns plus one of
        every other pool), those drawing on the bucket. A create does not wait behind deletes:
        they draw on other buckets, which serve them meanwhile."""
        own = self._queues.get(pool, _PoolQueue())
        turns = len(own) + 1
        waits = []
        for key in keys:
            ahead = sum(len(line) for kind, line in own.lines.items() if key in kind)
            for name, queue in self._queues.items():
                if name != pool:
                    drawing = sum(len(line) for kind, line in queue.lines.items() if key in kind)
                    ahead += min(drawing, turns)
            waits.append(self._bucket(key).wait_for(ahead + 1.0, self._settings.reserve, now))
        return max(waits)

    def _exhausted(self, estimate: float) -> WriteBudgetExhausted:
        self._observer.budget_exhausted()
        retry_after = max(0.0, estimate - self._settings.max_wait)
        return WriteBudgetExhausted(
            f"write budget exhausted; next write in {retry_after:.1f}s", retry_after=retry_after
        )

    def _withdraw(self, pool: str, waiter: _Waiter) -> None:
        queue = self._queues.get(pool)
        if queue is not None and queue.remove(waiter) and not queue:
            del self._queues[pool]
        self._wake()

    def _wake(self) -> None:
        """Serve what can be served now, refuse what is due, and sleep until the next event."""
        now = self._clock()
        self._serve(now)
        self._expire(now)
        if not self._queues:
            if self._timer is not None:
                self._timer.cancel()
                self._timer, self._timer_at = None, float("inf")
            refused, self._refused = self._refused, set()
            for pool in sorted(refused):
                self._drained(pool)
            return
        at = now + self._next_event(now)
        if self._timer is None or at < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = at
            self._timer = asyncio.get_running_loop().create_task(self._sleep_until(at))

    async def _sleep_until(self, at: float) -> None:
        await self._sleep(max(0.0, at - self._clock()))
        self._timer, self._timer_at = None, float("inf")
        self._wake()

    def _serve(self, now: float) -> None:
        while (chosen := self._next_served(now)) is not None:
            pool, waiter = chosen
            self._queues[pool].remove(waiter)
            self._take(waiter.keys)
            self._sequence += 1
            self._last_served[pool] = self._sequence
            waiter.granted.set_result(None)

    def _next_served(self, now: float) -> tuple[str, _Waiter] | None:
        """The pool whose turn comes first among those with a write that fits now, and the
        earliest such write of its lines."""
        heads = {pool: queue.heads() for pool, queue in self._queues.items()}
        self._drop_empty()
        fits: dict[tuple[BucketKey, ...], bool] = {}
        for pool in sorted(self._queues, key=self._turn):
            for waiter in sorted(heads[pool], key=_arrival):
                if waiter.keys not in fits:
                    fits[waiter.keys] = self._wait_for(waiter.keys, 1.0, now) <= _EPSILON
                if fits[waiter.keys]:
                    return pool, waiter
        return None

    def _turn(self, pool: str) -> tuple[int, int]:
        """Least recently served first; pools not served yet in the order they came."""
        return self._last_served.get(pool, 0), self._queues[pool].first_arrival()

    def _expire(self, now: float) -> None:
        for pool, queue in list(self._queues.items()):
            for waiter in [w for w in queue if w.deadline <= now + _EPSILON]:
                queue.remove(waiter)
                if not waiter.granted.done():
                    self._refused.add(pool)
                    estimate = self._estimate(pool, waiter.keys, now)
                    waiter.granted.set_exception(self._exhausted(estimate))
        self._drop_empty()

    def _drop_empty(self) -> None:
        for pool in [pool for pool, queue in self._queues.items() if not queue]:
            del self._queues[pool]
        if not self._queues:
            self._last_served.clear()

    def _next_event(self, now: float) -> float:
        heads = [line[0] for queue in self._queues.values() for line in queue.lines.values()]
        ready = min(self._wait_for(head.keys, 1.0, now) for head in heads)
        deadline = min(head.deadline for head in heads) - now
        return max(0.0, min(ready, deadline))


def _arrival(waiter: _Waiter) -> int:
    return waiter.arrival


class WriteBudgets:
    """The budgets of all subscriptions, created on first use."""

    def __init__(
        self,
        settings: BudgetSettings | None = None,
        *,
        clock: Clock,
        sleep: Sleep,
        observer: AzureObserver = NOT_OBSERVED,
        drained: Drained = no_one,
    ) -> None:
        self._settings = settings or BudgetSettings()
        self._clock = clock
        self._sleep = sleep
        self._observer = observer
        self._drained = drained
        self._budgets: dict[str, WriteBudget] = {}

    def for_subscription(self, subscription_id: str) -> WriteBudget:
        key = subscription_id.lower()
        budget = self._budgets.get(key)
        if budget is None:
            budget = WriteBudget(
                self._settings,
                clock=self._clock,
                sleep=self._sleep,
                observer=self._observer,
                drained=self._drained,
            )
            self._budgets[key] = budget
        return budget

    def retain(self, subscriptions: Collection[str]) -> None:
        """Forget the budgets of other subscriptions (lower case): no account uses them."""
        for key in [key for key in self._budgets if key not in subscriptions]:
            del self._budgets[key]

    def __len__(self) -> int:
        return len(self._budgets)
