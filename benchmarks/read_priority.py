"""Instance-view refreshes of healthy VMs against ARM's reads bucket, by fleet size: how many
a second they ask for and are sent, how many find no spare token and are left for a later pass,
and how long the reads a pool at work waits on (list pages, GETs, polls, first views) wait.

In process, on vmroll's own `ReadPacer` (25 reads a second, 250 at most, a reserve of 5) on a
simulated clock stepped every 20 ms: the figures are seconds of the pacer's schedule, not of
this machine. Each VM's refresh comes due once a period, spread evenly; the waited-on reads
arrive at `--waited-on` a second (7.6 in issue 12's rollout of 1,000 pools of 10 VMs, besides
the views). Refreshes go as spare reads (`spare_reads`): one that would wait is not sent and
comes again `--retry` seconds later (a settled pool's next pass). Each fleet is run with the
refresh period fixed at the configured 600 s, then with the period the pacer names for the
fleet (pools of 10 VMs each telling their count, plan/view_refresh.py).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
from collections.abc import Coroutine
from typing import Any

from vmroll.azure.read_pacing import NoSpareRead, ReadPacer, spare_reads

CONFIGURED = 600.0
STEP = 0.02
YIELDS = 12
"""Loop turns per step: enough for every read that finds a token at that step to take it."""


class SteppedTime:
    """A clock moved by the simulation, one step at a time; sleepers wake at the first step at
    or after their instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self._tick: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        while self.now < until - 1e-9:
            await asyncio.shield(self._tick)

    def step(self) -> None:
        self.now += STEP
        tick, self._tick = self._tick, asyncio.get_running_loop().create_future()
        tick.set_result(None)


class Figures:
    def __init__(self) -> None:
        self.sent = 0
        self.skipped = 0
        self.waits: list[float] = []


async def simulate(
    vms: int, period: float, waited_on: float, retry: float, seconds: float
) -> Figures:
    time = SteppedTime()
    pacer = ReadPacer(clock=time.clock, sleep=time.sleep)
    figures = Figures()
    retries: list[float] = []
    tasks: set[asyncio.Task[None]] = set()

    async def read() -> None:
        arrived = time.now
        await pacer.before_read()
        figures.waits.append(time.now - arrived)

    async def refresh() -> None:
        try:
            with spare_reads():
                await pacer.before_read()
        except NoSpareRead:
            figures.skipped += 1
            heapq.heappush(retries, time.now + retry)
        else:
            figures.sent += 1

    def start(coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    due_reads = due_refreshes = 0.0
    for _ in range(round(seconds / STEP)):
        time.step()
        due_reads += waited_on * STEP
        due_refreshes += vms / period * STEP
        while due_reads >= 1.0:
            due_reads -= 1.0
            start(read())
        while due_refreshes >= 1.0:
            due_refreshes -= 1.0
            start(refresh())
        while retries and retries[0] <= time.now:
            heapq.heappop(retries)
            start(refresh())
        for _ in range(YIELDS):
            await asyncio.sleep(0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return figures


def scaled_period(vms: int) -> float:
    pacer = ReadPacer(clock=lambda: 0.0, sleep=asyncio.sleep)
    period = CONFIGURED
    for pool in range(vms // 10):
        period = pacer.refresh_period(f"pool-{pool}", 10, CONFIGURED)
    return period


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleets", type=int, nargs="+", default=[1000, 5000, 10000, 20000])
    parser.add_argument("--waited-on", type=float, default=7.6)
    parser.add_argument("--retry", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=300.0)
    args = parser.parse_args()
    print(
        f"{args.seconds:.0f} simulated s, {args.waited_on} waited-on reads/s, "
        f"skipped refreshes again after {args.retry:.0f} s"
    )
    print("    VMs  period  refreshes due/s  sent/s  skipped/s  waited-on wait mean / max (s)")
    for vms in args.fleets:
        for period in (CONFIGURED, scaled_period(vms)):
            f = await simulate(vms, period, args.waited_on, args.retry, args.seconds)
            mean = sum(f.waits) / len(f.waits) if f.waits else 0.0
            print(
                f"{vms:7,d} {period:6.0f}s {vms / period:16.1f} {f.sent / args.seconds:7.1f}"
                f" {f.skipped / args.seconds:10.1f} {mean:16.3f} / {max(f.waits, default=0):.3f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
