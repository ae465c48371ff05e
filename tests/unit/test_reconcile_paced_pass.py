"""When a pass whose creates wait for vmroll's write budget comes back: when they would go, or
sooner for what it follows (`PoolPass._paced`): each operation in flight (once,
`PACED_FOLLOW_SECONDS` after it started), a new VM starting (every `PACED_FOLLOW_SECONDS`), a new
VM becoming available; and what a token set aside for the pool lets go. Azure's 429s are
waited out as they say: a throttled create stays recorded (its answer may be what was lost), so
nothing tells it from one in flight."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from test_reconcile_fakes import FakeAzure, Sinks, World

from vmroll.api.pool_status import OperationKind
from vmroll.azure.errors import Throttled, TransientAzureError, WriteBudgetExhausted
from vmroll.azure.lro import LroKind, OperationRecord
from vmroll.azure.vm_body import VmSpec
from vmroll.reconcile.inputs import Next
from vmroll.reconcile.pool_pass import PACED_FOLLOW_SECONDS

WAIT = 120.0
"""What the budget says: the creates' next turn is a round of every pool away."""
MIN_READY = 30
BUDGET_SPENT = WriteBudgetExhausted("budget spent", retry_after=WAIT)


@dataclass
class OneCreateGoes(FakeAzure):
    """Lets `allowed` creates through, then refuses each with `refusal`."""

    refusal: TransientAzureError = BUDGET_SPENT
    allowed: int = 1

    async def create_vm(self, resource_group: str, spec: VmSpec) -> OperationRecord:
        if self.allowed == 0:
            self.log.append(f"refused {spec.name}")
            raise self.refusal
        self.allowed -= 1
        return await super().create_vm(resource_group, spec)


@dataclass
class DeletesTakeLong(OneCreateGoes):
    """Lists end creates, not deletes: a delete stays in flight, its VM listed Deleting."""

    def end_running(self) -> None:
        for name, kind in list(self.running.items()):
            if kind is LroKind.CREATE:
                self._end(name, kind)


def world(refusal: TransientAzureError) -> World:
    made = World()
    made.pool["spec"]["strategy"] = {"minReadySeconds": MIN_READY}
    made.azure = OneCreateGoes(made.log, refusal=refusal)
    return made


async def test_a_create_in_flight_brings_the_pass_back_sooner_than_its_turn() -> None:
    made = world(BUDGET_SPENT)
    outcome = await made.pass_().run()
    assert [e.split()[0] for e in made.log if e.startswith(("create", "refused"))] == [
        "create", "refused", "refused",
    ]  # fmt: skip
    assert made.memory.pending
    assert outcome.next is Next.RETRY
    assert outcome.after == PACED_FOLLOW_SECONDS


async def test_an_operation_in_flight_brings_the_pass_back_once_not_until_it_ends() -> None:
    made = world(BUDGET_SPENT)
    made.pool["spec"]["strategy"] = {
        "minReadySeconds": MIN_READY,
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1},
    }
    made.azure = DeletesTakeLong(made.log, allowed=3)
    for elapsed in (0, 5, MIN_READY + 10, 3600):  # created, healthy, available, long settled
        made.tick(elapsed)
        await made.pass_().run()
    made.azure.latest = "1.0.4"
    made.tick(1)
    started = await made.pass_().run()
    made.tick(PACED_FOLLOW_SECONDS + 1)
    later = await made.pass_().run()
    # An old VM's delete is in flight, its VM past its grace period (unhealthy, not starting),
    # while the new VM's create waits for the pool's turn.
    assert [op.kind for op in made.memory.pending.values()] == [OperationKind.DELETE]
    assert (started.next, started.after) == (Next.RETRY, PACED_FOLLOW_SECONDS)
    assert (later.next, later.after) == (Next.RETRY, WAIT - PACED_FOLLOW_SECONDS - 1)


async def test_a_new_vm_starting_brings_the_pass_back_sooner_than_its_turn() -> None:
    made = world(BUDGET_SPENT)
    made.azure.unhealthy = {made.azure.latest}
    await made.pass_().run()
    made.tick(10)
    outcome = await made.pass_().run()
    assert not made.memory.pending
    assert not made.memory.healthy_since
    assert outcome.next is Next.RETRY
    assert outcome.after == PACED_FOLLOW_SECONDS


async def test_a_new_vm_becoming_available_brings_the_pass_back_then() -> None:
    made = world(BUDGET_SPENT)
    await made.pass_().run()
    made.tick(10)
    outcome = await made.pass_().run()
    assert not made.memory.pending
    assert list(made.memory.healthy_since) == [next(iter(made.azure.vms))]
    assert outcome.next is Next.RETRY
    assert outcome.after == MIN_READY


@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param(BUDGET_SPENT, id="nothing-followed"),
        pytest.param(Throttled("429", retry_after=WAIT, policy="PutVM"), id="azure-429"),
    ],
)
async def test_the_wait_stays_as_it_is(refusal: TransientAzureError) -> None:
    made = world(refusal)
    made.azure.allowed = 0
    outcome = await made.pass_().run()
    assert (outcome.next, outcome.after) == (Next.RETRY, WAIT)


async def test_a_paced_pass_leaves_its_progress_as_the_condition_and_writes_it_once() -> None:
    made = world(BUDGET_SPENT)
    made.azure.allowed = 0
    await made.pass_().run()
    status = made.memory.status
    assert status is not None
    reconciling = next(c for c in status.conditions if c.type == "Reconciling")
    assert (reconciling.status, reconciling.reason) == ("True", "Scaling")
    warned = [e for e in made.sinks.events if e[0] == "Warning"]
    written, logged = len(made.sinks.patches), len(made.log)

    for elapsed in (5, 10, 15):
        made.tick(5)
        outcome = await made.pass_().run()
        assert (outcome.next, outcome.after) == (Next.RETRY, WAIT - elapsed)

    # Until its turn the pool sends no create: none is recorded, refused and dropped again.
    assert made.sinks.patches[written:] == []
    assert not [e for e in made.log[logged:] if e.startswith(("create", "refused"))]
    assert [e for e in made.sinks.events if e[0] == "Warning"] == warned


async def test_a_token_set_aside_lets_the_held_creates_go_at_the_next_pass() -> None:
    made = world(BUDGET_SPENT)
    made.azure.allowed = 0
    await made.pass_().run()
    assert made.memory.creates_paced_until is not None
    made.azure.allowed = 1
    made.memory.token_set_aside()  # by handlers/state.py, when the budget names the pool
    made.tick(5)
    await made.pass_().run()
    assert [e.split()[0] for e in made.log if e.startswith(("create", "refused"))][-3:] == [
        "create", "refused", "refused",
    ]  # fmt: skip


@dataclass
class TokenArrives(Sinks):
    """The write budget sets a token aside for the pool while a pass writes its progress: after
    the pass read its creates' hold, before it ends paced."""

    arrives: Callable[[], None] | None = None

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        await super().patch_status(patch)
        if self.arrives is not None:
            self.arrives()
            self.arrives = None


async def test_a_token_set_aside_during_a_paced_pass_is_not_undone_by_its_end() -> None:
    made = world(BUDGET_SPENT)
    await made.pass_().run()
    made.sinks = TokenArrives(made.log, arrives=made.memory.token_set_aside)
    made.tick(5)
    await made.pass_().run()
    assert made.memory.creates_paced_until is None
    made.azure.allowed = 1
    made.tick(1)
    logged = len(made.log)
    await made.pass_().run()
    assert [e.split()[0] for e in made.log[logged:] if e.startswith(("create", "refused"))] == [
        "create", "refused",
    ]  # fmt: skip
