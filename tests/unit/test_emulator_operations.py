"""Long-running operations settle at their deadline, through their kind's completion."""

from __future__ import annotations

import pytest

from vmroll.emulator import lro
from vmroll.emulator.lro import Operation, OperationStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _store() -> tuple[OperationStore, Clock, list[Operation]]:
    clock = Clock()
    store = OperationStore(clock)
    completed: list[Operation] = []
    store.register("vm.create", completed.append)
    return store, clock, completed


def _start(store: OperationStore, failure: dict[str, str] | None = None) -> Operation:
    return store.start(
        subscription_id="sub",
        location="westeurope",
        kind="vm.create",
        target="/vm/web-0",
        duration=10,
        api_version="2024-07-01",
        failure=failure,
    )


def test_an_operation_runs_until_its_deadline_then_completes_once() -> None:
    store, clock, completed = _store()
    operation = _start(store)

    clock.now += 9.9
    store.settle()
    running = operation.status_body()
    clock.now += 0.1
    store.settle()
    store.settle()

    assert running == {
        "startTime": lro.iso(1_000.0),
        "status": "InProgress",
        "name": operation.operation_id,
    }
    assert operation.status_body()["status"] == "Succeeded"
    assert operation.status_body()["endTime"] == lro.iso(1_010.0)
    assert completed == [operation]
    assert store.active_for("/VM/WEB-0") is None


def test_a_failure_ends_failed_with_its_error() -> None:
    store, clock, completed = _store()
    failure = {"code": "AllocationFailed", "message": "Allocation failed."}
    operation = _start(store, failure=failure)

    clock.now += 10
    store.settle()

    assert operation.status_body()["status"] == "Failed"
    assert operation.status_body()["error"] == failure
    assert completed == [operation]


def test_a_canceled_operation_never_completes() -> None:
    store, clock, completed = _store()
    operation = _start(store)

    store.cancel(operation, {"code": "OperationPreempted", "message": "preempted"})
    clock.now += 60
    store.settle()

    assert operation.status == "Canceled"
    assert completed == []


def test_status_urls_carry_the_api_version_and_monitor_flag() -> None:
    store, _, _ = _store()
    store.base_url = "https://127.0.0.1:8443"
    operation = _start(store)

    urls = store.urls(operation)

    assert urls["Azure-AsyncOperation"] == (
        "https://127.0.0.1:8443/subscriptions/sub/providers/Microsoft.Compute/locations/"
        f"westeurope/operations/{operation.operation_id}?api-version=2024-07-01"
    )
    assert urls["Location"].endswith("?monitor=true&api-version=2024-07-01")


def test_only_the_most_recent_finished_operations_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    store, clock, _ = _store()
    monkeypatch.setattr(lro, "KEPT_OPERATIONS", 3)
    operations = []
    for _ in range(5):
        operations.append(_start(store))
        clock.now += 10
        store.settle()

    assert [store.get(op.operation_id) for op in operations[:2]] == [None, None]
    assert store.get(operations[-1].operation_id) is operations[-1]


def test_snapshot_and_restore_keep_operations_in_flight() -> None:
    store, clock, completed = _store()
    operation = _start(store)
    restored, _, restored_completed = _store()
    restored.clock = clock

    restored.restore(store.snapshot())
    clock.now += 10
    restored.settle()

    assert restored_completed[0].operation_id == operation.operation_id
    assert completed == []
