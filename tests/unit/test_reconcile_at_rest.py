"""A pool at rest skips observing, planning and the status, and only while nothing it reads moved.

Each test settles a pool against the fake Azure, then counts the planner's calls: a pass at rest
never plans, and a change of each input (the body, the list, the image, the account's inputs,
the clock, the memory) makes the next pass a full one. One scenario runs twice, with the skip
and with every pass forced to be a full one, and both must leave the same trace.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from test_reconcile_fakes import World, vm

from vmroll.api.pool_status import OperationKind, PendingOperation
from vmroll.azure.vms import VmRuntime
from vmroll.plan import rollout
from vmroll.plan.read_pacing import ReadAllowance
from vmroll.plan.view_refresh import RefreshSchedule, refresh_phase
from vmroll.reconcile import pool_pass
from vmroll.reconcile.at_rest import NOT_STATE, memory_state, same_state, views_refreshed_only
from vmroll.reconcile.inputs import Next, Outcome, TemplateInputs
from vmroll.reconcile.memory import PoolMemory, SeenRuntime

SETTLED = Outcome(Next.SETTLED)
REFRESH = 600.0
"""PassSettings' default instance-view refresh, in seconds."""
T0 = datetime(2026, 11, 25, tzinfo=UTC)
T1 = T0 + timedelta(seconds=REFRESH)


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per call of the planner."""
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return rollout.plan_rollout(*args, **kwargs)

    monkeypatch.setattr(pool_pass, "plan_rollout", counted)
    return calls


async def settle(world: World) -> None:
    """Passes (5 s apart) until the pool is at rest; its status follows the memory's."""
    for _ in range(20):
        await world.pass_().run()
        world.pool["status"] = world.memory.status.to_wire() if world.memory.status else {}
        if world.memory.at_rest is not None:
            return
        world.tick(5)
    raise AssertionError("the pool did not come to rest")


async def resting_world(plans: list[int]) -> World:
    world = World()
    await settle(world)
    plans.clear()
    world.log.clear()
    return world


async def test_a_pass_at_rest_lists_but_neither_plans_nor_writes(plans: list[int]) -> None:
    world = await resting_world(plans)
    patches, events = len(world.sinks.patches), len(world.sinks.events)

    world.tick(60)
    outcome = await world.pass_().run()

    assert outcome == SETTLED
    assert plans == []
    assert "list" in world.log
    assert (len(world.sinks.patches), len(world.sinks.events)) == (patches, events)


async def test_a_full_pass_of_a_pool_at_rest_plans(plans: list[int]) -> None:
    """The counter sees planning: without the rest, the same pass plans."""
    world = await resting_world(plans)
    world.memory.at_rest = None

    outcome = await world.pass_().run()

    assert outcome == SETTLED
    assert plans == [1]


async def test_a_changed_spec_or_annotation_makes_a_full_pass(plans: list[int]) -> None:
    world = await resting_world(plans)
    world.pool["metadata"]["annotations"] = {"note": "x"}
    await world.pass_().run()
    assert plans == [1]

    world.pool["spec"]["replicas"] = 4
    world.pool["metadata"]["generation"] = 2
    outcome = await world.pass_().run()

    assert plans == [1, 1]
    assert outcome.next is Next.PROGRESSING
    assert any(entry.startswith("create") for entry in world.log)


async def test_a_changed_list_makes_a_full_pass(plans: list[int]) -> None:
    world = await resting_world(plans)
    name, listed = next(iter(world.azure.vms.items()))
    world.azure.vms[name] = replace(listed, tags={**listed.tags, "owner": "someone"})

    await world.pass_().run()

    assert plans == [1]


async def test_a_pool_resting_on_a_newer_list_keeps_its_vms_and_not_the_older_lists(
    plans: list[int],
) -> None:
    """Each list decodes its VMs anew: a rest that kept those of the list it began on kept that
    list's VMs alive beside every newer list's, for as long as it lasted."""
    world = await resting_world(plans)
    world.azure.vms = {name: replace(listed) for name, listed in world.azure.vms.items()}

    world.tick(60)
    outcome = await world.pass_().run()

    assert outcome == SETTLED
    assert plans == []
    rest = world.memory.at_rest
    assert rest is not None
    owned = rest.share[0]
    assert len(owned) == 3
    assert all(listed is world.azure.vms[listed.name] for listed in owned)


async def test_a_look_alike_appearing_makes_a_full_pass(plans: list[int]) -> None:
    world = await resting_world(plans)
    look_alike = next(iter(world.azure.vms))[:-1] + "9"
    world.azure.vms[look_alike] = vm(look_alike, "other-uid", {})

    await world.pass_().run()

    assert plans == [1]
    assert [e[1] for e in world.sinks.events][-1:] == ["ForeignVM"]


async def test_a_new_latest_image_makes_a_full_pass(plans: list[int]) -> None:
    world = await resting_world(plans)
    world.azure.latest = "1.0.3"

    outcome = await world.pass_().run()

    assert plans == [1]
    assert outcome.next is Next.PROGRESSING


async def test_changed_template_inputs_or_namespace_labels_make_a_full_pass(
    plans: list[int],
) -> None:
    world = await resting_world(plans)
    await replace(world.pass_(), inputs=TemplateInputs(("ssh-ed25519 BBBB",))).run()
    assert plans == [1]

    await replace(world.pass_(), namespace_labels={"team": "web"}).run()

    assert plans == [1, 1]


def schedule(world: World, period: float = REFRESH) -> RefreshSchedule:
    """The refresh moments of the world's pool: every `period`, at its UID's phase."""
    return RefreshSchedule(period, refresh_phase(world.pool["metadata"]["uid"]))


def views_due(world: World) -> datetime:
    """When every healthy view the pool has read is due a refresh by the default period."""
    return max(map(schedule(world).due_at, (s.read_at for s in world.memory.runtimes.values())))


async def test_an_instance_view_due_a_refresh_makes_a_full_pass(plans: list[int]) -> None:
    world = await resting_world(plans)
    due = schedule(world).due_at(min(seen.read_at for seen in world.memory.runtimes.values()))
    world.now = due - timedelta(seconds=30)
    await world.pass_().run()
    assert plans == []

    world.now = due
    await world.pass_().run()

    assert plans == [1]
    assert any(entry.startswith("runtime") for entry in world.log)


async def test_a_pool_whose_views_were_read_apart_refreshes_them_together(
    plans: list[int],
) -> None:
    """VMs read 0, 150 and 400 s apart (healthy at different moments), then passes a minute
    apart: at most two refreshes read some of the views, and from then on the settled pool reads
    all three together once per period, at its own moments, in one pass, its only full one: the
    views said what they said before, so it rests at once."""
    world = await resting_world(plans)
    moments = schedule(world)
    first, second, third = sorted(world.memory.runtimes)
    for name, age in ((first, 0), (second, 150), (third, 400)):
        seen = world.memory.runtimes[name]
        world.memory.runtimes[name] = replace(seen, read_at=world.now - timedelta(seconds=age))
    await world.pass_().run()
    plans.clear()
    reads: list[tuple[datetime, list[str]]] = []
    full: list[datetime] = []
    for _ in range(50):
        world.tick(60)
        world.log.clear()
        planned = len(plans)
        await world.pass_().run()
        read = sorted(e.split()[1] for e in world.log if e.startswith("runtime"))
        if read:
            reads.append((world.now, read))
        if len(plans) > planned:
            full.append(world.now)

    together = [n for n, (_, read) in enumerate(reads) if read == [first, second, third]]
    assert together[0] <= 2
    assert together == list(range(together[0], len(reads)))
    assert len(together) >= 4
    at = [when for when, _ in reads]
    assert all(b - a == timedelta(seconds=REFRESH) for a, b in pairwise(at[together[0] :]))
    offset = moments.phase * REFRESH
    assert all((when.timestamp() - offset) % REFRESH < 60 for when in at)
    assert full == at


async def test_a_changed_memory_makes_a_full_pass(plans: list[int]) -> None:
    world = await resting_world(plans)
    name = next(iter(world.azure.vms))
    world.memory.pending[name] = PendingOperation(
        vm_name=name, kind=OperationKind.DELETE, started_at=world.now
    )

    await world.pass_().run()

    assert plans == [1]


@pytest.mark.parametrize(
    "spec",
    [
        {"updatePolicy": {"maintenanceWindows": ["Sun 02:00 3h"]}},
    ],
    ids=["maintenance-window"],
)  # fmt: skip
async def test_a_pool_whose_pass_follows_the_clock_never_rests(
    plans: list[int], spec: dict[str, Any]
) -> None:
    world = World()
    world.pool["spec"].update(spec)
    for _ in range(8):
        await world.pass_().run()
        world.tick(5)

    assert world.memory.at_rest is None


async def test_skipping_leaves_the_same_trace_as_full_passes(plans: list[int]) -> None:
    """The same steps with the skip and with every pass a full one: same outcomes, same Azure
    calls, same status patches and events, same memory; only fewer plans."""
    traces = []
    planned = []
    for skip in (True, False):
        plans.clear()
        world = World()
        outcomes = []
        for step in range(40):
            if not skip:
                world.memory.at_rest = None
            if step == 20:
                world.azure.latest = "1.0.3"
            if step == 30:
                world.pool["metadata"]["annotations"] = {"note": "x"}
            outcomes.append(await world.pass_().run())
            world.tick(45)
        traces.append(
            (
                outcomes,
                world.log,
                world.sinks.patches,
                world.sinks.events,
                memory_state(world.memory),
            )
        )
        planned.append(len(plans))

    assert traces[0] == traces[1]
    assert planned[0] < planned[1] == 40


def test_every_book_of_the_memory_is_compared_but_the_rest_and_the_validated_body() -> None:
    """A book added to the memory later is compared at once: changing any field other than
    the two a pass never decides by changes the state a rest is judged against."""
    empty = PoolMemory()
    baseline = memory_state(empty)
    for f in fields(PoolMemory):
        memory = PoolMemory()
        value = getattr(memory, f.name)
        if isinstance(value, dict):
            value["x"] = None
        elif isinstance(value, set):
            value.add("x")
        else:
            setattr(memory, f.name, object())
        assert (memory_state(memory) == baseline) is (f.name in NOT_STATE), f.name


def test_a_rest_compares_the_memory_as_its_copy_would() -> None:
    """`same_state` judges without copying what `memory_state`'s copy judges: a book changed in
    place since the state was taken differs, the rest and the validated body do not."""
    for f in fields(PoolMemory):
        memory = PoolMemory()
        state = memory_state(memory)
        assert same_state(memory, state), f.name
        value = getattr(memory, f.name)
        if isinstance(value, dict):
            value["x"] = None
        elif isinstance(value, set):
            value.add("x")
        else:
            setattr(memory, f.name, object())
        assert same_state(memory, state) is (f.name in NOT_STATE), f.name


@pytest.mark.parametrize(
    ("runtime", "healthy_since", "refreshed_only"),
    [
        pytest.param(VmRuntime("running", None), T0, True, id="same-view-read-again"),
        pytest.param(VmRuntime("running", "Healthy"), T0, False, id="view-changed"),
        pytest.param(VmRuntime("running", None), T1, False, id="another-book-changed"),
    ],
)
def test_a_pass_that_only_read_the_same_views_again_may_rest(
    runtime: VmRuntime, healthy_since: datetime, refreshed_only: bool
) -> None:
    """The view read at T1 (its read budget spent) against the one read at T0."""
    found = PoolMemory()
    found.runtimes["web-1"] = SeenRuntime(VmRuntime("running", None), T0)
    found.healthy_since["web-1"] = T0
    left = PoolMemory()
    left.runtimes["web-1"] = SeenRuntime(runtime, T1)
    left.healthy_since["web-1"] = healthy_since
    left.read_allowances["web-1"] = ReadAllowance(3.0, T1)

    assert views_refreshed_only(memory_state(found), memory_state(left)) is refreshed_only
