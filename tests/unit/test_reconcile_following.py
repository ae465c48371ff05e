"""Recorded operations followed by the group's list: what a list proves done, what is polled
(a VM listed Failed, a reimage, an operation the list has not settled in time), that a
create Azure failed still reaches the condition and the event with Azure's code and message,
that the pass gives its turn among pools up before it sends and follows, and which VMs a pool
at work reads by name where the group's list is costly."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from test_reconcile_fakes import FakeAzure, World, vm

from vmroll.api.pool_status import OperationKind, PendingOperation
from vmroll.azure.errors import TerminalAzureError
from vmroll.azure.lro import LroKind, OperationRecord, OperationState
from vmroll.reconcile.following import (
    READ_AGAIN_AFTER,
    UNREAD,
    Followed,
    follows_by_reads,
    overlay,
    reads_due,
    to_poll,
)
from vmroll.reconcile.inputs import Next
from vmroll.reconcile.memory import PoolMemory
from vmroll.reconcile.observe import settle_pending

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
POLL_AFTER = 300.0


def op(kind: OperationKind, token: str | None = "t", age: float = 1.0) -> PendingOperation:
    return PendingOperation(
        vm_name="web-1", kind=kind, resume_token=token, started_at=T0 - timedelta(seconds=age)
    )


@pytest.mark.parametrize(
    ("operation", "listed_state", "polled"),
    [
        pytest.param(op(OperationKind.CREATE), None, False, id="create-not-listed-yet"),
        pytest.param(op(OperationKind.CREATE), "Creating", False, id="create-running"),
        pytest.param(op(OperationKind.CREATE), "Failed", True, id="create-failed"),
        pytest.param(op(OperationKind.DELETE), "Deleting", False, id="delete-running"),
        pytest.param(op(OperationKind.DELETE), "Failed", True, id="delete-failed"),
        pytest.param(op(OperationKind.REIMAGE), "Updating", True, id="reimage"),
        pytest.param(op(OperationKind.REIMAGE, None), "Updating", False, id="reimage-unsent"),
        pytest.param(op(OperationKind.CREATE, None), None, False, id="create-unanswered"),
        pytest.param(
            op(OperationKind.CREATE, age=POLL_AFTER), "Creating", True, id="create-unsettled-late"
        ),
        pytest.param(
            op(OperationKind.DELETE, age=POLL_AFTER), "Deleting", True, id="delete-unsettled-late"
        ),
        pytest.param(op(OperationKind.CREATE, age=POLL_AFTER - 1), None, False, id="create-early"),
    ],
)
def test_which_recorded_operations_are_polled(
    operation: PendingOperation, listed_state: str | None, polled: bool
) -> None:
    listed = {} if listed_state is None else {"web-1": vm("web-1", "uid", {}, listed_state)}

    assert to_poll([operation], listed, T0, POLL_AFTER) == ([operation] if polled else [])


@pytest.mark.parametrize(
    ("kind", "listed_state", "settled"),
    [
        pytest.param(OperationKind.CREATE, "Succeeded", True, id="create-listed-succeeded"),
        pytest.param(OperationKind.CREATE, "Creating", False, id="create-listed-creating"),
        pytest.param(OperationKind.DELETE, None, True, id="delete-not-listed"),
        pytest.param(OperationKind.DELETE, "Deleting", False, id="delete-listed-deleting"),
        pytest.param(OperationKind.CREATE, "Failed", False, id="create-failed-left-to-the-poll"),
    ],
)
def test_a_list_settles_what_it_proves_and_nothing_else_is_polled(
    kind: OperationKind, listed_state: str | None, settled: bool
) -> None:
    memory = PoolMemory(pending={"web-1": op(kind)})
    listed = {} if listed_state is None else {"web-1": vm("web-1", "uid", {}, listed_state)}

    done = settle_pending(memory, listed)

    assert [(d.name, d.succeeded) for d in done] == ([("web-1", True)] if settled else [])
    left = to_poll(memory.pending.values(), listed, T0, POLL_AFTER)
    assert [o.vm_name for o in left] == ([] if settled or listed_state != "Failed" else ["web-1"])


@dataclass
class FailingCreates(FakeAzure):
    """Creates fail in Azure: the list shows the VM Failed, the operation says why."""

    async def wait_operation(self, record: OperationRecord, *, max_wait: float) -> OperationState:
        self.log.append(f"wait {record.resource_id.rsplit('/', 1)[-1]}")
        raise TerminalAzureError("OSProvisioningTimedOut", "OS provisioning did not finish")

    def _end(self, name: str, kind: LroKind) -> None:
        self.running.pop(name, None)
        if kind is LroKind.CREATE:
            self.vms[name] = replace(self.vms[name], provisioning_state="Failed")
        else:
            super()._end(name, kind)


async def test_creates_are_not_polled_and_a_failed_one_reports_azures_reason() -> None:
    world = World()
    world.azure = FailingCreates(world.log)

    first = await world.pass_().run()
    assert first.next is Next.PROGRESSING
    assert not any(entry.startswith("wait") for entry in world.log)

    world.tick()
    second = await world.pass_().run()

    waits = [entry for entry in world.log if entry.startswith("wait")]
    assert len(waits) == 3 == len(set(waits))
    assert second.next is Next.STALLED
    status = world.memory.status
    assert status is not None
    stalled = next(c for c in status.conditions if c.type == "Stalled")
    assert (stalled.reason, stalled.message) == (
        "OSProvisioningTimedOut",
        "OS provisioning did not finish",
    )
    assert ("Warning", "OSProvisioningTimedOut", "OS provisioning did not finish") in (
        world.sinks.events
    )


async def test_creates_and_deletes_cost_no_status_read_when_the_list_settles_them() -> None:
    world = World()
    for _ in range(3):
        await world.pass_().run()
        world.tick()
    world.pool["spec"]["replicas"] = 1
    world.pool["metadata"]["generation"] = 2
    for _ in range(2):
        await world.pass_().run()
        world.tick()

    assert len(world.azure.vms) == 1
    assert world.memory.pending == {}
    assert not any(entry.startswith("wait") for entry in world.log)
    reasons = [e[1] for e in world.sinks.events]
    assert (reasons.count("Created"), reasons.count("Deleted")) == (3, 2)


async def test_the_pass_gives_its_turn_up_once_its_status_is_written() -> None:
    """It lists, plans and reports holding its turn; its sends and its follow hold none."""
    world = World()
    world.azure = FailingCreates(world.log)

    def give_up() -> None:
        world.log.append("given up")

    await replace(world.pass_(), give_up=give_up).run()
    given = world.log.index("given up")
    assert world.log[given - 1].startswith("status")
    assert "pendingOperations" in world.log[given - 1]
    assert len([e for e in world.log[given:] if e.startswith("create")]) == 3
    assert not any(e.startswith("create") for e in world.log[:given])
    assert not any(e.startswith(("list", "resolve")) for e in world.log[given:])

    world.log.clear()
    world.tick()
    await replace(world.pass_(), give_up=give_up).run()

    waits = [e for e in world.log if e.startswith("wait")]
    assert len(waits) == 3
    assert world.log.index("given up") < world.log.index(waits[0])


NOW = 1000.0
LISTED = 7
"""The number of the list a pass observes through: entries marked at 7 or later are newer."""


@pytest.mark.parametrize(
    ("period", "by_reads"),
    [
        pytest.param(3.0, False, id="500-vms-alone: wait for the list"),
        pytest.param(5.0, False, id="a-few-seconds: wait for the list"),
        pytest.param(60.0, True, id="10000-vms: read the VMs"),
    ],
)
def test_a_pool_at_work_reads_its_vms_only_where_the_groups_lists_are_far_apart(
    period: float, by_reads: bool
) -> None:
    assert follows_by_reads(period) is by_reads


@pytest.mark.parametrize(
    ("followed", "due"),
    [
        pytest.param(Followed(LISTED - 1), False, id="written-before-the-list: it shows it"),
        pytest.param(Followed(LISTED), True, id="written-since: never read"),
        pytest.param(
            Followed(LISTED, vm("web-1", "u", {}, "Creating"), NOW - 1.0),
            False,
            id="read-changing-a-moment-ago",
        ),
        pytest.param(
            Followed(LISTED, vm("web-1", "u", {}, "Deleting"), NOW - READ_AGAIN_AFTER),
            True,
            id="read-changing-long-ago",
        ),
        pytest.param(
            Followed(LISTED, vm("web-1", "u", {}), NOW - 1000.0), False, id="read-succeeded"
        ),
        pytest.param(
            Followed(LISTED, vm("web-1", "u", {}, "Failed"), NOW - 1000.0), False, id="read-failed"
        ),
        pytest.param(Followed(LISTED, None, NOW - 1000.0), False, id="read-gone"),
    ],
)
def test_which_vms_a_pool_reads_by_name(followed: Followed, due: bool) -> None:
    assert reads_due({"web-1": followed}, LISTED, NOW) == (["web-1"] if due else [])


def test_the_pools_view_takes_each_vm_read_since_the_list_over_the_list() -> None:
    listed = {
        "deleted": vm("deleted", "u", {}, "Deleting"),
        "old": vm("old", "u", {}),
        "taken": vm("taken", "u", {}),
    }
    followed = {
        "deleted": Followed(LISTED, None, NOW),
        "created": Followed(LISTED, vm("created", "u", {}, "Creating"), NOW),
        "old": Followed(LISTED - 1, None, NOW),
        "taken": Followed(LISTED, vm("taken", "other", {}), NOW),
        "unread": Followed(LISTED, UNREAD, NOW),
    }

    view = overlay(listed, followed, LISTED, "u")

    assert {name: v.provisioning_state for name, v in view.items()} == {
        "old": "Succeeded",
        "created": "Creating",
    }
