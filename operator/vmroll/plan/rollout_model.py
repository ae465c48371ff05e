"""The rollout planner's inputs and outputs: plain frozen data, free of API and SDK types.

The reconcile handler maps the pool's spec, its recorded status and one listing of Azure VMs into
these types, calls `plan_rollout` once per pass, and maps the returned `Plan` back into Azure
operations and status. Keeping these types apart from the pydantic API models lets the planner
be tested, and reasoned about, without Kubernetes or Azure in the picture.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from vmroll.plan.availability import HealthSignals, Readiness


class RolloutStrategy(enum.Enum):
    """How old VMs are brought to the target revision (the spec's `strategy.type`)."""

    ROLLING_REIMAGE = "RollingReimage"  # reimage in place; replace when the change needs it
    ROLLING_REPLACE = "RollingReplace"  # create new VMs, then delete old ones
    ON_DELETE = "OnDelete"  # only VMs that are missing are created anew


class InFlight(enum.Enum):
    """The operation vmroll has running on a VM; the planner never acts on a busy VM."""

    NONE = "None"
    CREATE = "Create"
    REIMAGE = "Reimage"
    DELETE = "Delete"


class RolloutPhase(enum.Enum):
    """Where the rollout stands; the handler maps it to condition reasons."""

    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    WAITING_FOR_WINDOW = "WaitingForWindow"
    AWAITING_DELETION = "AwaitingDeletion"  # OnDelete: old VMs wait for someone to delete them
    COMPLETE = "Complete"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"


@dataclass(frozen=True)
class Target:
    """A revision (hash of what the VMs should look like) and the image version it pins."""

    revision: str
    image_version: str


@dataclass(frozen=True)
class RollbackPolicy:
    on_failure: bool
    max_unhealthy_percent: int

    def __post_init__(self) -> None:
        if not 0 <= self.max_unhealthy_percent <= 100:
            raise ValueError(
                f"max_unhealthy_percent must be from 0 to 100, got {self.max_unhealthy_percent}"
            )


@dataclass(frozen=True)
class RolloutSpec:
    """What the pool's spec asks for.

    `max_surge`/`max_unavailable` are ints or percentages like "25%" (see fenceposts).
    `progress_deadline_seconds` None means no deadline. `zones` empty means regional VMs.
    `health_grace_seconds` is how long a new or reimaged VM may take to become healthy before
    it counts as unhealthy. `previous_rebuildable` says whether the handler can write VMs of the
    previous good revision exactly as it was (its image and template): a revision that cannot be
    rebuilt is never rolled back to, since its VMs would carry its tag but not its image.
    """

    replicas: int
    target: Target
    strategy: RolloutStrategy
    max_surge: int | str
    max_unavailable: int | str
    min_ready_seconds: int
    progress_deadline_seconds: int | None
    rollback: RollbackPolicy
    paused: bool = False
    zones: tuple[str, ...] = ()
    health_grace_seconds: int = 600
    previous_rebuildable: bool = True

    def __post_init__(self) -> None:
        # As a Deployment's: a deadline no longer than minReadySeconds could expire before
        # the first VM even counts as available.
        deadline = self.progress_deadline_seconds
        if deadline is not None and deadline <= self.min_ready_seconds:
            raise ValueError(
                f"progressDeadlineSeconds ({deadline}) must be greater than "
                f"minReadySeconds ({self.min_ready_seconds})"
            )


@dataclass(frozen=True)
class ObservedInstance:
    """One VM of the pool as Azure listed it this pass.

    `created_order` is any value that increases with creation time (e.g. a creation timestamp's
    epoch seconds); larger means newer.
    """

    name: str
    revision: str
    image_version: str
    zone: str | None
    created_order: int
    health: HealthSignals
    in_flight: InFlight = InFlight.NONE


@dataclass(frozen=True)
class RolloutProgress:
    """The progress record kept in status between passes, for the progress deadline.

    Progress is made when more VMs on `revision` became available, or fewer old VMs remain,
    than when the record last moved. `stopped` says the clock was stopped (the rollout held or
    complete) when the record was last carried forward: the next pass that runs restarts it,
    however long ago that pass was (a pool waiting for a window is not visited until it opens).
    """

    revision: str
    started_at: datetime
    last_progress_at: datetime
    updated_available: int
    old_remaining: int
    stopped: bool = False

    @classmethod
    def start(
        cls, revision: str, now: datetime, updated_available: int, old: int
    ) -> RolloutProgress:
        return cls(revision, now, now, updated_available, old)

    def with_observation(self, now: datetime, updated_available: int, old: int) -> RolloutProgress:
        if updated_available > self.updated_available or old < self.old_remaining:
            return RolloutProgress(self.revision, self.started_at, now, updated_available, old)
        return self

    def with_progress_at(self, now: datetime, *, stopped: bool = False) -> RolloutProgress:
        """Restart the deadline clock, e.g. while paused or outside a window."""
        return RolloutProgress(
            self.revision, self.started_at, now, self.updated_available, self.old_remaining, stopped
        )


@dataclass(frozen=True)
class RolloutHistory:
    """What earlier passes established: the last revision the pool fully ran, the revision that
    failed (forgotten by the planner once the spec targets another one), rollout bookkeeping."""

    previous_good: Target | None = None
    known_bad: frozenset[str] = frozenset()
    progress: RolloutProgress | None = None


@dataclass(frozen=True)
class ReimagePairs:
    """Which revision changes a reimage can perform, as `(from_revision, to_revision)` pairs.

    The handler fills it from `plan.revision` for each observed revision against the target and
    the previous good revision; any pair not listed is done by replacing the VM.
    """

    pairs: frozenset[tuple[str, str]] = frozenset()

    def allows(self, from_revision: str, to_revision: str) -> bool:
        return (from_revision, to_revision) in self.pairs


class CreateReason(enum.Enum):
    MISSING = "Missing"  # fewer VMs than replicas: scaling up, or repairing
    SURGE = "Surge"  # extra capacity for the rollout, within maxSurge


class DeleteReason(enum.Enum):
    FAILED = "ProvisioningFailed"
    SURPLUS = "Surplus"
    REPLACED = "Replaced"


@dataclass(frozen=True)
class CreateVM:
    zone: str | None
    revision: str
    image_version: str
    reason: CreateReason


@dataclass(frozen=True)
class DeleteVM:
    name: str
    reason: DeleteReason


@dataclass(frozen=True)
class ReimageVM:
    name: str
    revision: str
    image_version: str


Action = CreateVM | DeleteVM | ReimageVM


@dataclass(frozen=True)
class Counts:
    """Deployment-style counts over VMs not being deleted."""

    replicas: int
    ready: int
    updated: int
    available: int


@dataclass(frozen=True)
class InstanceReport:
    name: str
    readiness: Readiness
    updated: bool


@dataclass(frozen=True)
class RolloutFacts:
    """Facts worth a condition or an event; the handler picks reasons and messages."""

    surge: int
    max_unavailable: int
    rolled_back_from: Target | None = None
    """The failed target (revision and image version) the pool rolled back from."""
    rollback_started: bool = False
    deadline_exceeded: bool = False
    outside_window: bool = False
    below_availability_floor: bool = False
    unhealthy_updated: tuple[str, ...] = ()
    replaced_instead_of_reimaged: tuple[str, ...] = ()
    failed_replaced: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """One pass's decisions.

    `actions` are safe to run concurrently and in any order: the planner counts a VM being
    deleted as existing and a VM being created as unavailable, so no subset of them breaks the
    surge ceiling or the availability floor. `history` is what to record for the next pass.
    """

    actions: tuple[Action, ...]
    phase: RolloutPhase
    current_revision: str | None
    update_revision: str
    target: Target
    counts: Counts
    up_next: tuple[str, ...]
    instances: tuple[InstanceReport, ...]
    history: RolloutHistory
    facts: RolloutFacts
