"""The write budget's waiting lines (azure/budget.py): who waits for which kind of write, whose
turn comes next, and how many writes wait on each bucket, each answered in time that does not
grow with the number of pools.

A subscription's 1,000 pools all acquire from one budget. Sorting the pools for every token and
counting every pool's queue for every acquire took 150 s of CPU to hand out a 20,000-write
rollout (benchmarks/budget_share.py --rolling). So each kind of write keeps a heap of the turns of
the pools with a line of it (an entry goes stale when its pool is served or its line ends, and is
dropped when it comes up), and each bucket a count of pools by how many of their writes draw on
it, which is what the estimate reads.

A pool's turn is its last grant (a sequence number), then when it came: least recently served
first, pools not served yet in the order they came. Who was served when is forgotten whenever no
line is left.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

BucketKey = tuple[str, ...]

Kind = tuple[BucketKey, ...]
"""A kind of write: the buckets it draws on."""

Turn = tuple[int, int]


@dataclass(eq=False)
class Waiter:
    keys: Kind
    deadline: float
    arrival: int
    granted: asyncio.Future[None] | None = field(repr=False)
    """None for a ticket: the place of a refused write, with no caller waiting."""

    def waiting(self) -> bool:
        return self.granted is not None and not self.granted.done()


class PoolQueue:
    """One pool's waiting writes and tickets: a line per kind, each in arrival order, so that
    deadlines grow along each line too; at most one ticket per line."""

    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.lines: dict[Kind, deque[Waiter]] = {}
        self.tickets: dict[Kind, Waiter] = {}
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def append(self, waiter: Waiter) -> bool:
        """Add `waiter`; whether it opened a line of its kind."""
        line = self.lines.get(waiter.keys)
        opened = line is None
        if line is None:
            line = self.lines[waiter.keys] = deque()
        line.append(waiter)
        if waiter.granted is None:
            self.tickets[waiter.keys] = waiter
        self.size += 1
        return opened

    def remove(self, waiter: Waiter) -> bool:
        line = self.lines.get(waiter.keys)
        if line is None or waiter not in line:
            return False
        line.remove(waiter)
        if waiter.granted is None:
            del self.tickets[waiter.keys]
        if not line:
            del self.lines[waiter.keys]
        self.size -= 1
        return True


class Lines:
    """The pools with writes waiting or tickets, their turns per kind and counts per bucket."""

    def __init__(self) -> None:
        self.queues: dict[str, PoolQueue] = {}
        self._turns: dict[Kind, list[tuple[Turn, str]]] = {}
        self._drawing: dict[BucketKey, dict[str, int]] = {}
        """Per bucket, the writes and tickets of each pool that draw on it."""
        self._spread: dict[BucketKey, Counter[int]] = {}
        """Per bucket, how many pools have each count of `_drawing`."""
        self._last_served: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self.queues)

    def enter(self, pool: str, waiter: Waiter) -> None:
        queue = self.queues.get(pool)
        if queue is None:
            turn = (self._last_served.get(pool, 0), waiter.arrival)
            queue = self.queues[pool] = PoolQueue(turn)
        if queue.append(waiter):
            heapq.heappush(self._turns.setdefault(waiter.keys, []), (queue.turn, pool))
        self._count(pool, waiter.keys, 1)

    def leave(self, pool: str, waiter: Waiter) -> None:
        queue = self.queues.get(pool)
        if queue is None or not queue.remove(waiter):
            return
        self._count(pool, waiter.keys, -1)
        if not queue:
            del self.queues[pool]
            if not self.queues:
                self._last_served.clear()
                self._turns.clear()

    def served(self, pool: str, grant: int) -> None:
        """The pool goes to the end of the round, in every line it has."""
        if not self.queues:
            return
        self._last_served[pool] = grant
        queue = self.queues.get(pool)
        if queue is not None:
            queue.turn = (grant, 0)
            for keys in queue.lines:
                heapq.heappush(self._turns.setdefault(keys, []), (queue.turn, pool))

    def ticket(self, pool: str, keys: Kind) -> Waiter | None:
        queue = self.queues.get(pool)
        return None if queue is None else queue.tickets.get(keys)

    def kinds(self) -> list[Kind]:
        """The kinds of write some pool has a line of."""
        return [keys for keys, _ in self._tops()]

    def next_turn(self, fits: Callable[[Kind], bool]) -> tuple[str, Waiter] | None:
        """The pool whose turn comes first among those with a line whose kind `fits`, and the
        earliest head of such lines: the top of each kind's heap, kinds being few."""
        best: tuple[tuple[Turn, int], str, Waiter] | None = None
        for keys, (turn, pool) in self._tops():
            if not fits(keys):
                continue
            head = self.queues[pool].lines[keys][0]
            if best is None or (turn, head.arrival) < best[0]:
                best = (turn, head.arrival), pool, head
        return None if best is None else (best[1], best[2])

    def ahead(self, key: BucketKey, turns: int) -> int:
        """Writes and tickets drawing on `key` that round-robin serves in `turns` rounds."""
        spread = self._spread.get(key, Counter())
        return sum(pools * min(drawing, turns) for drawing, pools in spread.items())

    def waiting(self) -> int:
        return sum(len(queue) - len(queue.tickets) for queue in self.queues.values())

    def tickets(self) -> int:
        return sum(len(queue.tickets) for queue in self.queues.values())

    def _tops(self) -> list[tuple[Kind, tuple[Turn, str]]]:
        """The first turn still current in each kind's heap, stale entries dropped."""
        tops = []
        for keys, heap in list(self._turns.items()):
            while heap:
                turn, pool = heap[0]
                queue = self.queues.get(pool)
                if queue is not None and queue.turn == turn and keys in queue.lines:
                    tops.append((keys, heap[0]))
                    break
                heapq.heappop(heap)
            else:
                del self._turns[keys]
        return tops

    def _count(self, pool: str, keys: Kind, change: int) -> None:
        for key in keys:
            drawing = self._drawing.setdefault(key, {})
            spread = self._spread.setdefault(key, Counter())
            before = drawing.pop(pool, 0)
            after = before + change
            if before:
                spread[before] -= 1
                if not spread[before]:
                    del spread[before]
            if after:
                spread[after] += 1
                drawing[pool] = after
