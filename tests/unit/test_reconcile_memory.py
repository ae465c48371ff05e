"""What a restarted operator recovers from status, and what a spec change forgives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vmroll.api.pool_status import VirtualMachinePoolStatus
from vmroll.api.types import Condition, ConditionStatus
from vmroll.plan.rollout_model import RolloutProgress, Target
from vmroll.reconcile.memory import PoolMemory

T0 = datetime(2026, 11, 25, tzinfo=UTC)


def status(observed_generation: int) -> VirtualMachinePoolStatus:
    return VirtualMachinePoolStatus.model_validate({
        "observedGeneration": observed_generation,
        "currentRevision": "good",
        "history": [
            {"revision": "bad", "imageVersion": "2.0.0", "startedAt": T0, "outcome": "RolledBack"},
            {"revision": "good", "imageVersion": "1.0.0", "startedAt": T0, "outcome": "Succeeded"},
        ],
        "pendingOperations": [{"vmName": "web-0", "kind": "Create", "startedAt": T0}],
    })  # fmt: skip


def test_a_restart_recovers_pending_operations_the_good_revision_and_the_bad_one() -> None:
    memory = PoolMemory.from_status(status(observed_generation=4))

    history = memory.rollout_history(generation=4)

    assert list(memory.pending) == ["web-0"]
    assert history.previous_good == Target("good", "1.0.0")
    assert history.known_bad == frozenset({"bad"})


def test_a_changed_spec_forgives_the_revisions_that_failed() -> None:
    after_restart = PoolMemory.from_status(status(observed_generation=4))
    assert after_restart.rollout_history(generation=5).known_bad == frozenset()

    running = PoolMemory.from_status(status(observed_generation=4))
    assert running.rollout_history(generation=4).known_bad == frozenset({"bad"})
    assert running.rollout_history(generation=5).known_bad == frozenset()


def test_a_restart_keeps_the_progress_deadline_clock() -> None:
    recorded = VirtualMachinePoolStatus.model_validate({
        **status(observed_generation=4).to_wire(),
        "progress": {"revision": "next", "startedAt": T0.isoformat(),
                     "lastProgressAt": (T0 + timedelta(seconds=40)).isoformat(),
                     "updatedAvailable": 1, "oldRemaining": 2},
    })  # fmt: skip

    history = PoolMemory.from_status(recorded).rollout_history(generation=4)

    assert history.progress == RolloutProgress("next", T0, T0 + timedelta(seconds=40), 1, 2)


def test_a_restart_remembers_the_stall_the_status_reports_so_it_is_not_posted_again() -> None:
    """Found by benchmarks/chaos.py: a pool stalled `RolledBack` got one more `RolledBack`
    warning per operator restart, where each failure is to be posted once."""
    message = "revision bad (image version 2.0.0) failed and the pool was rolled back"
    stalled = status(observed_generation=4).model_copy(update={"conditions": [
        Condition(type="Stalled", status=ConditionStatus.TRUE, reason="RolledBack",
                  message=message, last_transition_time=T0, observed_generation=4),
        Condition(type="Reconciling", status=ConditionStatus.FALSE, reason="RolledBack",
                  message="other", last_transition_time=T0, observed_generation=4),
    ]})  # fmt: skip

    assert PoolMemory.from_status(stalled).reported_stall == ("RolledBack", message)


def test_a_restart_of_a_pool_not_stalled_has_posted_nothing() -> None:
    resolved = status(observed_generation=4).model_copy(update={"conditions": [
        Condition(type="Stalled", status=ConditionStatus.FALSE, reason="AllReplicasReady",
                  message="", last_transition_time=T0, observed_generation=4),
    ]})  # fmt: skip

    assert PoolMemory.from_status(resolved).reported_stall is None


def test_a_reused_vm_name_reads_from_the_bucket_azure_still_counts_as_spent() -> None:
    """A pool gives a deleted VM's name to its next VM; Azure's bucket is per resource ID."""
    memory = PoolMemory()
    start = datetime(2026, 11, 28, tzinfo=UTC)
    assert all(memory.may_read_runtime("web-0", start) for _ in range(32))
    later = start + timedelta(seconds=1)
    memory.forget_refilled_allowances(set(), later)
    assert not memory.may_read_runtime("web-0", later)
    memory.forget_refilled_allowances(set(), start + timedelta(minutes=4))
    assert memory.read_allowances == {}
