"""Which rollout events a pass posts: start, batches, waiting for a window, rollback, completion.

A person reading `kubectl describe vmpool` should be able to tell the pool's story without the
operator's logs: "a newer image was published, the VMs were moved to it in three batches, it
took 3m12s". Each event marks a transition between what the status recorded before the pass
(`Before`) and what this pass planned, so it is posted once however many passes follow: the
status the pass writes is the next pass's `Before`, and it survives a restart of the operator
(a pass whose status write fails posts its events again). The pool's memory of failures posted
(`reported_stall`) cannot carry these: it is cleared by every pass that goes well. A batch is
the old VMs a pass takes down (reimaged, or deleted to be replaced); it is posted when the
planner asks for it.

Failures (`RolledBack`, `ProgressDeadlineExceeded`) are not here: they are Stalled conditions,
warned of once by the reporter.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from vmroll.plan.rollout_model import (
    DeleteReason,
    DeleteVM,
    Plan,
    ReimageVM,
    RolloutPhase,
    is_restart,
)


class EventType(enum.Enum):
    NORMAL = "Normal"
    WARNING = "Warning"


class EventReason(enum.StrEnum):
    ROLLOUT_STARTED = "RolloutStarted"
    ROLLOUT_BATCH = "RolloutBatch"
    ROLLOUT_COMPLETE = "RolloutComplete"
    ROLLING_BACK = "RollingBack"
    WAITING_FOR_MAINTENANCE_WINDOW = "WaitingForMaintenanceWindow"


@dataclass(frozen=True)
class RolloutEvent:
    type: EventType
    reason: EventReason
    message: str


@dataclass(frozen=True)
class RecordedRollout:
    """A rollout as `status.history` recorded it."""

    revision: str
    image_version: str
    started_at: datetime
    in_progress: bool
    restart: str | None = None
    """The restart stamp the rollout recorded."""


@dataclass(frozen=True)
class Before:
    """What the pool's status said before this pass."""

    newest: RecordedRollout | None
    """The newest rollout record; None for a pool that never rolled out."""
    previous_version: str
    """The image version of the record before the newest ("" when there is none)."""
    observed_generation: int | None
    waiting_for_window: bool
    """The status already said the rollout waits for a maintenance window."""


@dataclass(frozen=True)
class PassContext:
    """What the pass knows besides the plan."""

    generation: int | None
    replicas: int
    now: datetime
    next_window: datetime | None
    """When the next maintenance window opens (None without windows)."""
    restart: str | None = None
    """The spec's restart stamp (spec.template.restartedAt), None when never restarted."""
    remediation: str | None = None
    """Why an ImagePolicy moved the target off the spec's version, when it did."""
    captured_by: str | None = None
    """The ImageCapture (`<namespace>/<name>`) that produced the target version, when one did."""


def rollout_events(before: Before, plan: Plan, context: PassContext) -> tuple[RolloutEvent, ...]:
    """The events this pass's plan is worth, in the order they happened."""
    events: list[RolloutEvent] = []
    newest = before.newest
    started = newest is not None and newest.revision != plan.update_revision
    if started and newest is not None:
        events.append(_started(newest, before, plan, context))
    if plan.phase is RolloutPhase.WAITING_FOR_WINDOW and (started or not before.waiting_for_window):
        events.append(_waiting(plan, context.next_window))
    batch = _batch(plan, context.replicas)
    if batch is not None:
        events.append(batch)
    finished = plan.phase is RolloutPhase.COMPLETE
    if newest is not None and not started and newest.in_progress and finished:
        events.append(_complete(newest, before.previous_version, plan, context.now))
    return tuple(events)


def format_instant(instant: datetime) -> str:
    """RFC 3339 in UTC to the second, as Kubernetes writes times."""
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(duration: timedelta) -> str:
    """`3m12s`, `1h4m0s`, `45s`, as Go prints durations (whole seconds)."""
    total = max(0, int(duration.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def waiting_message(plan: Plan, next_window: datetime | None) -> str:
    """What the Reconciling condition and the event say while a rollout waits for a window."""
    opens = (
        f"the next window opens at {format_instant(next_window)}"
        if next_window is not None
        else "no window opens within the next 7 days"
    )
    return (
        f"the rollout to image version {plan.target.image_version} (revision "
        f"{plan.update_revision}) waits for a maintenance window: {opens}"
    )


def _version(version: str) -> str:
    return version or "an unknown image version"


def _started(
    newest: RecordedRollout, before: Before, plan: Plan, context: PassContext
) -> RolloutEvent:
    old, new = _version(newest.image_version), _version(plan.target.image_version)
    failed = plan.facts.rolled_back_from
    if failed is not None:
        message = (
            f"image version {_version(failed.image_version)} (revision {failed.revision}) "
            f"failed: rolling back to image version {new} (revision {plan.update_revision})"
        )
        return RolloutEvent(EventType.WARNING, EventReason.ROLLING_BACK, message)
    if context.remediation is not None:
        why = context.remediation
    elif is_restart(newest.restart, context.restart):
        why = f"a restart was requested (spec.template.restartedAt {context.restart})"
    elif context.generation != before.observed_generation:
        why = f"the spec changed (generation {context.generation})"
    elif newest.image_version != plan.target.image_version:
        why = "a newer image version was published and the pool tracks the latest"
    else:
        why = "the template changed"
    message = f"rolling out image version {new} (revision {plan.update_revision}) over {old}: {why}"
    if context.captured_by is not None:
        message += f" (captured by ImageCapture {context.captured_by})"
    return RolloutEvent(EventType.NORMAL, EventReason.ROLLOUT_STARTED, message)


def _waiting(plan: Plan, next_window: datetime | None) -> RolloutEvent:
    return RolloutEvent(
        EventType.NORMAL,
        EventReason.WAITING_FOR_MAINTENANCE_WINDOW,
        waiting_message(plan, next_window),
    )


def _batch(plan: Plan, replicas: int) -> RolloutEvent | None:
    """Batch n of m over the old VMs: n counts the batches of the planner's size that the old
    VMs already moved would have taken, m adds those the VMs still up next will take."""
    reimaged = [a.name for a in plan.actions if isinstance(a, ReimageVM)]
    replaced = [
        a.name
        for a in plan.actions
        if isinstance(a, DeleteVM) and a.reason is DeleteReason.REPLACED
    ]
    taken = len(reimaged) + len(replaced)
    if not taken:
        return None
    size = max(taken, plan.facts.max_unavailable)
    waiting = len(plan.up_next)
    done = max(0, replicas - taken - waiting)
    number = done // size + 1
    total = number + math.ceil(waiting / size)
    work = [
        *([f"reimaging {', '.join(reimaged)}"] if reimaged else []),
        *([f"replacing {', '.join(replaced)}"] if replaced else []),
    ]
    message = f"batch {number} of {total}: {'; '.join(work)}"
    return RolloutEvent(EventType.NORMAL, EventReason.ROLLOUT_BATCH, message)


def _complete(
    newest: RecordedRollout, previous_version: str, plan: Plan, now: datetime
) -> RolloutEvent:
    took = format_duration(now - newest.started_at)
    to = _version(newest.image_version)
    over = f"from {previous_version} to {to}" if previous_version else f"to {to}"
    message = f"rolled {plan.counts.replicas} VMs {over} in {took}"
    return RolloutEvent(EventType.NORMAL, EventReason.ROLLOUT_COMPLETE, message)
