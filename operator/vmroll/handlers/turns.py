"""Turns among pools' passes: at most `--concurrent-passes` pools pass at once.

1,000 first passes at once, each holding its requests, models and queued writes, set the
operator's memory high-water mark, which the allocator keeps; a bound on passes at once bounds
it. A pass that waits on Azure before it reports (a list of its group newer than its last write)
lends its turn back for the wait and queues for one again: otherwise a fleet of slow operations
would hold every turn while the other pools' passes, and their spec changes, queue.

A pass gives its turn up for good once it has written its status (`releaser`): what is left of
it, its sends (their wait for the write budget included), following a reimage for up to
`operation_wait` and saying when to come back, needs no bound, and its models are alive either
way. It used to lend its turn for its sends and take one back to end (issue 12, 1,000 pools
rolling: 37,628 such waits of 17 s on average), and the pool's next pass, the one that deletes
the old VMs its new ones free, waited behind each.

A pass coming back from a lend takes the next free turn before any pass not yet started; among
each, first come first served. It has observed already, and holds that until it reports:
behind 1,000 pools queued for a first turn (issue 12: 813 pools refused by the write budget
came back every second) it waited minutes, and the pool's next pass as long. Passes coming
back are at most those in flight, so new passes still get every other turn.

A pool the write budget set a token aside for (`hurry`) takes that line too, once: the token
waits for its pass `hold` seconds, and only that pass sends the write. In the line of passes
not yet started it waited behind waves of passes following their writes (issue 12, 1,000 pools
rolling: a fifth of the rollout went by with no create sent, Put VM's buckets full, while
deletes and reads went on). Tokens are set aside no faster than Azure's buckets refill, so
passes not yet started still get the turns those leave.

Each wait for a turn and each stretch a turn is held (up to its release or its lend) is
reported to `TurnObserver`, as `vmroll_pass_turn_wait_seconds` and `vmroll_pass_turn_held_seconds`:
whether passes queue for turns, and what a turn is held for, is what `--concurrent-passes` is
tuned by (issue 12: 400 - 880 passes in the returning line against 50 turns).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from vmroll.reconcile.shared_listing import Lend

STARTING = "starting"
RETURNING = "returning"


class TurnObserver(Protocol):
    def turn_waited(self, line: str, seconds: float) -> None:
        """A pass waited `seconds` for a turn in `line` (STARTING or RETURNING)."""

    def turn_held(self, seconds: float) -> None:
        """A pass held a turn `seconds`, up to its release or its lend."""


class Turns:
    def __init__(self, at_once: int, clock: Callable[[], float], observer: TurnObserver) -> None:
        self._free = at_once
        self._clock, self._observer = clock, observer
        self._held: dict[str, float] = {}
        """Each pool holding a turn, with when it took it."""
        self._returning: deque[asyncio.Future[None]] = deque()
        self._starting: deque[asyncio.Future[None]] = deque()
        self._starting_of: dict[str, asyncio.Future[None]] = {}
        """The place of each pool whose pass waits in `_starting`."""
        self._hurried: set[str] = set()
        """Pools whose next pass takes the returning line."""

    @asynccontextmanager
    async def taken(self, uid: str) -> AsyncIterator[None]:
        """The pool's turn for one pass."""
        asked = self._clock()
        if uid in self._hurried:
            self._hurried.discard(uid)
            await self._take(self._returning)
            line = RETURNING
        else:
            await self._take(self._starting, uid)
            line = STARTING
        self._held[uid] = self._took(line, asked)
        try:
            yield
        finally:
            self._give_back(uid)

    def lender(self, uid: str) -> Lend:
        """What the pass of `uid` lends its turn back with; lends nothing when it holds none
        (a pass outside the pool's loop, as deletion's)."""

        @asynccontextmanager
        async def lent() -> AsyncIterator[None]:
            if uid not in self._held:
                yield
                return
            self._give_back(uid)
            try:
                yield
            finally:
                asked = self._clock()
                await self._take(self._returning)
                self._held[uid] = self._took(RETURNING, asked)

        return lent

    def releaser(self, uid: str) -> Callable[[], None]:
        """What the pass of `uid` gives its turn up with, for the rest of the pass, once it has
        written its status; gives nothing when it holds none."""
        return lambda: self._give_back(uid)

    def hurry(self, uid: str) -> None:
        """A token waits for the pool's pass: that pass goes before those not yet started, from
        its place in their line if it waits there, else its next pass."""
        granted = self._starting_of.pop(uid, None)
        if granted is None:
            self._hurried.add(uid)
        elif not granted.done():
            self._starting.remove(granted)
            self._returning.append(granted)

    def forget(self, uid: str) -> None:
        """The pool's loop ended: no pass of it comes."""
        self._hurried.discard(uid)

    def waiting(self) -> dict[str, int]:
        """Passes waiting in each line, for `vmroll_tracked_entries`."""
        return {"turns_returning": len(self._returning), "turns_starting": len(self._starting)}

    def _took(self, line: str, asked: float) -> float:
        """Report the wait for a turn in `line` since `asked`; when the turn was taken."""
        now = self._clock()
        self._observer.turn_waited(line, now - asked)
        return now

    def _give_back(self, uid: str) -> None:
        """The turn `uid` holds, if any, goes to the next in line."""
        took = self._held.pop(uid, None)
        if took is not None:
            self._observer.turn_held(self._clock() - took)
            self._release()

    async def _take(self, line: deque[asyncio.Future[None]], uid: str | None = None) -> None:
        """Take a turn from `line`; the pass waiting in `_starting` for `uid` can be hurried."""
        # A free turn means no pass waits: `_release` hands a turn to a waiting one directly.
        if self._free > 0:
            self._free -= 1
            return
        granted = asyncio.get_running_loop().create_future()
        line.append(granted)
        if uid is not None:
            self._starting_of[uid] = granted
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                # Granted as it was cancelled: the turn goes to the next in line.
                self._release()
            else:
                for waiting in (self._returning, self._starting):
                    if granted in waiting:
                        waiting.remove(granted)
            raise
        finally:
            if uid is not None and self._starting_of.get(uid) is granted:
                del self._starting_of[uid]

    def _release(self) -> None:
        for line in (self._returning, self._starting):
            while line:
                granted = line.popleft()
                if not granted.done():
                    granted.set_result(None)
                    return
        self._free += 1
