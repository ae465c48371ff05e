"""Write what a pass found into the pool's status: counts, instances, image, conditions.

Conditions follow kstatus: `Ready` says whether every replica runs the target revision and is
available; `Reconciling` whether vmroll is still working; `Stalled` whether a human must act.
`RolloutPaused` is present, True, while `spec.strategy.paused` is set, even on a Ready pool, so
that a pause left behind after a rollout stays visible.
The status is written only when it differs from what the API server holds, and an event is
posted once per distinct terminal error rather than on every pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from vmroll.api.pool import VirtualMachinePool
from vmroll.api.pool_status import (
    ImageStatus,
    InstanceStatus,
    ProgressRecord,
    RolloutOutcome,
    RolloutReason,
    RolloutRecord,
    VirtualMachinePoolStatus,
)
from vmroll.api.types import ConditionStatus
from vmroll.plan.conditions import Assessment, ConditionType, ConditionUpdate, State
from vmroll.plan.reasons import Reason
from vmroll.plan.rollout_events import Before, RecordedRollout, waiting_message
from vmroll.plan.rollout_model import Plan, RolloutPhase, is_restart
from vmroll.reconcile.memory import WARNING, EventSink, PoolMemory, StatusSink

MAX_HISTORY = 10
PAUSED_MESSAGE = (
    "spec.strategy.paused is true: no new rollout step starts; set it to false to resume"
)

_PHASE_REASONS = {
    RolloutPhase.PAUSED: Reason.PAUSED,
    RolloutPhase.WAITING_FOR_WINDOW: Reason.WAITING_FOR_MAINTENANCE_WINDOW,
    RolloutPhase.AWAITING_DELETION: Reason.AWAITING_DELETION,
    RolloutPhase.ROLLING_BACK: Reason.ROLLING_BACK,
}


@dataclass(frozen=True)
class PassVerdict:
    """Ready/Reconciling/Stalled from one assessment, ImageResolved when it was decided, and
    RolloutPaused when the pass read the strategy (None leaves it as it was)."""

    assessment: Assessment
    image: tuple[ConditionStatus, str, str] | None = None
    paused: bool | None = None
    policy: tuple[ConditionStatus, str, str] | None = None
    """PolicyCompliant as judged this pass; left as it was when None, unless `no_policy`."""
    no_policy: bool = False
    """No ImagePolicy applies: PolicyCompliant is removed."""


def stalled(reason: str, message: str, *, image_failed: bool = False) -> PassVerdict:
    image = (ConditionStatus.FALSE, reason, message) if image_failed else None
    return PassVerdict(Assessment(State.STALLED, reason, message), image)


def starting(generation: int | None) -> PassVerdict:
    """The first status of a pool, written before its first Azure operation is recorded.

    Without it the first status would hold `pendingOperations` alone: no `observedGeneration`
    and no condition, which kstatus (Flux's `wait`, `kubectl wait` readers) reads as Current.
    """
    message = f"vmroll is working towards generation {generation} of the spec"
    return PassVerdict(Assessment(State.RECONCILING, Reason.RECONCILING, message))


def deleting(message: str) -> PassVerdict:
    return PassVerdict(Assessment(State.RECONCILING, Reason.DELETING, message))


@dataclass(frozen=True)
class Progress:
    """What a pass that got as far as planning reports."""

    plan: Plan
    image: ImageStatus
    instances: tuple[InstanceStatus, ...]
    busy: bool
    """Operations are still in flight (recorded in status)."""
    image_message: str
    paused: bool
    """`spec.strategy.paused` as this pass read it."""
    next_window: datetime | None = None
    """When the next maintenance window opens (None without windows)."""


def progress_verdict(progress: Progress, spec_replicas: int) -> PassVerdict:
    return replace(_progress_verdict(progress, spec_replicas), paused=progress.paused)


def _progress_verdict(progress: Progress, spec_replicas: int) -> PassVerdict:
    plan = progress.plan
    counts = plan.counts
    image = (ConditionStatus.TRUE, Reason.IMAGE_RESOLVED.value, progress.image_message)
    if plan.phase is RolloutPhase.DEADLINE_EXCEEDED:
        message = (
            f"the rollout to revision {plan.update_revision} made no progress within "
            "spec.strategy.progressDeadlineSeconds; fix the image or the template"
        )
        return PassVerdict(
            Assessment(State.STALLED, Reason.PROGRESS_DEADLINE_EXCEEDED, message), image
        )
    failed = plan.facts.rolled_back_from
    if plan.phase is RolloutPhase.ROLLED_BACK and failed is not None:
        message = (
            f"revision {failed.revision} (image version {failed.image_version}) failed and the "
            f"pool was rolled back to revision {plan.target.revision} (image version "
            f"{plan.target.image_version}); change the spec to try again"
        )
        return PassVerdict(Assessment(State.STALLED, Reason.ROLLED_BACK, message), image)
    done = plan.phase is RolloutPhase.COMPLETE and not plan.actions and not progress.busy
    if done and counts.replicas == spec_replicas:
        message = (
            f"{counts.available}/{spec_replicas} VMs available at revision {plan.update_revision}"
        )
        return PassVerdict(Assessment(State.READY, Reason.ALL_REPLICAS_READY, message), image)
    reason = _PHASE_REASONS.get(plan.phase, _working_reason(plan, spec_replicas))
    if plan.phase is RolloutPhase.WAITING_FOR_WINDOW:
        message = waiting_message(plan, progress.next_window)
        return PassVerdict(Assessment(State.RECONCILING, reason, message), image)
    message = (
        f"{counts.replicas} of {spec_replicas} VMs exist, {counts.available} available, "
        f"{counts.updated} at revision {plan.update_revision}"
    )
    return PassVerdict(Assessment(State.RECONCILING, reason, message), image)


def _working_reason(plan: Plan, spec_replicas: int) -> Reason:
    if plan.up_next or plan.counts.updated < min(plan.counts.replicas, spec_replicas):
        return Reason.ROLLING_OUT
    if plan.counts.replicas != spec_replicas:
        return Reason.SCALING
    return Reason.WAITING_FOR_HEALTHY


_CLOCK_RUNNING = (
    RolloutPhase.PROGRESSING,
    RolloutPhase.ROLLING_BACK,
    RolloutPhase.DEADLINE_EXCEEDED,
)


def progress_record(plan: Plan) -> ProgressRecord | None:
    """The progress clock to keep in status: only while it runs. A complete or held rollout
    restarts it on every pass, which would make every pass write status; a restarted operator
    restarts it just the same."""
    record = plan.history.progress
    if record is None or plan.phase not in _CLOCK_RUNNING:
        return None
    return ProgressRecord(
        revision=record.revision,
        started_at=record.started_at,
        last_progress_at=record.last_progress_at,
        updated_available=record.updated_available,
        old_remaining=record.old_remaining,
    )


def history_after(
    history: Sequence[RolloutRecord], plan: Plan, now: datetime, restart: str | None = None
) -> list[RolloutRecord]:
    """Open a record when the target revision changes, with the image version of the revision
    rolled to (the previous one's, when rolling back) and the spec's restart stamp (reason
    `Restart` when the stamp is new); close it when the rollout ends. A rollout the pool rolls
    back from ends `RolledBack`; the rollback is a rollout of its own."""
    records = list(history)
    newest = records[0] if records else None
    if newest is None or newest.revision != plan.update_revision:
        if newest is not None and newest.outcome is RolloutOutcome.IN_PROGRESS:
            failed = plan.facts.rolled_back_from
            outcome = (
                RolloutOutcome.ROLLED_BACK
                if failed is not None and failed.revision == newest.revision
                else RolloutOutcome.SUPERSEDED
            )
            records[0] = newest.model_copy(update={"outcome": outcome, "finished_at": now})
        rolling_back = plan.facts.rolled_back_from is not None
        previous_stamp = newest.restarted_at if newest is not None else None
        started = RolloutRecord(
            revision=plan.update_revision,
            image_version=plan.target.image_version or None,
            started_at=now,
            restarted_at=restart,
            reason=(
                RolloutReason.RESTART
                if not rolling_back and is_restart(previous_stamp, restart)
                else None
            ),
        )
        records.insert(0, started)
    newest = records[0]
    if newest.outcome is RolloutOutcome.IN_PROGRESS and plan.phase in (
        RolloutPhase.COMPLETE,
        RolloutPhase.ROLLED_BACK,
    ):
        records[0] = newest.model_copy(
            update={"outcome": RolloutOutcome.SUCCEEDED, "finished_at": now}
        )
    return records[:MAX_HISTORY]


def before_pass(status: VirtualMachinePoolStatus) -> Before:
    """What the status recorded before a pass, for deciding the pass's rollout events."""
    records = status.history
    newest = (
        RecordedRollout(
            revision=records[0].revision,
            image_version=records[0].image_version or "",
            started_at=records[0].started_at,
            restart=records[0].restarted_at,
            in_progress=records[0].outcome is RolloutOutcome.IN_PROGRESS,
        )
        if records
        else None
    )
    reconciling = next(
        (c for c in status.conditions if c.type == ConditionType.RECONCILING.value), None
    )
    return Before(
        newest=newest,
        previous_version=(records[1].image_version or "") if len(records) > 1 else "",
        observed_generation=status.observed_generation,
        waiting_for_window=reconciling is not None
        and reconciling.status is ConditionStatus.TRUE
        and reconciling.reason == Reason.WAITING_FOR_MAINTENANCE_WINDOW,
    )


@dataclass(frozen=True)
class Reporter:
    """Writes one pass's status, only when it changed."""

    pool: VirtualMachinePool
    memory: PoolMemory
    sink: StatusSink
    events: EventSink
    now: datetime

    @property
    def current(self) -> VirtualMachinePoolStatus:
        return self.memory.status or self.pool.status or VirtualMachinePoolStatus()

    async def write(self, verdict: PassVerdict, **fields: Any) -> None:
        old = self.current
        generation = self.pool.metadata.generation
        update = ConditionUpdate.of(old.conditions).assess(
            verdict.assessment, observed_generation=generation, now=self.now
        )
        if verdict.image is not None:
            update = update.set(
                ConditionType.IMAGE_RESOLVED,
                *verdict.image,
                observed_generation=generation,
                now=self.now,
            )
        if verdict.policy is not None:
            update = update.set(
                ConditionType.POLICY_COMPLIANT,
                *verdict.policy,
                observed_generation=generation,
                now=self.now,
            )
        elif verdict.no_policy:
            update = update.remove(ConditionType.POLICY_COMPLIANT)
        if verdict.paused:
            update = update.set(
                ConditionType.ROLLOUT_PAUSED,
                ConditionStatus.TRUE,
                Reason.PAUSED,
                PAUSED_MESSAGE,
                observed_generation=generation,
                now=self.now,
            )
        elif verdict.paused is not None:
            update = update.remove(ConditionType.ROLLOUT_PAUSED)
        new = old.model_copy(
            update={
                **fields,
                "observed_generation": self.pool.metadata.generation,
                "pending_operations": list(self.memory.pending.values()),
                "conditions": list(update.conditions),
            }
        )
        new = VirtualMachinePoolStatus.model_validate(new.model_dump())
        before, after = old.to_wire(), new.to_wire()
        if before != after:
            await self.sink.patch_status(merge_patch(before, after))
        self.memory.status = new

    async def record_subscription(self, subscription_id: str) -> None:
        """Record the subscription the pool's VMs live in; a pool's first status also says
        Reconciling (see `starting`), never the field alone."""
        if self.current.observed_generation is None:
            verdict = starting(self.pool.metadata.generation)
            await self.write(verdict, subscription_id=subscription_id)
            return
        await self._record(subscription_id=subscription_id)

    async def record_pending(self) -> None:
        """Write the operations recorded (reconcile/act.py), kept as written: the pass's next
        `write` then sends only what changed since."""
        await self._record()

    async def _record(self, **fields: Any) -> None:
        old = self.current
        new = old.model_copy(
            update={**fields, "pending_operations": list(self.memory.pending.values())}
        )
        before, after = old.to_wire(), new.to_wire()
        if before != after:
            await self.sink.patch_status(merge_patch(before, after))
        self.memory.status = new

    def warn_once(self, reason: str, message: str) -> None:
        if self.memory.reported_stall != (reason, message):
            self.memory.reported_stall = (reason, message)
            self.events.event(WARNING, reason, message)


def merge_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch from `before` to `after`, top-level keys only (lists are replaced)."""
    patch: dict[str, Any] = {k: v for k, v in after.items() if before.get(k) != v}
    patch.update({k: None for k in before if k not in after})
    return patch
