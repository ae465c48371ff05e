"""How many writes a second vmroll's write budget (azure/budget.py) hands out when `--pools`
pools each want `--replicas` creates, then as many deletes, against what Azure's buckets allow.

In process, on the real `WriteBudget` with Azure's published buckets (ARM writes and deletes 200
refilled 10 a second; Compute's Put VM and Delete VM 1,500 refilled 500 a minute; 10 tokens of
each left to others), on a simulated clock: an event loop whose time jumps to its next timer,
so the figures are seconds of the budget's schedule, not of this machine, and the same on every
run. Each pool runs its passes as the operator does: a pass costs `--pass-seconds` (its list and
reads) and, with `--list-seconds`, waits for the next list of the group (one every that many
seconds, shared by every pool that asked meanwhile: reconcile/shared_listing.py), then sends
its phase's outstanding writes, `--concurrency` at a time; a pass whose writes were refused
comes back after the largest `retry_after` (at least 1 s, failures.py), or sooner when the
budget names it to `token_set_aside` (its ticket's turn came). A pool whose
creates were all sent deletes its old VMs `--ready-seconds` later (the new ones boot), and is
done when they are sent; with `--rolling`, it deletes an old VM as each new one is ready, in the
passes that still send its creates, as a rollout surging with `maxUnavailable: 0` does.

Printed: writes per second per window, the last create and the end against the ideal, the
longest a pool went without a write while it wanted some (round-robin: about pools / refill),
refusals and pool passes against the writes, the writes Azure would have answered 429, and the
CPU seconds the simulation took (the budget's cost per token and per acquire, at this many
pools). Azure's buckets are modelled as the emulator keeps them (emulator/throttling.py): each
write the budget lets go takes a token of each bucket it draws on when sent (`sending`: once
let go or its pool takes a token set aside for it, when the budget's count of Azure's buckets
allows), answered at once; one that finds a bucket empty is counted, its answer not told to the
budget.

The ideal: creates are bound by ARM's writes bucket and Put VM, deletes by ARM's deletes bucket
and Delete VM, each pair apart; the last deletes follow the last creates by `--ready-seconds`.

    .venv/bin/python benchmarks/budget_share.py [--pools 1000] [--replicas 10] [--rolling]
        [--pass-seconds 2] [--list-seconds 0]
"""

from __future__ import annotations

import argparse
import asyncio
import selectors
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from vmroll.azure.budget import (
    ArmBucket,
    BudgetSettings,
    ComputePolicy,
    Write,
    WriteBudget,
    WriteBudgetExhausted,
    bucket_keys,
)
from vmroll.azure.budget_lines import BucketKey
from vmroll.emulator.throttling import TokenBucket
from vmroll.reconcile.failures import MIN_BUDGET_WAIT

WINDOW = 60.0
REGION = "westeurope"


class SimulatedTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to its next timer instead of waiting for it."""

    def __init__(self) -> None:
        super().__init__(selectors.DefaultSelector())
        self._now = 0.0
        poll = self._selector.select  # type: ignore[attr-defined]

        def jump(timeout: float | None = None) -> list[Any]:
            if timeout is None:
                raise RuntimeError("every task waits on something no timer will bring")
            self._now += timeout
            return poll(0)

        self._selector.select = jump  # type: ignore[attr-defined]

    def time(self) -> float:
        return self._now


@dataclass
class Tally:
    """Writes handed out per window and kind, refusals, passes, and who progressed when."""

    granted: Counter[tuple[int, str]] = field(default_factory=Counter)
    progressed: dict[int, set[str]] = field(default_factory=dict)
    wanting: dict[int, set[str]] = field(default_factory=dict)
    longest: dict[str, float] = field(default_factory=dict)
    """Per pool, the longest it went without a write while it wanted some."""
    refused: int = 0
    throttled: Counter[str] = field(default_factory=Counter)
    """Writes a bucket of Azure's found empty, by bucket."""
    passes: int = 0
    last_create: float = 0.0
    done: float = 0.0


class AzureBuckets:
    """Azure's buckets, with the published limits the budget assumes, as Azure spends them."""

    def __init__(self, settings: BudgetSettings, tally: Tally) -> None:
        self._settings = settings
        self._tally = tally
        self._buckets: dict[BucketKey, TokenBucket] = {}

    def send(self, write: Write, now: float) -> None:
        for key in bucket_keys(write):
            bucket = self._buckets.get(key)
            if bucket is None:
                limit = self._settings.arm if key[0] == "arm" else self._settings.compute
                bucket = TokenBucket(int(limit.capacity), limit.refill_per_second)
                self._buckets[key] = bucket
            if not bucket.take(now):
                self._tally.throttled[f"{key[0]} {key[-1]}"] += 1


class Pool:
    def __init__(
        self,
        name: str,
        args: argparse.Namespace,
        budget: WriteBudget,
        azure: AzureBuckets,
        tally: Tally,
    ):
        self.name = name
        self.args = args
        self.budget = budget
        self.azure = azure
        self.tally = tally
        self.nudged = asyncio.Event()
        self.since = 0.0
        """When the pool last had a write, or started wanting one."""
        self.created: list[float] = []
        """When each create was let in: its VM is ready `--ready-seconds` later."""
        self.deleted = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.since = loop.time()
        while self.deleted < self.args.replicas:
            if not self._wanted(loop.time()):
                await asyncio.sleep(self._next_ready() - loop.time())
                self.since = loop.time()
                continue
            await asyncio.sleep(self.args.pass_seconds)
            if self.args.list_seconds:
                await asyncio.sleep(-loop.time() % self.args.list_seconds)
            self.tally.passes += 1
            window = int(loop.time() // WINDOW)
            self.tally.wanting.setdefault(window, set()).add(self.name)
            self.nudged.clear()  # a call back during the pass is for the next one
            gate = asyncio.Semaphore(self.args.concurrency)
            results = await asyncio.gather(
                *(self._send(write, gate) for write in self._wanted(loop.time()))
            )
            refusals = [result for result in results if result is not None]
            if refusals:
                delay = max(max(refusals), MIN_BUDGET_WAIT)
                try:
                    async with asyncio.timeout(delay):
                        await self.nudged.wait()
                except TimeoutError:
                    pass
        self.tally.done = max(self.tally.done, loop.time())

    def _wanted(self, now: float) -> list[Write]:
        """This pass's writes: the creates not sent yet, and a delete per new VM ready (all at
        once when every create was sent and the last is ready, unless `--rolling`)."""
        creates = [Write(self.name, ArmBucket.WRITES, ComputePolicy.PUT_VM, REGION)] * (
            self.args.replicas - len(self.created)
        )
        # Within the loop's clock resolution, a sleep until the instant ends it.
        ready = [at for at in self.created if now - at >= self.args.ready_seconds - 1e-6]
        if not self.args.rolling and (creates or len(ready) < len(self.created)):
            ready = []
        delete = Write(self.name, ArmBucket.DELETES, ComputePolicy.DELETE_VM, REGION)
        return creates + [delete] * (len(ready) - self.deleted)

    def _next_ready(self) -> float:
        """When the next new VM is ready (the last one, unless `--rolling`)."""
        ready = sorted(at + self.args.ready_seconds for at in self.created)
        return ready[self.deleted] if self.args.rolling else ready[-1]

    async def _send(self, write: Write, gate: asyncio.Semaphore) -> float | None:
        """None when granted, else the refusal's `retry_after`."""
        async with gate:
            try:
                await self.budget.acquire(write)
            except WriteBudgetExhausted as error:
                self.tally.refused += 1
                return error.retry_after or 0.0
        async with self.budget.sending(write):
            now = asyncio.get_running_loop().time()
            self.azure.send(write, now)
        window = int(now // WINDOW)
        self.tally.granted[(window, write.arm.value)] += 1
        self.tally.progressed.setdefault(window, set()).add(write.pool)
        gap = now - self.since
        self.since = now
        self.tally.longest[self.name] = max(self.tally.longest.get(self.name, 0.0), gap)
        if write.arm is ArmBucket.WRITES:
            self.created.append(now)
            self.tally.last_create = max(self.tally.last_create, now)
        else:
            self.deleted += 1
        return None


async def simulate(args: argparse.Namespace) -> Tally:
    loop = asyncio.get_running_loop()
    tally = Tally()
    pools: dict[str, Pool] = {}

    def token_set_aside(name: str) -> None:
        pools[name].nudged.set()

    budget = WriteBudget(
        BudgetSettings(), clock=loop.time, sleep=asyncio.sleep, token_set_aside=token_set_aside
    )
    azure = AzureBuckets(BudgetSettings(), tally)
    for index in range(args.pools):
        name = f"pool-{index:04d}"
        pools[name] = Pool(name, args, budget, azure, tally)
    await asyncio.gather(*(pool.run() for pool in pools.values()))
    return tally


def ideal_seconds(writes: int, settings: BudgetSettings) -> float:
    """Seconds until `writes` creates are handed out by ARM's writes bucket and Put VM."""
    return max(
        max(0.0, writes - (limit.capacity - settings.reserve)) / limit.refill_per_second
        for limit in (settings.arm, settings.compute)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--pass-seconds", type=float, default=2.0)
    parser.add_argument("--ready-seconds", type=float, default=60.0)
    parser.add_argument("--list-seconds", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--rolling",
        action="store_true",
        help="delete an old VM as each new one is ready, as a rollout with maxUnavailable 0 does",
    )
    args = parser.parse_args()
    cpu = time.process_time()
    loop = SimulatedTimeLoop()
    try:
        tally = loop.run_until_complete(simulate(args))
    finally:
        loop.close()
    cpu = time.process_time() - cpu
    writes = args.pools * args.replicas
    creates_ideal = ideal_seconds(writes, BudgetSettings())
    order = "a delete as each new VM is ready" if args.rolling else "then deletes"
    print(f"{args.pools} pools x {args.replicas} creates, {order}; simulated seconds")
    print(" window   creates/s  deletes/s  pools progressed / wanting")
    for window in sorted({window for window, _ in tally.granted}):
        creates = tally.granted[(window, "writes")] / WINDOW
        deletes = tally.granted[(window, "deletes")] / WINDOW
        progressed = len(tally.progressed.get(window, ()))
        wanting = len(tally.wanting.get(window, ()))
        print(f"{window * WINDOW:6.0f}s {creates:10.2f} {deletes:10.2f}  {progressed} / {wanting}")
    done_ideal = creates_ideal + args.ready_seconds + args.pass_seconds
    print(
        f"last create at {tally.last_create:.0f}s (ideal {creates_ideal:.0f}s, ratio "
        f"{tally.last_create / creates_ideal:.2f}); all done at {tally.done:.0f}s (ideal "
        f"{done_ideal:.0f}s, ratio {tally.done / done_ideal:.2f})"
    )
    gaps = sorted(tally.longest.values())
    print(
        f"longest a pool went without a write while it wanted some: median "
        f"{gaps[len(gaps) // 2]:.0f}s, max {gaps[-1]:.0f}s"
    )
    print(
        f"writes {2 * writes}, refused {tally.refused}; pool passes {tally.passes} (each lists "
        f"and reads)"
    )
    throttled = ", ".join(f"{key} {count}" for key, count in sorted(tally.throttled.items()))
    print(f"writes Azure's buckets would have answered 429: {throttled or 'none'}")
    print(f"CPU of the simulation: {cpu:.1f}s")


if __name__ == "__main__":
    main()
