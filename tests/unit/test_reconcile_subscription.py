"""A pool records the subscription its VMs live in before its first write, and writes to no
subscription once its account names another, until restored or adopted by annotation; its
deletion deletes nothing in either."""

from __future__ import annotations

from test_reconcile_fakes import SUBSCRIPTION, FakeAzure, World

from vmroll.api.pool import ACCEPT_SUBSCRIPTION_ANNOTATION, RELEASE_ANNOTATION
from vmroll.reconcile.deletion import Finalized, PoolDeletion
from vmroll.reconcile.inputs import Next

OTHER = "00000000-0000-4000-8000-00000000a002"


def stalled(world: World) -> tuple[str, str] | None:
    status = world.memory.status
    assert status is not None
    found = next((c for c in status.conditions if c.type == "Stalled"), None)
    if found is None or found.status != "True":
        return None
    return found.reason, found.message


async def ready_world() -> World:
    world = World()
    await world.pass_().run()
    world.tick()
    await world.pass_().run()
    assert len(world.azure.vms) == 3
    return world


async def moved(world: World) -> FakeAzure:
    """The account recreated under the same name with another subscription (empty)."""
    world.account["subscriptionId"] = OTHER
    old = world.azure
    world.azure = FakeAzure(world.log)
    world.log.clear()
    return old


async def test_the_subscription_is_recorded_before_the_first_create() -> None:
    world = World()

    await world.pass_().run()

    first_create = next(i for i, line in enumerate(world.log) if line.startswith("create"))
    assert world.sinks.patches[0]["subscriptionId"] == SUBSCRIPTION
    assert "conditions" in world.sinks.patches[0]
    assert world.log.index("status ['conditions', 'observedGeneration', 'subscriptionId']") < (
        first_create
    )


async def test_another_subscription_stalls_and_writes_nothing_anywhere() -> None:
    world = await ready_world()
    old = await moved(world)

    first = await world.pass_().run()
    second = await world.pass_().run()

    assert (first.next, second.next) == (Next.STALLED, Next.STALLED)
    assert world.log == ["status ['conditions']"]
    assert len(old.vms) == 3
    assert world.azure.vms == {}
    reason, message = stalled(world) or ("", "")
    assert reason == "AccountChanged"
    assert SUBSCRIPTION in message
    assert OTHER in message
    changed = [e for e in world.sinks.events if e[1] == "AccountChanged"]
    assert len(changed) == 1
    assert changed[0][0] == "Warning"
    assert world.memory.status is not None
    assert world.memory.status.subscription_id == SUBSCRIPTION


async def test_restoring_the_subscription_resumes_the_pool() -> None:
    world = await ready_world()
    old = await moved(world)
    await world.pass_().run()

    world.account["subscriptionId"] = SUBSCRIPTION
    world.azure = old
    outcome = await world.pass_().run()

    assert outcome.next is not Next.STALLED
    assert stalled(world) is None


async def test_the_annotation_adopts_the_new_subscription_and_abandons_the_old_vms() -> None:
    world = await ready_world()
    old = await moved(world)
    await world.pass_().run()

    world.pool["metadata"]["annotations"] = {ACCEPT_SUBSCRIPTION_ANNOTATION: OTHER}
    await world.pass_().run()
    world.tick()
    await world.pass_().run()

    assert len(world.azure.vms) == 3
    assert len(old.vms) == 3
    assert world.memory.status is not None
    assert world.memory.status.subscription_id == OTHER
    adopted = [e for e in world.sinks.events if e[1] == "SubscriptionAdopted"]
    assert len(adopted) == 1
    assert f"VMs in subscription {SUBSCRIPTION} are abandoned" in adopted[0][2]


async def test_an_annotation_naming_another_subscription_adopts_nothing() -> None:
    world = await ready_world()
    await moved(world)
    world.pool["metadata"]["annotations"] = {
        ACCEPT_SUBSCRIPTION_ANNOTATION: "00000000-0000-4000-8000-00000000a003"
    }

    outcome = await world.pass_().run()

    assert outcome.next is Next.STALLED
    assert world.azure.vms == {}


async def test_deletion_under_another_subscription_deletes_nothing_until_released() -> None:
    world = await ready_world()
    old = await moved(world)
    world.pool["metadata"]["deletionTimestamp"] = "2026-11-25T12:00:00Z"
    world.sinks.events.clear()

    result = (await PoolDeletion(world.pass_()).run()).finalized

    assert result is Finalized.STALLED
    assert not any(line.startswith(("list", "delete")) for line in world.log)
    reason, message = stalled(world) or ("", "")
    assert reason == "AccountChanged"
    assert RELEASE_ANNOTATION in message
    assert "deletes nothing" in message
    assert [e[1] for e in world.sinks.events] == ["AccountChanged"]

    world.pool["metadata"]["annotations"] = {RELEASE_ANNOTATION: "true"}
    released = (await PoolDeletion(world.pass_()).run()).finalized

    assert released is Finalized.DONE
    assert len(old.vms) == 3
    assert not any(line.startswith(("list", "delete")) for line in world.log)
