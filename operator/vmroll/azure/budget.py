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
waits and no ticket (below) is held. A pool's queue keeps one line per kind of write (the
buckets it draws on), first come first served within each: a delete whose buckets have tokens
goes while the pool's creates wait for theirs. In one line per pool, a rollout's deletes of old
VMs waited behind its surge creates for the Put VM bucket (issue 12: 1,000 pools rolling,
deletes went at a quarter of their refill while creates kept Azure's pace).

`max_wait` bounds a caller's whole wait, queue included. On arrival its wait is estimated for
each bucket it draws on, from the writes ahead of it that draw on that bucket (its own pool's
queue and, under round-robin, at most as many turns of every other pool) and the bucket's
refill: a delete does not wait behind creates, which other buckets serve. The estimate reads
per-bucket counts and the next token comes from a heap of turns per kind of write
(budget_lines.py): neither walks the pools, 1,000 of them acquiring from one budget.

A caller that would wait longer is refused at once (`WriteBudgetExhausted`), one that pools
arriving later push back at its deadline; either way its pool keeps its place: its line of that
kind keeps a ticket, which takes its turns in the round-robin like a queued caller. When the
ticket's turn comes and its buckets have a token, the token is set aside for the pool and the
pool is named to `token_set_aside` (the operator wakes its pass); its next write of that kind
takes the token at once. A refusal's `retry_after` is the estimated time until the ticket's
turn: the pool comes back then at the latest. Before tickets a refused pool held no place: told
to come back when a write like it would be let in, 1,000 rolling pools came back every second to
be refused again (benchmarks/budget_share.py --rolling: 1.47 million refusals and 9 passes per
write; a pool went up to 953 s without a write, where a round takes 120 s).

A token set aside is kept `hold` seconds: a pass at fleet scale lists and reads for tens of
seconds, and waits for a turn among the concurrent passes, before it writes. One not taken by
then goes back to its buckets and the ticket is spent: the pool may be gone, or no longer want
the write. A pool queueing a write of a kind drops its ticket of that kind: the ticket stood for
that write.

vmroll's count spends a token when a write is let in, but Azure's bucket only when the write
reaches it: a token set aside waits for its pool's pass, and a write sent waits first for one of
the client's few connections (transport.py). Meanwhile Azure's bucket, holding no more than its
capacity, may fill and gain nothing, and the passes of pools woken apart may send together: more
writes then reached Azure at once than its bucket held (issue 12, 1,000 pools rolling: 26
deletes answered 429). So each bucket also keeps Azure's count as Azure spends it, and a write
let in is sent (`sending`) only once that count holds a token above the reserve: the writes of
passes that come together wait for Azure's refill, while the turns keep their pace. Writes sent
and not answered are in flight: that count refills only up to the capacity less them, and what
Azure reports is lowered by the others. Refusing turns while tokens set aside filled Azure's
bucket instead held the writes to 190 per pass interval: 1.53x the ideal for passes sending
together every 30 s (benchmarks/budget_share.py --list-seconds 30), 1.06x this way.

The clock and the sleep are injected so that tests drive time by hand; waits and refusals are
reported to the observer (the operator's metrics).
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from vmroll.azure.budget_lines import BucketKey, Kind, Lines, Waiter
from vmroll.azure.errors import WriteBudgetExhausted
from vmroll.azure.observer import NOT_OBSERVED, AzureObserver

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
TokenSetAside = Callable[[str], None]

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
    caller waits at most `max_wait` in all, queueing behind other writes included; a token set
    aside for a refused pool's ticket waits `hold` seconds for the pool's next pass."""

    arm: Limit = ARM_WRITES
    compute: Limit = COMPUTE_WRITES
    reserve: float = 10.0
    max_wait: float = 10.0
    hold: float = 60.0


@dataclass(frozen=True)
class Write:
    """What one write asks of its subscription's budget, and whose queue it waits in."""

    pool: str
    """The UID of the pool or ImageCapture that writes: named to `token_set_aside` when a
    token is set aside for its ticket, so it must be one the operator can wake."""
    arm: ArmBucket
    policy: ComputePolicy | None
    region: str


def no_one(pool: str) -> None:
    """No one to tell that a token waits for the pool."""


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
        self.azure = limit.capacity
        """Azure's count: spent when a write is sent, not when it is let in."""
        self.azure_updated = now
        self.in_flight = 0
        """Writes sent and not answered: maybe not in Azure's count yet."""

    def refill(self, now: float) -> None:
        start = max(self.updated, min(now, self.blocked_until))
        if now > start:
            gained = (now - start) * self.limit.refill_per_second
            self.tokens = min(self.limit.capacity, self.tokens + gained)
        self.updated = max(self.updated, now)
        start = max(self.azure_updated, min(now, self.blocked_until))
        if now > start:
            gained = (now - start) * self.limit.refill_per_second
            # Azure's bucket holds the writes in flight too, and no more than its capacity.
            ceiling = self.limit.capacity - self.in_flight
            self.azure = min(ceiling, self.azure + gained)
        self.azure_updated = max(self.azure_updated, now)

    def send_wait(self, reserve: float, now: float) -> float:
        """Seconds until Azure's count holds a token above `reserve`, unless writes in flight
        fill the bucket meanwhile."""
        self.refill(now)
        blocked = max(0.0, self.blocked_until - now)
        missing = max(0.0, 1.0 + reserve - self.azure)
        return blocked + missing / self.limit.refill_per_second

    def wait_for(self, count: float, reserve: float, now: float) -> float:
        """Seconds until `count` tokens above `reserve` are there."""
        self.refill(now)
        blocked = max(0.0, self.blocked_until - now)
        missing = max(0.0, count + reserve - self.tokens)
        return blocked + missing / self.limit.refill_per_second


class WriteBudget:
    """The buckets of one subscription, and the writes queued for them per pool."""

    def __init__(
        self,
        settings: BudgetSettings,
        *,
        clock: Clock,
        sleep: Sleep,
        observer: AzureObserver = NOT_OBSERVED,
        token_set_aside: TokenSetAside = no_one,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._observer = observer
        self._token_set_aside = token_set_aside
        self._buckets: dict[BucketKey, _Bucket] = {}
        self._lines = Lines()
        self._deadlines: deque[tuple[str, Waiter]] = deque()
        """Queued callers in arrival order, hence in deadline order."""
        self._set_aside: dict[tuple[str, Kind], deque[float]] = {}
        """Tokens taken for a pool whose ticket's turn came, with when they go back."""
        self._returns: deque[tuple[float, str, Kind]] = deque()
        self._sequence = 0
        self._timer: asyncio.Task[None] | None = None
        self._timer_at = float("inf")
        self._senders: dict[Kind, asyncio.Lock] = {}
        """Writes of a kind wait their turn to send in arrival order."""

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
        """Callers waiting, tickets not counted."""
        return self._lines.waiting()

    def tickets(self) -> int:
        return self._lines.tickets()

    def set_aside(self) -> int:
        return sum(len(held) for held in self._set_aside.values())

    async def acquire(self, write: Write) -> None:
        """Take one token of each bucket `write` draws on, waiting up to `max_wait` in all (the
        queue included); beyond it keep the pool's place with a ticket and raise
        `WriteBudgetExhausted`, at once when foreseeable. A token set aside for the pool's
        ticket of this kind is taken at once."""
        now = self._clock()
        keys = bucket_keys(write)
        if self._claim(write.pool, keys):
            self._wake()  # the timer may wait only to return this token
            self._observer.budget_wait(0.0)
            return
        if not self._lines and self._wait_for(keys, 1.0, now) <= _EPSILON:
            self._take(keys)
            return
        estimate = self._estimate(write.pool, keys, now)
        if estimate > self._settings.max_wait:
            self._keep_place(write.pool, keys)
            self._wake()
            raise self._exhausted(estimate)
        self._sequence += 1
        future = asyncio.get_running_loop().create_future()
        waiter = Waiter(keys, now + self._settings.max_wait, self._sequence, future)
        self._lines.enter(write.pool, waiter)
        self._deadlines.append((write.pool, waiter))
        self._drop_ticket(write.pool, keys)
        self._wake()
        try:
            await future
        except asyncio.CancelledError:
            self._withdraw(write.pool, waiter)
            raise
        self._observer.budget_wait(self._clock() - now)

    @asynccontextmanager
    async def sending(self, write: Write) -> AsyncIterator[None]:
        """Around the send of a write `acquire` let in: first wait, behind the writes of its
        kind, for Azure's count of each bucket it draws on to hold a token above the reserve,
        then take it; until the block ends the write is in flight."""
        keys = bucket_keys(write)
        async with self._senders.setdefault(keys, asyncio.Lock()):
            while (wait := self._send_wait(keys)) > _EPSILON:
                await self._sleep(wait)
            for key in keys:
                bucket = self._bucket(key)
                bucket.azure -= 1.0
                bucket.in_flight += 1
        try:
            yield
        finally:
            now = self._clock()
            for key in keys:
                bucket = self._bucket(key)
                bucket.refill(now)
                bucket.in_flight -= 1

    def report(self, key: BucketKey, remaining: float) -> None:
        """Azure answered a write in flight (`sending`): `remaining` tokens are left in this
        bucket, of which the other writes in flight will take theirs. Never count more."""
        bucket = self._bucket(key)
        bucket.refill(self._clock())
        bucket.tokens = min(bucket.tokens, max(0.0, remaining))
        others = max(0, bucket.in_flight - 1)
        bucket.azure = min(bucket.azure, max(0.0, remaining) - others)

    def defer(self, keys: Iterable[BucketKey], seconds: float) -> None:
        """Azure throttled a write on these buckets: none is spent for `seconds`, and the writes
        in flight, the throttled one sent again, are spent from what refills after."""
        now = self._clock()
        for key in keys:
            bucket = self._bucket(key)
            bucket.refill(now)
            bucket.tokens = 0.0
            bucket.azure = min(bucket.azure, -float(bucket.in_flight))
            bucket.blocked_until = max(bucket.blocked_until, now + seconds)

    def _send_wait(self, keys: Kind) -> float:
        now = self._clock()
        return max(self._bucket(key).send_wait(self._settings.reserve, now) for key in keys)

    def _bucket(self, key: BucketKey) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = self._settings.arm if key[0] == "arm" else self._settings.compute
            bucket = self._buckets[key] = _Bucket(limit, self._clock())
        return bucket

    def _wait_for(self, keys: Kind, count: float, now: float) -> float:
        reserve = self._settings.reserve
        return max(self._bucket(key).wait_for(count, reserve, now) for key in keys)

    def _take(self, keys: Kind) -> None:
        for key in keys:
            bucket = self._bucket(key)
            bucket.tokens = max(0.0, bucket.tokens - 1.0)

    def _estimate(self, pool: str, keys: Kind, now: float) -> float:
        """An estimate of the wait of a write arriving now, bucket by bucket: of the writes and
        tickets that round-robin can serve before it (its pool's queue, at most as many turns
        plus one of every other pool), those drawing on the bucket. A create does not wait
        behind deletes: they draw on other buckets, which serve them meanwhile. Counted from
        per-bucket counts, whatever the number of pools: the pool's own count is below its
        turns, so the sum takes all of it."""
        own = self._lines.queues.get(pool)
        turns = (len(own) if own is not None else 0) + 1
        waits = []
        for key in keys:
            ahead = self._lines.ahead(key, turns)
            waits.append(self._bucket(key).wait_for(ahead + 1.0, self._settings.reserve, now))
        return max(waits)

    def _exhausted(self, estimate: float) -> WriteBudgetExhausted:
        self._observer.budget_exhausted()
        return WriteBudgetExhausted(
            f"write budget exhausted; next write in {estimate:.1f}s", retry_after=estimate
        )

    def _keep_place(self, pool: str, keys: Kind) -> None:
        """A refused write's pool keeps a ticket in its line of that kind (one is enough: the
        pool is served once per round whatever it asks)."""
        if self._lines.ticket(pool, keys) is None:
            self._sequence += 1
            self._lines.enter(pool, Waiter(keys, float("inf"), self._sequence, None))

    def _drop_ticket(self, pool: str, keys: Kind) -> None:
        """The write a ticket kept the place of is queued: the ticket would hold a token for a
        write the pool no longer wants."""
        ticket = self._lines.ticket(pool, keys)
        if ticket is not None:
            self._lines.leave(pool, ticket)

    def _claim(self, pool: str, keys: Kind) -> bool:
        held = self._set_aside.get((pool, keys))
        if not held:
            return False
        held.popleft()
        if not held:
            del self._set_aside[(pool, keys)]
        return True

    def _withdraw(self, pool: str, waiter: Waiter) -> None:
        self._lines.leave(pool, waiter)
        self._wake()

    def _wake(self) -> None:
        """Return unclaimed tokens, serve what can be served now, refuse what is due, and sleep
        until the next event."""
        now = self._clock()
        self._return_unclaimed(now)
        self._serve(now)
        self._expire(now)
        if not self._lines and not self._set_aside:
            self._returns.clear()  # of tokens taken since
            self._deadlines.clear()  # of callers served or withdrawn
            if self._timer is not None:
                self._timer.cancel()
                self._timer, self._timer_at = None, float("inf")
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
        def fits(keys: Kind) -> bool:
            return self._wait_for(keys, 1.0, now) <= _EPSILON

        while (chosen := self._lines.next_turn(fits)) is not None:
            pool, waiter = chosen
            self._lines.leave(pool, waiter)
            if waiter.granted is not None and waiter.granted.done():
                continue  # cancelled, its caller not withdrawn yet
            self._take(waiter.keys)
            self._sequence += 1
            self._lines.served(pool, self._sequence)
            if waiter.granted is None:
                self._hand_over(pool, waiter.keys, now)
            else:
                waiter.granted.set_result(None)

    def _hand_over(self, pool: str, keys: Kind, now: float) -> None:
        """A ticket's turn came with a token: to the pool's caller of that kind waiting behind
        it, if any; else set aside for the pool's next pass, which it wakes."""
        queue = self._lines.queues.get(pool)
        for behind in queue.lines.get(keys, ()) if queue is not None else ():
            if behind.granted is not None and not behind.granted.done():
                self._lines.leave(pool, behind)
                behind.granted.set_result(None)
                return
        until = now + self._settings.hold
        self._set_aside.setdefault((pool, keys), deque()).append(until)
        self._returns.append((until, pool, keys))
        self._token_set_aside(pool)

    def _return_unclaimed(self, now: float) -> None:
        """Tokens set aside and not taken within `hold` go back to their buckets: the pool may
        be gone, or no longer want the write."""
        while self._returns and self._returns[0][0] <= now + _EPSILON:
            until, pool, keys = self._returns.popleft()
            held = self._set_aside.get((pool, keys))
            if not held or held[0] > until:
                continue  # taken
            self._claim(pool, keys)
            for key in keys:
                bucket = self._bucket(key)
                bucket.refill(now)
                bucket.tokens = min(bucket.limit.capacity, bucket.tokens + 1.0)

    def _expire(self, now: float) -> None:
        """Callers whose `max_wait` is up are refused; their pool keeps its place."""
        while self._deadlines and self._deadlines[0][1].deadline <= now + _EPSILON:
            pool, waiter = self._deadlines.popleft()
            if waiter.granted is None or waiter.granted.done():
                continue  # served or withdrawn
            estimate = self._estimate(pool, waiter.keys, now)
            self._keep_place(pool, waiter.keys)
            self._lines.leave(pool, waiter)
            waiter.granted.set_exception(self._exhausted(estimate))

    def _next_event(self, now: float) -> float:
        while self._deadlines and not self._deadlines[0][1].waiting():
            self._deadlines.popleft()
        events = [self._wait_for(keys, 1.0, now) for keys in self._lines.kinds()]
        if self._deadlines:
            events.append(self._deadlines[0][1].deadline - now)
        if self._returns:
            events.append(self._returns[0][0] - now)
        return max(0.0, min(events))


class WriteBudgets:
    """The budgets of all subscriptions, created on first use."""

    def __init__(
        self,
        settings: BudgetSettings | None = None,
        *,
        clock: Clock,
        sleep: Sleep,
        observer: AzureObserver = NOT_OBSERVED,
        token_set_aside: TokenSetAside = no_one,
    ) -> None:
        self._settings = settings or BudgetSettings()
        self._clock = clock
        self._sleep = sleep
        self._observer = observer
        self._token_set_aside = token_set_aside
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
                token_set_aside=self._token_set_aside,
            )
            self._budgets[key] = budget
        return budget

    def retain(self, subscriptions: Collection[str]) -> None:
        """Forget the budgets of other subscriptions (lower case): no account uses them."""
        for key in [key for key in self._budgets if key not in subscriptions]:
            del self._budgets[key]

    def waiting(self) -> dict[str, int]:
        """Over every subscription: writes queued, tickets kept and tokens set aside."""
        budgets = self._budgets.values()
        return {
            "budget_writes_queued": sum(budget.queued() for budget in budgets),
            "budget_tickets": sum(budget.tickets() for budget in budgets),
            "budget_tokens_set_aside": sum(budget.set_aside() for budget in budgets),
        }

    def __len__(self) -> int:
        return len(self._budgets)
