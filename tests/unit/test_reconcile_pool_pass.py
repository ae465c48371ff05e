"""One reconcile pass against a fake Azure: what it refuses, what it records, what it reports."""

from __future__ import annotations

from datetime import datetime

import pytest
from test_reconcile_fakes import World, account_spec, vm

from vmroll.azure.errors import TerminalAzureError, TransientAzureError
from vmroll.azure.images import MarketplacePlan
from vmroll.reconcile.inputs import Next
from vmroll.reconcile.memory import PoolMemory


def conditions(world: World) -> dict[str, tuple[str, str]]:
    status = world.memory.status
    assert status is not None
    return {c.type: (c.status.value, c.reason) for c in status.conditions}


async def test_a_refused_namespace_stalls_without_any_azure_call() -> None:
    world = World(account=account_spec(["other"], ["rg-web"]))

    outcome = await world.pass_().run()

    assert outcome.next is Next.STALLED
    assert conditions(world)["Stalled"] == ("True", "AccessDenied")
    assert not [entry for entry in world.log if not entry.startswith("status")]
    assert [e[1] for e in world.sinks.events] == ["AccessDenied"]


async def test_a_missing_image_stalls_and_marks_the_image_unresolved() -> None:
    world = World()
    world.azure.image_error = TerminalAzureError("ImageNotAvailable", "not in westeurope")

    outcome = await world.pass_().run()

    assert outcome.next is Next.STALLED
    assert conditions(world)["ImageResolved"] == ("False", "ImageNotAvailable")
    assert not any(entry.startswith("create") for entry in world.log)


async def test_unaccepted_terms_stall_before_any_create() -> None:
    world = World()
    world.azure.plan = MarketplacePlan(name="p", publisher="pub", product="prod")

    await world.pass_().run()

    assert conditions(world)["Stalled"] == ("True", "TermsNotAccepted")
    assert not any(entry.startswith("create") for entry in world.log)


async def test_accept_terms_accepts_and_creates() -> None:
    world = World()
    world.pool["spec"]["image"]["acceptTerms"] = True
    world.azure.plan = MarketplacePlan(name="p", publisher="pub", product="prod")

    await world.pass_().run()

    assert "terms accept=True owner=uid-1" in world.log  # waits in the pool's own queue
    assert len(world.azure.vms) == 3


async def test_creates_are_recorded_in_status_with_the_progress_before_they_are_sent() -> None:
    world = World()

    outcome = await world.pass_().run()

    first_create = next(i for i, e in enumerate(world.log) if e.startswith("create"))
    written = world.sinks.patches[1]
    assert world.log[first_create - 1] == f"status {sorted(written)}"
    assert sorted(written) == [
        "conditions", "history", "image", "pendingOperations", "progress", "updateRevision"
    ]  # fmt: skip
    recorded = written["pendingOperations"]
    assert sorted(op["vmName"] for op in recorded) == sorted(world.azure.vms)
    assert all("resumeToken" not in op for op in recorded)
    assert outcome.next is Next.PROGRESSING


async def test_a_sending_pass_writes_its_status_once_and_its_tokens_with_the_next() -> None:
    """The record goes with the progress; the creates' tokens wait for the status that follows,
    which here is the next pass's (its list shows the VMs, which leave the record)."""
    world = World()

    await world.pass_().run()

    assert len(world.sinks.patches) == 2  # the first status (Reconciling), then the progress
    status = world.memory.status
    assert status is not None
    assert all(op.resume_token is None for op in status.pending_operations)
    assert all(op.resume_token for op in world.memory.pending.values())

    world.tick()
    await world.pass_().run()

    assert world.sinks.patches[-1]["pendingOperations"] == []


async def test_an_operator_killed_after_sending_creates_finds_them_and_creates_no_more() -> None:
    world = World()
    await world.pass_().run()
    assert world.memory.status is not None
    restarted = World(pool=world.pool, memory=PoolMemory.from_status(world.memory.status))
    restarted.azure.vms, restarted.azure.running = world.azure.vms, world.azure.running
    restarted.now = world.now
    restarted.tick()

    await restarted.pass_().run()

    assert not [e for e in restarted.log if e.startswith("create")]
    assert sorted(world.azure.vms) == sorted(
        op["vmName"] for op in world.sinks.patches[1]["pendingOperations"]
    )
    assert restarted.memory.pending == {}
    assert [e[1] for e in restarted.sinks.events].count("Created") == 3


async def test_creates_are_reported_once_a_list_shows_them() -> None:
    world = World()

    await world.pass_().run()
    after_follow = list(world.sinks.events)
    world.tick()
    await world.pass_().run()

    assert after_follow == []
    # The pool's first rollout (its creation) is complete in the same pass.
    assert [e[1] for e in world.sinks.events] == ["Created"] * 3 + ["RolloutComplete"]
    assert world.memory.pending == {}


async def test_a_new_pools_first_status_says_reconciling_before_any_operation_is_recorded() -> None:
    """kstatus reads a status with neither observedGeneration nor conditions as Current."""
    world = World()

    await world.pass_().run()

    first = world.sinks.patches[0]
    assert first["observedGeneration"] == world.pool["metadata"]["generation"]
    assert {(c["type"], c["status"]) for c in first["conditions"]} == {
        ("Ready", "False"), ("Reconciling", "True")
    }  # fmt: skip
    assert world.sinks.patches[1]["pendingOperations"]
    assert world.log.index(f"status {sorted(first)}") < world.log.index(
        f"status {sorted(world.sinks.patches[1])}"
    )


async def test_a_settled_pool_is_ready_and_then_writes_nothing() -> None:
    world = World()
    await world.pass_().run()
    world.tick()
    outcome = await world.pass_().run()
    assert outcome.next is Next.SETTLED
    assert conditions(world)["Ready"] == ("True", "AllReplicasReady")
    writes = len(world.sinks.patches)
    world.log.clear()

    world.tick(30)
    outcome = await world.pass_().run()

    assert outcome.next is Next.SETTLED
    assert len(world.sinks.patches) == writes
    assert world.log == ["resolve", "list"]


async def test_scaling_down_deletes_the_newest_and_reports_it() -> None:
    world = World()
    await world.pass_().run()
    world.tick()
    await world.pass_().run()
    world.pool["spec"]["replicas"] = 1
    world.pool["metadata"]["generation"] = 2

    await world.pass_().run()
    world.tick()
    await world.pass_().run()

    assert len(world.azure.vms) == 1
    assert [e[1] for e in world.sinks.events].count("Deleted") == 2


async def test_a_quota_error_stalls_once_with_azures_message() -> None:
    world = World()
    world.azure.create_error = TerminalAzureError("QuotaExceeded", "exceeding approved quota")

    first = await world.pass_().run()
    world.tick()
    second = await world.pass_().run()

    assert first.next is second.next is Next.STALLED
    status = world.memory.status
    assert status is not None
    assert status.pending_operations == []
    stalled = next(c for c in status.conditions if c.type == "Stalled")
    assert (stalled.reason, stalled.message) == ("QuotaExceeded", "exceeding approved quota")
    assert [e[1] for e in world.sinks.events] == ["QuotaExceeded"]


async def test_a_transient_error_retries_after_azures_delay() -> None:
    world = World()
    world.azure.list_error = TransientAzureError("throttled", retry_after=17.0)

    outcome = await world.pass_().run()

    assert (outcome.next, outcome.after) == (Next.RETRY, 17.0)
    assert conditions(world)["Reconciling"] == ("True", "Retrying")


@pytest.mark.parametrize("replicas", [0, 2, 5])
async def test_the_pool_converges_on_its_replicas(replicas: int) -> None:
    world = World()
    world.pool["spec"]["replicas"] = replicas
    for _ in range(3):
        await world.pass_().run()
        world.tick()

    assert len(world.azure.vms) == replicas
    assert world.memory.pending == {}


async def test_the_loop_comes_back_when_operations_end_and_when_vms_become_available() -> None:
    world = World()
    world.pool["spec"]["strategy"] = {"minReadySeconds": 10}

    created = await world.pass_().run()
    world.tick()
    healthy = await world.pass_().run()
    world.tick(4)
    waiting = await world.pass_().run()

    # The creates are followed by the next pass's list, a progress interval later.
    assert (created.next, created.after) == (Next.PROGRESSING, None)
    assert (healthy.next, healthy.after) == (Next.PROGRESSING, 10.0)
    assert (waiting.next, waiting.after) == (Next.PROGRESSING, 6.0)
    world.tick(6)
    assert (await world.pass_().run()).next is Next.SETTLED


async def test_a_restart_keeps_healthy_vms_available_through_a_rollout() -> None:
    world = World()
    world.pool["spec"]["strategy"] = {
        "minReadySeconds": 60, "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}
    }  # fmt: skip
    for _ in range(3):
        await world.pass_().run()
        world.tick(61)
    assert conditions(world)["Ready"] == ("True", "AllReplicasReady")
    restarted = World(pool=world.pool, memory=PoolMemory.from_status(world.memory.status))
    restarted.azure.vms = world.azure.vms
    restarted.azure.plan = None
    restarted.now = world.now
    restarted.pool["spec"]["template"]["vmSize"] = "Standard_D4s_v5"
    restarted.pool["metadata"]["generation"] = 2

    await restarted.pass_().run()

    assert sum(entry.startswith("delete") for entry in restarted.log) == 0
    assert sum(entry.startswith("create") for entry in restarted.log) == 1


async def test_a_paused_rollout_lists_the_vms_that_go_next_and_touches_none() -> None:
    world = World()
    world.pool["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    for _ in range(2):
        await world.pass_().run()
        world.tick()
    old = sorted(world.azure.vms)
    world.pool["spec"]["template"]["vmSize"] = "Standard_D4s_v5"
    world.pool["spec"]["strategy"]["paused"] = True
    world.pool["metadata"]["generation"] = 2
    world.log.clear()

    await world.pass_().run()

    status = world.memory.status
    assert status is not None
    assert sorted(status.up_next) == old
    assert conditions(world)["Reconciling"] == ("True", "Paused")
    assert conditions(world)["RolloutPaused"] == ("True", "Paused")
    assert not [e for e in world.log if e.startswith(("create", "delete", "reimage"))]
    assert world.sinks.patches[-1]["upNext"] == status.up_next


async def test_rollout_paused_shows_on_a_ready_pool_and_goes_when_unpaused() -> None:
    world = World()
    world.pool["spec"]["strategy"] = {"paused": True}
    for _ in range(2):
        await world.pass_().run()
        world.tick()
    assert conditions(world)["Ready"] == ("True", "AllReplicasReady")
    assert conditions(world)["RolloutPaused"] == ("True", "Paused")

    world.pool["spec"]["strategy"] = {"paused": False}
    world.pool["metadata"]["generation"] = 2
    await world.pass_().run()

    assert "RolloutPaused" not in conditions(world)


async def test_a_look_alike_is_reported_once_and_forgotten_when_gone() -> None:
    world = World()
    await world.pass_().run()
    owned = next(iter(world.azure.vms.values()))
    tags = {**owned.tags, "vmroll.io_pool-uid": "uid-of-an-older-pool"}
    world.azure.vms["old-web"] = vm("old-web", "uid-of-an-older-pool", tags)

    await world.pass_().run()
    await world.pass_().run()
    assert world.memory.reported_foreign == {"old-web"}
    del world.azure.vms["old-web"]
    await world.pass_().run()

    assert world.memory.reported_foreign == set()
    assert [e[1] for e in world.sinks.events].count("ForeignVM") == 1


async def test_the_notebook_forgets_vms_that_are_no_longer_listed() -> None:
    world = World()
    await world.pass_().run()
    await world.pass_().run()
    noted = world.memory.runtimes[sorted(world.azure.vms)[0]]
    when = world.now
    world.memory.healthy_since["vanished"] = when
    world.memory.runtimes["vanished"] = noted
    world.memory.changed_at["vanished"] = None
    world.memory.first_seen_deleting["vanished"] = when

    await world.pass_().run()

    memory = world.memory
    books = (
        memory.first_seen, memory.first_seen_deleting, memory.healthy_since, memory.runtimes,
        memory.changed_at,
    )  # fmt: skip
    assert all("vanished" not in book for book in books)
    assert set(memory.first_seen) == set(world.azure.vms)


async def test_a_vm_only_ever_listed_while_deleting_shows_since_when_first_seen() -> None:
    world = World()
    uid = world.pass_().identity.uid
    world.azure.vms["web-x"] = vm("web-x", uid, {"vmroll.io_pool-uid": uid}, "Deleting")
    first = world.now
    await world.pass_().run()
    world.tick(5)
    await world.pass_().run()

    instances = [
        instance
        for patch in world.sinks.patches
        for instance in patch.get("instances", [])
        if instance["name"] == "web-x"
    ]
    assert instances
    assert {datetime.fromisoformat(instance["since"]) for instance in instances} == {first}
    assert "web-x" not in world.memory.first_seen


async def test_an_unhealthy_vm_is_read_no_faster_than_azures_per_vm_bucket_allows() -> None:
    """Two minutes of passes every 0.5 s: Azure's Low Cost Get allows each VM 36 reads at once
    and 12 a minute after (vmroll leaves 4 for other gets); a VM read every pass would be
    answered 429 after about 100 s."""
    world = World()
    await world.pass_().run()
    world.azure.unhealthy = {vm.image_version or "" for vm in world.azure.vms.values()}
    for name in world.azure.vms:
        world.memory.runtimes.pop(name, None)
    world.log.clear()

    for _ in range(240):
        world.tick(0.5)
        await world.pass_().run()

    reads = {name: world.log.count(f"runtime {name}") for name in world.azure.vms}
    assert len(reads) == 3
    assert all(32 <= count <= 32 + 120 * 12 / 60 for count in reads.values()), reads
