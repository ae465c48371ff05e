"""Creates refused because the name exists (Azure's 412 to `If-None-Match: *`), as the gateway
gives them meaning: a VM the list missed holds the name (`NameTaken`): the pass reports the
transient cause, the VM is never touched, and the next pass, whose list still misses it, chooses
another name; this create's own VM (`AlreadyCreated`): one VM, followed as a sent create.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from test_reconcile_fakes import FakeAzure, World, vm

from vmroll.azure.lro import OperationRecord
from vmroll.azure.vm_body import VmSpec, made_by
from vmroll.azure.vms import AlreadyCreated, name_taken
from vmroll.plan.conditions import ConditionType
from vmroll.reconcile.inputs import Next, Outcome
from vmroll.reconcile.memory import REFUSAL_SECONDS

FIRST = "web-39j4c-0"


@dataclass
class IfNoneMatchAzure(FakeAzure):
    """Creates refused for an existing name as the real gateway answers them."""

    lose_create_answers: int = 0

    async def create_vm(
        self, resource_group: str, spec: VmSpec
    ) -> OperationRecord | AlreadyCreated:
        holder = self.vms.get(spec.name)
        if holder is not None:
            self.log.append(f"refused {spec.name}")
            if made_by(spec, holder.tags):
                return AlreadyCreated(holder)
            raise name_taken(spec, holder)
        record = await super().create_vm(resource_group, spec)
        if self.lose_create_answers:
            # The SDK's retry of a create whose answer was lost, refused: the VM exists. Nobody
            # follows its operation, so it ends at once here (Azure ends it on its own).
            self.lose_create_answers -= 1
            self.vms[spec.name] = replace(self.vms[spec.name], provisioning_state="Succeeded")
            return await self.create_vm(resource_group, spec)
        return record


def world_with() -> World:
    world = World()
    world.azure = IfNoneMatchAzure(world.log)
    return world


async def run_until_settled(world: World, passes: int = 20) -> list[Outcome]:
    outcomes = []
    for _ in range(passes):
        outcomes.append(await world.pass_().run())
        if outcomes[-1].next is Next.SETTLED:
            return outcomes
        world.tick(1)
    raise AssertionError(f"the pool never settled: {world.log[-30:]}")


def reconciling_messages(world: World) -> list[str]:
    return [
        str(patch_condition["message"])
        for patch in world.sinks.patches
        for patch_condition in patch.get("conditions", [])
        if patch_condition["type"] == ConditionType.RECONCILING
    ]


async def test_a_name_held_by_a_vm_the_list_misses_is_chosen_once_and_the_vm_left_alone() -> None:
    world = world_with()
    foreign = vm(FIRST, "", {"owner": "someone"})
    world.azure.vms[FIRST] = foreign
    world.azure.unlisted.add(FIRST)

    outcomes = await run_until_settled(world)

    creates = [entry for entry in world.log if entry.startswith(("create ", "refused "))]
    assert creates.count(f"refused {FIRST}") == 1
    assert f"create {FIRST}" not in creates
    assert world.azure.vms[FIRST] == foreign
    owned = sorted(name for name, one in world.azure.vms.items() if one.pool_uid)
    assert owned == ["web-39j4c-1", "web-39j4c-2", "web-39j4c-3"]
    assert outcomes[0].next is not Next.SETTLED
    cause = f"create {FIRST}: a VM of that name exists (not a pool's VM)"
    assert any(cause in message for message in reconciling_messages(world))
    assert any(e[:2] == ("Warning", "Retrying") and cause in e[2] for e in world.sinks.events)
    assert [e for e in world.sinks.events if e[1] == "ForeignVM"] == [
        ("Warning", "ForeignVM", f"VM {FIRST} looks like one of this pool's but does not carry "
         "its UID tag; vmroll leaves it alone")
    ]  # fmt: skip
    assert FIRST not in world.memory.pending
    assert list(world.memory.refused_names) == [FIRST]


async def test_a_refused_name_is_chosen_again_once_a_list_shows_its_vm_gone() -> None:
    world = world_with()
    uid = world.pass_().identity.uid
    older = vm(FIRST, uid, {"vmroll.io_pool-uid": uid, "vmroll.io_revision": "old"})
    world.azure.vms[FIRST] = older
    world.azure.unlisted.add(FIRST)
    await world.pass_().run()
    assert list(world.memory.refused_names) == [FIRST]

    world.azure.unlisted.discard(FIRST)
    world.tick(1)
    await world.pass_().run()

    assert world.memory.refused_names == {}


async def test_a_refused_name_whose_vm_goes_unlisted_is_chosen_again_after_a_while() -> None:
    world = world_with()
    uid = world.pass_().identity.uid
    older = vm(FIRST, uid, {"vmroll.io_pool-uid": uid, "vmroll.io_revision": "old"})
    world.azure.vms[FIRST] = older
    world.azure.unlisted.add(FIRST)
    await run_until_settled(world)
    del world.azure.vms[FIRST]  # deleted by someone else, never listed
    world.azure.unlisted.discard(FIRST)
    world.tick(REFUSAL_SECONDS - 10)
    await world.pass_().run()
    assert list(world.memory.refused_names) == [FIRST]

    world.tick(10)
    await world.pass_().run()
    world.pool["spec"]["replicas"] = 4
    await run_until_settled(world)

    assert world.memory.refused_names == {}
    assert FIRST in world.azure.vms
    assert world.azure.vms[FIRST].pool_uid == uid


async def test_a_create_whose_retry_finds_its_own_vm_makes_one_vm_and_settles() -> None:
    world = world_with()
    azure = world.azure
    assert isinstance(azure, IfNoneMatchAzure)
    azure.lose_create_answers = 3

    await run_until_settled(world)

    assert sorted(e for e in world.log if e.startswith("create ")) == [
        "create web-39j4c-0", "create web-39j4c-1", "create web-39j4c-2"
    ]  # fmt: skip
    assert sorted(azure.vms) == ["web-39j4c-0", "web-39j4c-1", "web-39j4c-2"]
    assert world.memory.pending == {}
    assert world.memory.refused_names == {}
    created = sorted(e[2] for e in world.sinks.events if e[1] == "Created")
    assert created == [f"created VM web-39j4c-{i}" for i in range(3)]
