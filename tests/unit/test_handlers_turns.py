"""Turns among pools' passes: bounded, first come first served, lent back while a pass waits
on Azure and taken again after, before any pass not yet started, as is the pass of a pool a
token waits for, or given up for good, and never released twice (cancellation included); each
wait for a turn and each stretch held is reported."""

from __future__ import annotations

import asyncio

from vmroll.handlers.turns import RETURNING, STARTING, Turns


class Observed:
    """A manual clock, and what Turns reported."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[tuple[str, float]] = []
        self.holds: list[float] = []

    def clock(self) -> float:
        return self.now

    def turn_waited(self, line: str, seconds: float) -> None:
        self.waits.append((line, seconds))

    def turn_held(self, seconds: float) -> None:
        self.holds.append(seconds)


def new_turns(at_once: int, observed: Observed | None = None) -> Turns:
    observed = observed or Observed()
    return Turns(at_once, observed.clock, observed)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


class Passes:
    """Pools' passes that each hold their turn until the test ends them, logging who ran."""

    def __init__(self, turns: Turns) -> None:
        self.turns = turns
        self.log: list[str] = []
        self.ends: dict[str, asyncio.Event] = {}

    async def plain(self, uid: str) -> None:
        async with self.turns.taken(uid):
            self.log.append(uid)
            await self._until_ended(uid)

    async def waiting_on_azure(self, uid: str) -> None:
        """A pass that lends its turn back for a wait, then reports."""
        async with self.turns.taken(uid):
            self.log.append(uid)
            async with self.turns.lender(uid)():
                await self._until_ended(f"{uid}-wait")
            self.log.append(f"{uid}-report")
            await self._until_ended(uid)

    async def _until_ended(self, key: str) -> None:
        self.ends[key] = asyncio.Event()
        await self.ends[key].wait()

    def end(self, key: str) -> None:
        self.ends[key].set()


async def test_a_pass_waiting_on_azure_lends_its_turn_and_reports_before_new_passes() -> None:
    passes = Passes(new_turns(1))
    lender = asyncio.create_task(passes.waiting_on_azure("a"))
    await settle()
    others = [asyncio.create_task(passes.plain(uid)) for uid in "bc"]
    await settle()
    assert passes.log == ["a", "b"]

    passes.end("a-wait")
    await settle()
    assert passes.log == ["a", "b"]

    passes.end("b")
    await settle()
    assert passes.log == ["a", "b", "a-report"]
    passes.end("a")
    await settle()
    passes.end("c")
    await asyncio.gather(lender, *others)
    assert passes.log == ["a", "b", "a-report", "c"]


async def test_passes_coming_back_take_turns_first_come_first_served() -> None:
    passes = Passes(new_turns(2))
    lenders = [asyncio.create_task(passes.waiting_on_azure(uid)) for uid in "ab"]
    await settle()
    holders = [asyncio.create_task(passes.plain(uid)) for uid in "cd"]
    late = asyncio.create_task(passes.plain("e"))
    await settle()
    assert passes.log == ["a", "b", "c", "d"]

    passes.end("b-wait")
    await settle()
    passes.end("a-wait")
    await settle()
    passes.end("c")
    await settle()
    assert passes.log == ["a", "b", "c", "d", "b-report"]
    passes.end("d")
    await settle()
    assert passes.log == ["a", "b", "c", "d", "b-report", "a-report"]
    passes.end("b")
    await settle()
    assert passes.log[-1] == "e"
    passes.end("a")
    passes.end("e")
    await asyncio.gather(*lenders, *holders, late)


async def test_a_pass_that_gives_its_turn_up_hands_it_on_once_and_lends_nothing_after() -> None:
    observed = Observed()
    turns = new_turns(1, observed)
    passes = Passes(turns)
    given_up = asyncio.Event()

    async def sending(uid: str) -> None:
        async with turns.taken(uid):
            observed.now += 2
            turns.releaser(uid)()
            turns.releaser(uid)()
            async with turns.lender(uid)():
                given_up.set()
                await passes.ends.setdefault(uid, asyncio.Event()).wait()

    sender = asyncio.create_task(sending("a"))
    await given_up.wait()
    others = [asyncio.create_task(passes.plain(uid)) for uid in "bc"]
    await settle()
    assert passes.log == ["b"]  # a's turn went to b, and only to b
    passes.end("a")
    await sender
    await settle()
    assert passes.log == ["b"]  # a ended holding nothing: c still waits for b's
    passes.end("b")
    await settle()
    passes.end("c")
    await asyncio.gather(*others)
    assert passes.log == ["b", "c"]
    assert observed.holds[0] == 2


async def test_a_pass_holding_no_turn_lends_nothing() -> None:
    turns = new_turns(1)
    passes = Passes(turns)
    async with turns.lender("a")():
        holder = asyncio.create_task(passes.plain("b"))
        await settle()
        waiting = asyncio.create_task(passes.plain("c"))
        await settle()
    assert passes.log == ["b"]
    passes.end("b")
    await settle()
    passes.end("c")
    await asyncio.gather(holder, waiting)
    assert passes.log == ["b", "c"]


async def test_a_pass_cancelled_while_it_queues_to_report_frees_no_turn_it_does_not_hold() -> None:
    passes = Passes(new_turns(1))
    lender = asyncio.create_task(passes.waiting_on_azure("a"))
    await settle()
    holder = asyncio.create_task(passes.plain("b"))
    await settle()
    passes.end("a-wait")
    await settle()
    lender.cancel()
    await asyncio.gather(lender, return_exceptions=True)

    late = [asyncio.create_task(passes.plain(uid)) for uid in "cd"]
    await settle()
    assert passes.log == ["a", "b"]
    passes.end("b")
    await settle()
    assert passes.log == ["a", "b", "c"]
    passes.end("c")
    await settle()
    passes.end("d")
    await asyncio.gather(holder, *late)
    assert passes.log == ["a", "b", "c", "d"]


async def test_a_pass_cancelled_as_it_is_granted_a_turn_hands_it_to_the_next() -> None:
    turns = new_turns(1)
    passes = Passes(turns)
    first = turns.taken("a")
    await first.__aenter__()
    granted = asyncio.create_task(passes.plain("b"))
    queued = asyncio.create_task(passes.plain("c"))
    await settle()

    await first.__aexit__(None, None, None)
    granted.cancel()
    await settle()

    assert passes.log == ["c"]
    passes.end("c")
    await asyncio.gather(granted, queued, return_exceptions=True)
    async with turns.taken("d"):
        pass


async def test_a_hurried_pass_waiting_to_start_goes_before_those_queued_ahead_of_it() -> None:
    turns = new_turns(1)
    passes = Passes(turns)
    holder = asyncio.create_task(passes.plain("a"))
    await settle()
    queued = [asyncio.create_task(passes.plain(uid)) for uid in "bcd"]
    await settle()
    assert turns.waiting() == {"turns_returning": 0, "turns_starting": 3}

    turns.hurry("d")  # the write budget set a token aside for d
    assert turns.waiting() == {"turns_returning": 1, "turns_starting": 2}
    for uid in "adbc":
        passes.end(uid)
        await settle()
    await asyncio.gather(holder, *queued)
    assert passes.log == ["a", "d", "b", "c"]
    assert turns.waiting() == {"turns_returning": 0, "turns_starting": 0}


async def test_a_pool_hurried_between_passes_has_its_next_pass_go_first_once() -> None:
    turns = new_turns(1)
    passes = Passes(turns)
    holder = asyncio.create_task(passes.plain("a"))
    await settle()
    first = asyncio.create_task(passes.plain("b"))
    await settle()

    turns.hurry("c")  # c's pass is paused; the token wakes it
    hurried = asyncio.create_task(passes.plain("c"))
    await settle()
    passes.end("a")
    await settle()
    assert passes.log == ["a", "c"]
    passes.end("c")
    await settle()
    again = asyncio.create_task(passes.plain("c"))  # no token this time: behind b
    await settle()
    for uid in "bc":
        passes.end(uid)
        await settle()
    await asyncio.gather(holder, first, hurried, again)
    assert passes.log == ["a", "c", "b", "c"]


async def test_a_forgotten_pool_is_not_hurried_and_a_cancelled_hurried_pass_leaves_its_line() -> (
    None
):
    turns = new_turns(1)
    passes = Passes(turns)
    holder = asyncio.create_task(passes.plain("a"))
    await settle()
    turns.hurry("gone")
    turns.forget("gone")  # its loop ended
    queued = asyncio.create_task(passes.plain("b"))
    await settle()
    late = asyncio.create_task(passes.plain("gone"))
    cancelled = asyncio.create_task(passes.plain("c"))
    await settle()
    turns.hurry("c")
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    assert turns.waiting() == {"turns_returning": 0, "turns_starting": 2}

    for uid in ("a", "b", "gone"):
        passes.end(uid)
        await settle()
    await asyncio.gather(holder, queued, late)
    assert passes.log == ["a", "b", "gone"]


async def test_waits_for_a_turn_are_reported_by_line_and_holds_up_to_a_lend_or_the_end() -> None:
    observed = Observed()
    passes = Passes(new_turns(1, observed))
    lender = asyncio.create_task(passes.waiting_on_azure("a"))
    await settle()
    plain = asyncio.create_task(passes.plain("b"))
    await settle()
    assert (observed.waits, observed.holds) == ([(STARTING, 0.0), (STARTING, 0.0)], [0.0])

    observed.now = 2.0
    passes.end("a-wait")
    await settle()
    observed.now = 5.0
    passes.end("b")
    await settle()
    assert observed.waits == [(STARTING, 0.0), (STARTING, 0.0), (RETURNING, 3.0)]
    assert observed.holds == [0.0, 5.0]

    observed.now = 6.5
    passes.end("a")
    await asyncio.gather(lender, plain)
    assert observed.holds == [0.0, 5.0, 1.5]
