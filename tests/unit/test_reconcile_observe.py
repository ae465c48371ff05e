"""Recorded operations against a listing, which instance views a pass reads, reimaged VMs'
revisions, and status merge patches."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from test_reconcile_fakes import IMAGE, World, vm

from vmroll.api.pool import VirtualMachinePool
from vmroll.api.pool_status import OperationKind, PendingOperation
from vmroll.azure.vms import VmRuntime
from vmroll.plan.revision import revision_of
from vmroll.plan.view_refresh import RefreshSchedule
from vmroll.reconcile.memory import PoolMemory, SeenRuntime
from vmroll.reconcile.observe import (
    keep_views,
    needs_runtime,
    runtimes_due,
    settle_pending,
    unlisted_known,
)
from vmroll.reconcile.report import merge_patch
from vmroll.reconcile.spec_map import as_reimaged, revision_inputs

T0 = datetime(2026, 11, 25, tzinfo=UTC)


def pending(kind: OperationKind, token: str | None) -> PendingOperation:
    return PendingOperation(vm_name="web-1", kind=kind, resume_token=token, started_at=T0)


@pytest.mark.parametrize(
    ("kind", "token", "listed_state", "finished", "succeeded"),
    [
        pytest.param(OperationKind.CREATE, None, None, True, False, id="create-never-sent"),
        pytest.param(OperationKind.CREATE, "t", None, True, False, id="create-gone-since"),
        pytest.param(OperationKind.CREATE, None, "Creating", False, False, id="create-running"),
        pytest.param(OperationKind.CREATE, "t", "Succeeded", True, True, id="create-done"),
        pytest.param(OperationKind.CREATE, None, "Failed", True, False, id="create-failed"),
        # Left to the poll, whose error says why (reconcile/following.py).
        pytest.param(OperationKind.CREATE, "t", "Failed", False, False, id="create-failed-polled"),
        pytest.param(OperationKind.DELETE, "t", "Failed", False, False, id="delete-failed-polled"),
        pytest.param(
            OperationKind.REIMAGE, "t", "Failed", False, False, id="reimage-failed-polled"
        ),
        pytest.param(OperationKind.REIMAGE, "t", "Updating", False, False, id="reimage-running"),
        pytest.param(OperationKind.DELETE, "t", "Deleting", False, False, id="delete-running"),
        pytest.param(OperationKind.DELETE, None, None, True, True, id="delete-done"),
    ],
)
def test_recorded_operations_are_settled_by_the_listing(
    kind: OperationKind,
    token: str | None,
    listed_state: str | None,
    finished: bool,
    succeeded: bool,
) -> None:
    memory = PoolMemory(pending={"web-1": pending(kind, token)})
    owned = {} if listed_state is None else {"web-1": vm("web-1", "uid", {}, listed_state)}

    done = settle_pending(memory, owned)

    assert [(d.name, d.succeeded) for d in done] == ([("web-1", succeeded)] if finished else [])
    assert ("web-1" in memory.pending) is not finished


def test_vms_seen_before_or_being_created_that_a_list_misses_are_read_by_name() -> None:
    """A VM an earlier list showed is read by name when a list skips it, as a recorded create is;
    one whose delete is recorded is not: its absence is the delete's end."""
    memory = PoolMemory(
        pending={
            "web-4": pending(OperationKind.CREATE, "t").model_copy(update={"vm_name": "web-4"}),
            "web-5": pending(OperationKind.DELETE, "t").model_copy(update={"vm_name": "web-5"}),
        },
        first_seen={name: T0 for name in ("web-1", "web-2", "web-3", "web-5")},
    )

    assert sorted(unlisted_known(memory, {"web-1"})) == ["web-2", "web-3", "web-4"]
    assert unlisted_known(memory, {"web-1", "web-2", "web-3", "web-4"}) == []


def _tags(revision: str, version: str) -> dict[str, str]:
    return {"vmroll.io_revision": revision, "vmroll.io_image-version": version}


def test_a_reimaged_vm_runs_the_targets_revision_at_the_version_azure_reports() -> None:
    spec = VirtualMachinePool.model_validate(World().pool).spec
    target = revision_inputs(spec, IMAGE)
    old = revision_of(target.with_image_version("1.0.1"))
    reimaged = replace(vm("web-1", "uid", _tags(old, "1.0.1")), image_version="1.0.2")

    assert as_reimaged(reimaged, target).revision == revision_of(target)
    untouched = vm("web-2", "uid", _tags(old, "1.0.1"))
    assert as_reimaged(untouched, target).revision == old
    other_shape = replace(vm("web-3", "uid", _tags("other", "1.0.1")), image_version="1.0.2")
    assert as_reimaged(other_shape, target).revision == "other"


@pytest.mark.parametrize(
    ("before", "after", "patch"),
    [
        ({"a": 1}, {"a": 1}, {}),
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1, "b": [1]}, {"a": 1}, {"b": None}),
        ({}, {"c": [1, 2]}, {"c": [1, 2]}),
    ],
)
def test_merge_patch_sets_changes_and_removes_dropped_keys(
    before: dict[str, object], after: dict[str, object], patch: dict[str, object]
) -> None:
    assert merge_patch(before, after) == patch


@pytest.mark.parametrize(
    ("state", "seen", "wanted"),
    [
        pytest.param("Failed", None, True, id="failed-never-read"),
        pytest.param("Failed", VmRuntime("running", None), True, id="failed-read-before-failing"),
        pytest.param(
            "Failed", VmRuntime("running", None, "InternalExecutionError"), False, id="failed-known"
        ),
        pytest.param("Creating", None, False, id="creating"),
        pytest.param("Succeeded", None, True, id="running-never-read"),
        pytest.param("Succeeded", VmRuntime("running", None), False, id="healthy-recently-read"),
    ],
)
def test_which_vms_instance_views_are_read(
    state: str, seen: VmRuntime | None, wanted: bool
) -> None:
    """A failed VM's instance view is read until it tells why provisioning failed."""
    memory = PoolMemory()
    if seen is not None:
        memory.runtimes["web-1"] = SeenRuntime(seen, T0)
    listed = vm("web-1", "uid-1", {}, state=state)
    assert needs_runtime(listed, memory, T0, RefreshSchedule(60.0)) is wanted


HEALTHY = VmRuntime("running", None)
STOPPED = VmRuntime("stopped", None)


@pytest.mark.parametrize(
    ("state", "operation", "kept"),
    [
        pytest.param("Succeeded", None, True, id="created-read-with-its-view"),
        pytest.param("Failed", None, True, id="failed-read-with-its-view"),
        pytest.param("Creating", None, False, id="still-creating"),
        pytest.param("Succeeded", OperationKind.REIMAGE, False, id="an-operation-still-runs"),
    ],
)
def test_a_view_read_with_a_vm_spares_reading_it_again(
    state: str, operation: OperationKind | None, kept: bool
) -> None:
    """A VM read by name with its instance view: the pass reads no view of it where that view
    is one it would act on."""
    memory = PoolMemory()
    if operation is not None:
        memory.pending["web-1"] = pending(operation, "t")
    listed = vm("web-1", "uid-1", {}, state=state)

    keep_views(memory, {"web-1": listed}, {"web-1": HEALTHY}, T0)

    assert ("web-1" in memory.runtimes) is kept
    if kept and state == "Succeeded":
        assert not needs_runtime(listed, memory, T0, RefreshSchedule(600.0))


@pytest.mark.parametrize(
    ("read", "phase", "busy", "wanted"),
    [
        pytest.param(
            {"web-1": (HEALTHY, 600), "web-2": (HEALTHY, 350), "web-3": (HEALTHY, 200)},
            0.0,
            False,
            ["web-1", "web-2"],
            id="at-its-moment-those-read-over-half-a-period-ago",
        ),
        pytest.param(
            {"web-1": (HEALTHY, 650), "web-2": (HEALTHY, 590), "web-3": (HEALTHY, 350)},
            0.5,
            False,
            ["web-1"],
            id="between-its-moments-those-due-at-the-last-one",
        ),
        pytest.param(
            {"web-1": (HEALTHY, 590), "web-2": (HEALTHY, 350), "web-3": (HEALTHY, 200)},
            0.5,
            False,
            [],
            id="between-its-moments-none-due",
        ),
        pytest.param(
            {"web-1": (STOPPED, 10), "web-2": (HEALTHY, 200), "web-3": None},
            0.0,
            False,
            ["web-1", "web-3"],
            id="unhealthy-or-unread-at-once",
        ),
        pytest.param(
            {"web-1": (HEALTHY, 900), "web-2": (HEALTHY, 200), "web-3": (HEALTHY, 250)},
            0.0,
            True,
            [],
            id="none-with-an-operation",
        ),
    ],
)
def test_a_pools_healthy_views_fall_due_together_at_its_moments(
    read: dict[str, tuple[VmRuntime, float] | None], phase: float, busy: bool, wanted: list[str]
) -> None:
    """Refresh period 600 s, its moments at `phase` of it (T0 is a multiple of 600 s since the
    epoch), ages in seconds at T0; `busy`: web-1 has an operation in flight."""
    memory = PoolMemory()
    for name, seen in read.items():
        if seen is not None:
            runtime, age = seen
            memory.runtimes[name] = SeenRuntime(runtime, T0 - timedelta(seconds=age))
    if busy:
        memory.pending["web-1"] = pending(OperationKind.REIMAGE, "t")
    listed = [vm(name, "uid-1", {}) for name in read]

    due = runtimes_due(listed, memory, T0, RefreshSchedule(600.0, phase))

    assert [v.name for v in due] == wanted
