"""Conditions the way kstatus readers (kubectl wait, Argo CD, Flux) expect them.

One helper sets a condition: `lastTransitionTime` moves only when the status flips, and the
result says whether anything changed, so that a pass that changed nothing writes no status.
`assess` sets Ready, Reconciling and Stalled together from one verdict, so that they never
contradict each other: Ready is always present; Reconciling and Stalled ("abnormal-true"
conditions) are present only while True.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vmroll.api.types import Condition, ConditionStatus


class ConditionType(StrEnum):
    """Condition types vmroll writes."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    IMAGE_RESOLVED = "ImageResolved"
    POLICY_COMPLIANT = "PolicyCompliant"
    ROLLOUT_PAUSED = "RolloutPaused"
    RETENTION_APPLIED = "RetentionApplied"


class State(StrEnum):
    """The one verdict a reconcile pass reaches about an object."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"


@dataclass(frozen=True)
class Assessment:
    """A verdict with the reason and message users will read on the conditions."""

    state: State
    reason: str
    message: str


@dataclass(frozen=True)
class ConditionUpdate:
    """Conditions after a change, and whether they differ from before."""

    conditions: tuple[Condition, ...]
    changed: bool = False

    @classmethod
    def of(cls, conditions: Sequence[Condition]) -> ConditionUpdate:
        """Start from the conditions as read, unchanged."""
        return cls(tuple(conditions))

    def set(
        self,
        type_: str,
        status: ConditionStatus,
        reason: str,
        message: str,
        *,
        observed_generation: int | None,
        now: datetime,
    ) -> ConditionUpdate:
        """These conditions with one set (see `set_condition`)."""
        after = set_condition(
            self.conditions,
            type_,
            status,
            reason,
            message,
            observed_generation=observed_generation,
            now=now,
        )
        return ConditionUpdate(after.conditions, self.changed or after.changed)

    def remove(self, type_: str) -> ConditionUpdate:
        """These conditions without the one of `type_`."""
        after = remove_condition(self.conditions, type_)
        return ConditionUpdate(after.conditions, self.changed or after.changed)

    def assess(
        self, assessment: Assessment, *, observed_generation: int | None, now: datetime
    ) -> ConditionUpdate:
        """These conditions with Ready, Reconciling and Stalled set from `assessment`."""
        after = assess(
            self.conditions, assessment, observed_generation=observed_generation, now=now
        )
        return ConditionUpdate(after.conditions, self.changed or after.changed)


def find_condition(conditions: Sequence[Condition], type_: str) -> Condition | None:
    """The condition of `type_`, if present."""
    return next((c for c in conditions if c.type == type_), None)


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    observed_generation: int | None,
    now: datetime,
) -> ConditionUpdate:
    """Set one condition, keeping `lastTransitionTime` unless the status changes.

    `now` comes from the caller's clock; it is cut to whole seconds, the precision the API
    server keeps, so that a condition read back compares equal to the one written.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    existing = find_condition(conditions, type_)
    if existing is not None and existing.status == status:
        since = existing.last_transition_time
    else:
        since = now.replace(microsecond=0)
    wanted = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=observed_generation,
    )
    if existing == wanted:
        return ConditionUpdate(tuple(conditions))
    if existing is None:
        return ConditionUpdate((*conditions, wanted), changed=True)
    replaced = tuple(wanted if c.type == type_ else c for c in conditions)
    return ConditionUpdate(replaced, changed=True)


def remove_condition(conditions: Sequence[Condition], type_: str) -> ConditionUpdate:
    """Drop the condition of `type_`; unchanged when it is absent."""
    kept = tuple(c for c in conditions if c.type != type_)
    return ConditionUpdate(kept, changed=len(kept) != len(conditions))


def assess(
    conditions: Sequence[Condition],
    assessment: Assessment,
    *,
    observed_generation: int | None,
    now: datetime,
) -> ConditionUpdate:
    """Set Ready, Reconciling and Stalled consistently from one verdict.

    | state       | Ready                | Reconciling     | Stalled         |
    |-------------|----------------------|-----------------|-----------------|
    | READY       | True,  reason        | removed         | removed         |
    | RECONCILING | False, same reason   | True, reason    | removed         |
    | STALLED     | False, same reason   | removed         | True, reason    |
    """
    state, reason, message = assessment.state, assessment.reason, assessment.message
    ready = ConditionStatus.TRUE if state is State.READY else ConditionStatus.FALSE
    update = ConditionUpdate.of(conditions).set(
        ConditionType.READY,
        ready,
        reason,
        message,
        observed_generation=observed_generation,
        now=now,
    )
    for abnormal, type_ in (
        (State.RECONCILING, ConditionType.RECONCILING),
        (State.STALLED, ConditionType.STALLED),
    ):
        if state is abnormal:
            update = update.set(
                type_,
                ConditionStatus.TRUE,
                reason,
                message,
                observed_generation=observed_generation,
                now=now,
            )
        else:
            update = update.remove(type_)
    return update
