"""Which revision to roll towards: the spec's, or the previous good one after a failure.

A rollout fails when its progress deadline passes without progress (as a Deployment's does), or
when more than `maxUnhealthyPercent` of the VMs already on the new revision stay unhealthy past
their grace period (as a scale set's rolling upgrade does). With `rollback.onFailure` the pool
then rolls back to the last revision it fully ran, and the failed revision is recorded as known
bad, so later passes keep rolling back instead of retrying it. The planner forgets it as soon as
the spec targets another revision: "not retried until the spec changes", and a user who later
returns to it, on purpose, gets a fresh attempt. A previous revision the handler cannot rebuild
exactly (`previous_rebuildable`) is never rolled back to: the rollout stalls at its deadline
instead. Paused rollouts never fail; time spent
paused, outside a maintenance window or waiting for someone to delete VMs (OnDelete) does not
count against the deadline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from vmroll.plan.rollout_fleet import Member
from vmroll.plan.rollout_model import RolloutHistory, RolloutProgress, RolloutSpec, Target


@dataclass(frozen=True)
class TargetDecision:
    target: Target
    rolled_back_from: Target | None
    rollback_started: bool
    deadline_exceeded: bool
    known_bad: frozenset[str]
    progress: RolloutProgress
    unhealthy_updated: tuple[str, ...]


def fleet_complete(members: Sequence[Member], replicas: int) -> bool:
    """Every VM runs the target and is available, and there are exactly `replicas` of them."""
    return len(members) == replicas and all(m.updated and m.available for m in members)


def unhealthy_share_exceeded(members: Sequence[Member], max_unhealthy_percent: int) -> bool:
    updated = [m for m in members if m.updated and not m.leaving]
    unhealthy = sum(m.readiness.is_unhealthy for m in updated)
    return bool(updated) and unhealthy * 100 > max_unhealthy_percent * len(updated)


def track_progress(
    history: RolloutHistory,
    target: Target,
    members: Sequence[Member],
    now: datetime,
    *,
    replicas: int,
    held: bool,
) -> RolloutProgress:
    """Carry the progress record forward. A new target restarts the record; a held rollout or a
    complete pool restarts the clock, so that resuming, or scaling a pool that has long been
    complete, is not judged against time nobody was rolling."""
    live = [m for m in members if not m.leaving]
    updated_available = sum(m.updated and m.available for m in live)
    old = sum(not m.updated for m in live)
    record = history.progress
    if record is None or record.revision != target.revision:
        return RolloutProgress.start(target.revision, now, updated_available, old)
    stopped = record.stopped
    record = record.with_observation(now, updated_available, old)
    if held or fleet_complete(members, replicas):
        return record.with_progress_at(now, stopped=True)
    return record.with_progress_at(now) if stopped else record


def deadline_passed(spec: RolloutSpec, progress: RolloutProgress, now: datetime) -> bool:
    if spec.progress_deadline_seconds is None:
        return False
    return now - progress.last_progress_at > timedelta(seconds=spec.progress_deadline_seconds)


def decide_target(
    spec: RolloutSpec,
    history: RolloutHistory,
    members_for: Mapping[str, tuple[Member, ...]],
    now: datetime,
    *,
    held: bool,
) -> TargetDecision:
    """Pick the effective target. `members_for` maps a revision to the fleet assessed against it
    (the spec's revision and, when there is one, the previous good revision)."""
    wanted = spec.target
    previous = history.previous_good
    # Rolling back needs somewhere else to go, that the handler can rebuild.
    good = (
        previous
        if previous is not None
        and previous.revision != wanted.revision
        and spec.previous_rebuildable
        else None
    )
    if good is not None and wanted.revision in history.known_bad:
        return _towards(good, wanted, spec, history, members_for, now, held=held)

    members = members_for[wanted.revision]
    progress = track_progress(
        history, wanted, members, now, replicas=spec.replicas, held=held or spec.paused
    )
    failing = False
    exceeded = False
    if not spec.paused and not fleet_complete(members, spec.replicas):
        exceeded = not held and deadline_passed(spec, progress, now)
        failing = good is not None and unhealthy_share_exceeded(
            members, spec.rollback.max_unhealthy_percent
        )
    if spec.rollback.on_failure and good is not None and (failing or exceeded):
        return _towards(good, wanted, spec, history, members_for, now, held=held, starting=True)
    return TargetDecision(
        target=wanted,
        rolled_back_from=None,
        rollback_started=False,
        deadline_exceeded=exceeded,
        known_bad=history.known_bad & {wanted.revision},
        progress=progress,
        unhealthy_updated=_unhealthy_names(members),
    )


def _towards(
    good: Target,
    bad: Target,
    spec: RolloutSpec,
    history: RolloutHistory,
    members_for: Mapping[str, tuple[Member, ...]],
    now: datetime,
    *,
    held: bool,
    starting: bool = False,
) -> TargetDecision:
    """Roll back to `good`; `starting` when this pass is the one that decided to."""
    members = members_for[good.revision]
    progress = track_progress(
        history, good, members, now, replicas=spec.replicas, held=held or spec.paused
    )
    exceeded = (
        not held
        and not spec.paused
        and not fleet_complete(members, spec.replicas)
        and deadline_passed(spec, progress, now)
    )
    return TargetDecision(
        target=good,
        rolled_back_from=bad,
        rollback_started=starting,
        deadline_exceeded=exceeded,
        known_bad=frozenset({bad.revision}),
        progress=progress,
        unhealthy_updated=_unhealthy_names(members_for[bad.revision]),
    )


def _unhealthy_names(members: Sequence[Member]) -> tuple[str, ...]:
    return tuple(m.name for m in members if m.updated and m.readiness.is_unhealthy)
