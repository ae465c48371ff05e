"""What a restarted operator recovers from status, and what a spec change forgives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vmroll.api.pool_status import VirtualMachinePoolStatus
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
