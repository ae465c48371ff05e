"""How long the reads a pool at work waits on (list pages, the first views of its new VMs) wait
for ARM's reads bucket behind a burst of instance-view refreshes, in arrival order (refreshes
sent as any read) and with the refreshes deferred (`deferred_reads`, azure/read_pacing.py).

In process, on vmroll's own `ReadPacer` at ARM's 25 reads a second with the bucket found empty
(ARM reported none left), on a simulated clock: the figures are seconds of the pacer's schedule,
not of this machine. `--refreshes` views come due at once (at the end of a fleet's creation, the
VMs created first, 600 s earlier), then `--waited-on` reads of pools at work arrive.
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import nullcontext

from vmroll.azure.read_pacing import ReadPacer, deferred_reads


class SimulatedTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Only the waiter holding the pacer's turn sleeps: time moves for it alone.
        self.now += seconds
        await asyncio.sleep(0)


async def waits(refreshes: int, waited_on: int, *, deferred: bool) -> tuple[float, float]:
    """The last waited-on read's wait and the last refresh's, in simulated seconds."""
    time = SimulatedTime()
    pacer = ReadPacer(clock=time.clock, sleep=time.sleep)
    pacer.answered(200, remaining=0, retry_after=None)
    done: dict[str, float] = {}

    async def refresh() -> None:
        with deferred_reads() if deferred else nullcontext():
            await pacer.before_read()
        done["refresh"] = time.now

    async def read() -> None:
        await pacer.before_read()
        done["waited-on"] = time.now

    queued = [asyncio.create_task(refresh()) for _ in range(refreshes)]
    await asyncio.sleep(0)
    arrived = time.now
    await asyncio.gather(*queued, *(read() for _ in range(waited_on)))
    return done["waited-on"] - arrived, done["refresh"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refreshes", type=int, default=1000)
    parser.add_argument("--waited-on", type=int, default=20)
    args = parser.parse_args()
    print(f"{args.refreshes} refreshes due, then {args.waited_on} reads a pool at work waits on")
    for deferred in (False, True):
        waited, last = await waits(args.refreshes, args.waited_on, deferred=deferred)
        order = "refreshes deferred" if deferred else "arrival order     "
        print(f"{order}: waited-on reads done after {waited:7.2f} s, refreshes after {last:7.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
