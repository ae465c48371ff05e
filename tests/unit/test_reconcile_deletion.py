"""A deleted pool: Delete removes its VMs, Retain releases them, a lost account waits for the
release annotation."""

from __future__ import annotations

from dataclasses import replace

from test_reconcile_fakes import World

from vmroll.api.pool import RELEASE_ANNOTATION
from vmroll.api.pool_status import OperationKind, PendingOperation
from vmroll.azure.errors import TerminalAzureError, Throttled, TransientAzureError
from vmroll.plan.reasons import Reason
from vmroll.reconcile.deletion import (
    PROGRESS_SECONDS,
    STALLED_SECONDS,
    Finalized,
    PoolDeletion,
)
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

    assert (first.finalized, second.finalized) == (Finalized.PROGRESSING, Finalized.DONE)
    assert world.azure.vms == {}


async def test_retain_policy_releases_every_vm_and_keeps_it() -> None:
    world = await ready_world("Retain")

    result = await PoolDeletion(world.pass_()).run()

    assert result.finalized is Finalized.DONE
    assert sorted(world.azure.released) == sorted(world.azure.vms)
    assert len(world.azure.vms) == 3


async def test_a_lost_account_stalls_until_the_release_annotation() -> None:
    world = await ready_world("Delete")
    lost = AccountProblem("AccountNotFound", "AzureAccount prod does not exist")
    stalled = await PoolDeletion(replace(world.pass_(), account=lost)).run()
    assert stalled.finalized is Finalized.STALLED
    status = world.memory.status
    assert status is not None
    message = next(c.message for c in status.conditions if c.type == "Stalled")
    assert RELEASE_ANNOTATION in message

    world.pool["metadata"]["annotations"] = {RELEASE_ANNOTATION: "true"}
    released = await PoolDeletion(replace(world.pass_(), account=lost)).run()

    assert released.finalized is Finalized.DONE
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

    assert (first.finalized, second.finalized) == (Finalized.PROGRESSING, Finalized.DONE)
    assert world.azure.vms == {}
    assert world.memory.pending == {}


def reconciling_message(world: World) -> str:
    status = world.memory.status
    assert status is not None
    found = next(c for c in status.conditions if c.type == "Reconciling")
    assert (found.status, found.reason) == ("True", "Retrying")
    return found.message


async def test_a_transient_delete_failure_backs_off_with_growing_delays() -> None:
    world = await ready_world("Delete")
    world.azure.delete_error = TransientAzureError("ARM answered 503", retry_after=None)
    settings = replace(world.pass_().settings, draw=lambda: 0.5)

    first = await PoolDeletion(replace(world.pass_(), settings=settings)).run()
    first_delay = first.after
    first_message = reconciling_message(world)
    second = await PoolDeletion(replace(world.pass_(), settings=settings)).run()
    second_delay = second.after

    assert (first.finalized, second.finalized) == (Finalized.RETRY, Finalized.RETRY)
    assert (first_delay, second_delay) == (10.0, 20.0)
    assert first_message == "retry 1 in 10s: ARM answered 503"
    assert reconciling_message(world) == "retry 2 in 20s: ARM answered 503"
    assert [e[1] for e in world.sinks.events].count("Retrying") == 1


async def test_retry_after_is_the_floor_of_the_deletion_backoff() -> None:
    world = await ready_world("Delete")
    world.azure.delete_error = TransientAzureError("throttled", retry_after=120.0)

    result = await PoolDeletion(world.pass_()).run()

    assert result.after >= 120.0
    assert reconciling_message(world).startswith("retry 1 in 120s")


async def test_a_transient_listing_failure_backs_off_too() -> None:
    world = await ready_world("Delete")
    world.azure.list_error = TransientAzureError("connection reset")

    result = await PoolDeletion(world.pass_()).run()

    assert result.finalized is Finalized.RETRY
    assert reconciling_message(world).endswith(": connection reset")


async def test_a_terminal_delete_failure_stalls_instead_of_retrying() -> None:
    world = await ready_world("Delete")
    world.azure.delete_error = TerminalAzureError(
        Reason.ACCESS_DENIED, "the client may not delete VMs"
    )

    result = await PoolDeletion(world.pass_()).run()

    assert result.finalized is Finalized.STALLED
    assert result.after == STALLED_SECONDS
    assert world.memory.backoff is None
    status = world.memory.status
    assert status is not None
    found = next(c for c in status.conditions if c.type == "Stalled")
    assert (found.status, found.reason) == ("True", "AccessDenied")
    assert RELEASE_ANNOTATION in found.message


async def test_a_successful_step_resets_the_backoff() -> None:
    world = await ready_world("Delete")
    world.azure.delete_error = TransientAzureError("ARM answered 500")
    await PoolDeletion(world.pass_()).run()
    world.azure.delete_error = None

    result = await PoolDeletion(world.pass_()).run()

    assert result.finalized is Finalized.PROGRESSING
    assert world.memory.backoff is None
    assert result.after == PROGRESS_SECONDS


async def test_a_throttled_delete_is_waited_out_for_its_retry_after_without_backing_off() -> None:
    world = await ready_world("Delete")
    world.azure.delete_error = Throttled(
        "Compute answered 429 for DeleteVM", retry_after=40.0, policy="DeleteVM"
    )

    first = await PoolDeletion(world.pass_()).run()
    second = await PoolDeletion(world.pass_()).run()

    assert (first.finalized, second.finalized) == (Finalized.RETRY, Finalized.RETRY)
    assert (first.after, second.after) == (40.0, 40.0)
    assert world.memory.backoff is None
    cause = (
        "Azure is throttling DeleteVM requests, waiting for its Retry-After: "
        "Compute answered 429 for DeleteVM"
    )
    assert reconciling_message(world) == f"next try in 40s: {cause}"
    assert [e[1:] for e in world.sinks.events if e[1] == "Retrying"] == [("Retrying", cause)]
