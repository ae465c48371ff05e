"""Turns among pools' passes: at most `--concurrent-passes` pools pass at once.

1,000 first passes at once, each holding its requests, models and queued writes, set the
operator's memory high-water mark, which the allocator keeps; a bound on passes at once bounds
it. A pass that waits on Azure (its writes' turn in the write budget, a newer list, following a
reimage for up to `operation_wait`) lends its turn back for the wait and queues for one again
before it reports: otherwise a fleet of slow operations would hold every turn while the other
pools' passes, and their spec changes, queue.

A pass coming back from a lend takes the next free turn before any pass not yet started; among
each, first come first served. It has observed, planned and sent already, and holds all of that
until it reports: behind 1,000 pools queued for a first turn (issue 12: 813 pools refused by the
write budget came back every second) it waited minutes to write what it did, and the pool's next
pass, the one that deletes the old VMs its new ones free, waited as long. Passes coming back are
at most those in flight, each lending a few times, so new passes still get every other turn.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from vmroll.reconcile.act import Lend


class Turns:
    def __init__(self, at_once: int) -> None:
        self._free = at_once
        self._held: set[str] = set()
        self._returning: deque[asyncio.Future[None]] = deque()
        self._starting: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def taken(self, uid: str) -> AsyncIterator[None]:
        """The pool's turn for one pass."""
        await self._take(self._starting)
        self._held.add(uid)
        try:
            yield
        finally:
            if uid in self._held:
                self._held.discard(uid)
                self._release()

    def lender(self, uid: str) -> Lend:
        """What the pass of `uid` lends its turn back with; lends nothing when it holds none
        (a pass outside the pool's loop, as deletion's)."""

        @asynccontextmanager
        async def lent() -> AsyncIterator[None]:
            if uid not in self._held:
                yield
                return
            self._held.discard(uid)
            self._release()
            try:
                yield
            finally:
                await self._take(self._returning)
                self._held.add(uid)

        return lent

    async def _take(self, line: deque[asyncio.Future[None]]) -> None:
        # A free turn means no pass waits: `_release` hands a turn to a waiting one directly.
        if self._free > 0:
            self._free -= 1
            return
        granted = asyncio.get_running_loop().create_future()
        line.append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                # Granted as it was cancelled: the turn goes to the next in line.
                self._release()
            elif granted in line:
                line.remove(granted)
            raise

    def _release(self) -> None:
        for line in (self._returning, self._starting):
            while line:
                granted = line.popleft()
                if not granted.done():
                    granted.set_result(None)
                    return
        self._free += 1
