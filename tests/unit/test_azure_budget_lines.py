"""The write budget's waiting lines: whose turn comes next and what the estimate counts, as
tables over a few pools (azure/budget_lines.py)."""

from __future__ import annotations

import asyncio

import pytest

from vmroll.azure.budget_lines import Kind, Lines, Waiter

CREATE: Kind = (("arm", "writes"), ("compute", "westeurope", "PutVM"))
DELETE: Kind = (("arm", "deletes"), ("compute", "westeurope", "DeleteVM"))


def waiter(keys: Kind, arrival: int) -> Waiter:
    return Waiter(keys, float("inf"), arrival, asyncio.get_running_loop().create_future())


@pytest.mark.parametrize(
    ("turns", "ahead"),
    [
        pytest.param(1, 3, id="one-turn-each"),
        pytest.param(2, 5, id="two-turns"),
        pytest.param(10, 9, id="all-of-them"),
    ],
)
async def test_ahead_counts_at_most_turns_writes_of_each_pool(turns: int, ahead: int) -> None:
    lines = Lines()
    arrival = 0
    for pool, count in {"a": 3, "b": 1, "c": 5}.items():
        for _ in range(count):
            arrival += 1
            lines.enter(pool, waiter(CREATE, arrival))
    lines.enter("d", waiter(DELETE, arrival + 1))  # draws on other buckets
    assert lines.ahead(("arm", "writes"), turns) == ahead
    assert lines.ahead(("arm", "deletes"), turns) == 1


async def test_turns_go_to_the_least_recently_served_then_the_first_come() -> None:
    lines = Lines()
    for arrival, pool in enumerate("abc", start=1):
        lines.enter(pool, waiter(CREATE, arrival))
        lines.enter(pool, waiter(CREATE, arrival + 10))
    order = []
    grant = 100
    while (chosen := lines.next_turn(lambda keys: True)) is not None:
        pool, head = chosen
        lines.leave(pool, head)
        grant += 1
        lines.served(pool, grant)
        order.append(pool)
    assert order == ["a", "b", "c", "a", "b", "c"]
    assert not lines


async def test_a_pool_served_goes_behind_in_its_other_lines_too() -> None:
    lines = Lines()
    lines.enter("a", waiter(CREATE, 1))
    lines.enter("a", waiter(DELETE, 2))
    lines.enter("b", waiter(DELETE, 3))
    chosen = lines.next_turn(lambda keys: keys == CREATE)
    assert chosen is not None
    lines.leave(*chosen)
    lines.served("a", 10)
    # a's delete came before b's, but a had its turn this round.
    chosen = lines.next_turn(lambda keys: True)
    assert chosen is not None
    assert chosen[0] == "b"
    lines.leave(*chosen)
    lines.served("b", 11)
    chosen = lines.next_turn(lambda keys: True)
    assert chosen is not None
    assert chosen[0] == "a"  # its delete kept its line, at its new turn


async def test_only_kinds_that_fit_are_served() -> None:
    lines = Lines()
    lines.enter("a", waiter(CREATE, 1))
    lines.enter("b", waiter(DELETE, 2))
    chosen = lines.next_turn(lambda keys: keys == DELETE)
    assert chosen is not None
    assert chosen[0] == "b"
    assert lines.kinds() == [CREATE, DELETE]
