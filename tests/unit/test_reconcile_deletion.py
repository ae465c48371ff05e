"""A deleted pool: Delete removes its VMs, Retain releases them, a lost account waits for the
release annotation."""

from __future__ import annotations

from dataclasses import replace

from test_reconcile_fakes import World

from vmroll.api.pool import RELEASE_ANNOTATION
from vmroll.api.pool_status import OperationKind, PendingOperation
from vmroll.reconcile.deletion import Finalized, PoolDeletion
from vmroll.reconcile.inputs import AccountProblem


async def ready_world(policy: str) -> World:
    world = World()
    world.pool["spec"]["deletionPolicy"] = policy
    await world.pass_().run()
    world.pool["metadata"]["deletionTimestamp"] = "2026-11-25T12:00:00Z"
    return world


async def test_delete_policy_deletes_every_vm_before_letting_go() -> None:
    world = await ready_world("Delete")

    first = await PoolDeletion(world.pass_()).run()
    second = await PoolDeletion(world.pass_()).run()

    assert (first, second) == (Finalized.PROGRESSING, Finalized.DONE)
    assert world.azure.vms == {}


async def test_retain_policy_releases_every_vm_and_keeps_it() -> None:
    world = await ready_world("Retain")

    result = await PoolDeletion(world.pass_()).run()

    assert result is Finalized.DONE
    assert sorted(world.azure.released) == sorted(world.azure.vms)
    assert len(world.azure.vms) == 3


async def test_a_lost_account_stalls_until_the_release_annotation() -> None:
    world = await ready_world("Delete")
    lost = AccountProblem("AccountNotFound", "AzureAccount prod does not exist")
    stalled = await PoolDeletion(replace(world.pass_(), account=lost)).run()
    assert stalled is Finalized.STALLED
    status = world.memory.status
    assert status is not None
    message = next(c.message for c in status.conditions if c.type == "Stalled")
    assert RELEASE_ANNOTATION in message

    world.pool["metadata"]["annotations"] = {RELEASE_ANNOTATION: "true"}
    released = await PoolDeletion(replace(world.pass_(), account=lost)).run()

    assert released is Finalized.DONE
    assert len(world.azure.vms) == 3


async def test_a_delete_recorded_but_never_sent_is_sent_by_the_cleanup() -> None:
    # The operator died between recording the delete in status and sending it: the VM is still
    # listed, the record has no resume token, and the finalizer must not wait for it forever.
    world = await ready_world("Delete")
    name = sorted(world.azure.vms)[0]
    world.memory.pending[name] = PendingOperation(
        vm_name=name, kind=OperationKind.DELETE, resume_token=None, started_at=world.now
    )

    first = await PoolDeletion(world.pass_()).run()
    second = await PoolDeletion(world.pass_()).run()

    assert (first, second) == (Finalized.PROGRESSING, Finalized.DONE)
    assert world.azure.vms == {}
    assert world.memory.pending == {}
