"""Turns among pools' passes: at most `--concurrent-passes` pools pass at once.

1,000 first passes at once, each holding its requests, models and queued writes, set the
operator's memory high-water mark, which the allocator keeps; a bound on passes at once bounds
it. A pass that waits on Azure (following a reimage for up to `operation_wait`) lends its turn
back for the wait and queues for one again before it reports: otherwise a fleet of slow
operations would hold every turn while the other pools' passes, and their spec changes, queue.
Turns are taken first come first served (asyncio's semaphore wakes its waiters in order).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from vmroll.reconcile.act import Lend


class Turns:
    def __init__(self, at_once: int) -> None:
        self._free = asyncio.Semaphore(at_once)
        self._held: set[str] = set()

    @asynccontextmanager
    async def taken(self, uid: str) -> AsyncIterator[None]:
        """The pool's turn for one pass."""
        await self._free.acquire()
        self._held.add(uid)
        try:
            yield
        finally:
            if uid in self._held:
                self._held.discard(uid)
                self._free.release()

    def lender(self, uid: str) -> Lend:
        """What the pass of `uid` lends its turn back with; lends nothing when it holds none
        (a pass outside the pool's loop, as deletion's)."""

        @asynccontextmanager
        async def lent() -> AsyncIterator[None]:
            if uid not in self._held:
                yield
                return
            self._held.discard(uid)
            self._free.release()
            try:
                yield
            finally:
                await self._free.acquire()
                self._held.add(uid)

        return lent
