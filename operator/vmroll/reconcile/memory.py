"""What a pool's loop remembers between passes, and the sinks a pass reports through.

`PoolMemory` lives in the operator process (in kopf's `memo`, per pool) and is rebuilt from the
pool's status after a restart: the operations in flight come back from
`status.pendingOperations`, healthy-since (or first-seen) times from `status.instances[].since`,
the failure already posted from the `Stalled` condition.
Nothing in it is needed for correctness that Azure's listing and the status do not also hold.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from vmroll.api.pool import VirtualMachinePool
from vmroll.api.pool_status import (
    Health,
    OperationKind,
    PendingOperation,
    RolloutOutcome,
    VirtualMachinePoolStatus,
)
from vmroll.api.types import ConditionStatus
from vmroll.azure.vms import PoolVm, VmRuntime
from vmroll.plan.backoff import Backoff
from vmroll.plan.conditions import ConditionType
from vmroll.plan.policy import PolicyVerdict
from vmroll.plan.read_pacing import ReadAllowance, refilled, take_read
from vmroll.plan.rollout_model import RolloutHistory, RolloutProgress, Target
from vmroll.reconcile.inputs import Outcome

REFUSAL_SECONDS = 300.0
"""How long a name refused as taken stays refused without a list showing its VM: far longer
than lists lag a create. Should that VM still exist, the next create of the name is refused
again (412, nothing sent to the VM) and the name refused afresh."""


@dataclass(frozen=True, slots=True)
class SeenRuntime:
    runtime: VmRuntime
    read_at: datetime


@dataclass(frozen=True)
class Retag:
    """The tags a VM is to carry once its restart reimage ends (reconcile/restart_tags.py)."""

    revision: str
    restart: str | None


@dataclass(frozen=True)
class AtRest:
    """A full pass that changed nothing, what it read, and until when the clock cannot change
    what it would do (reconcile/at_rest.py)."""

    inputs: tuple[object, ...]
    share: tuple[tuple[PoolVm, ...], tuple[PoolVm, ...]]
    """The pool's VMs and look-alikes as the group's list showed them."""
    memory: tuple[object, ...]
    """The pool's memory as the pass found and left it (at_rest.memory_state)."""
    until: datetime
    outcome: Outcome


@dataclass
class PoolMemory:
    """Mutable on purpose: it is the loop's own notebook, never shared between pools."""

    pending: dict[str, PendingOperation] = field(default_factory=dict)
    first_seen: dict[str, datetime] = field(default_factory=dict)
    healthy_since: dict[str, datetime] = field(default_factory=dict)
    first_seen_deleting: dict[str, datetime] = field(default_factory=dict)
    """When VMs listed only while Deleting were first seen: their status `since`. Kept out of
    `first_seen`, since a list that no longer shows such a VM is no skip to read by name."""
    changed_at: dict[str, datetime | None] = field(default_factory=dict)
    """When a VM's last create or reimage ended, the start of its health grace period (None:
    ended, not observed since; absent: counts from when the VM was first seen)."""
    runtimes: dict[str, SeenRuntime] = field(default_factory=dict)
    read_allowances: dict[str, ReadAllowance] = field(default_factory=dict)
    """Each VM's instance-view reads left, as Azure's per-VM bucket counts them (read_pacing)."""
    reported_foreign: set[str] = field(default_factory=set)
    refused_names: dict[str, datetime] = field(default_factory=dict)
    """Names a create was refused for (412: a VM the list missed holds them), with when: the
    allocator avoids them until a list shows that VM, and the list keeps them taken from then
    on; or until `REFUSAL_SECONDS` pass, should that VM go before any list shows it."""
    retags: dict[str, Retag] = field(default_factory=dict)
    """Restart reimages whose VM's tags are to be written when they end."""
    reported_stall: tuple[str, str] | None = None
    """The failure last posted as an event (reason, cause): each is posted once."""
    backoff: Backoff | None = None
    """Retries in a row after transient failures; None once a pass succeeds."""
    creates_paced_until: datetime | None = None
    """vmroll's write budget refused the pool's writes until its ticket's turn: passes before
    it send no create (each would be recorded in status and dropped again at once), unless the
    budget sets a token aside for the pool, which clears this (`token_set_aside`)."""
    token_arrived: bool = False
    """A token was set aside for the pool since its pass read `creates_paced_until`: that pass
    must not hold the creates again as it ends, or the token would go back unclaimed after its
    hold and the pool queue again at the back of the round."""
    history: RolloutHistory | None = None
    generation: int | None = None
    """The spec generation `history.known_bad` was established against."""
    status: VirtualMachinePoolStatus | None = None
    """The status as vmroll last wrote it; the watch may not have delivered it yet."""
    policy_verdicts: tuple[PolicyVerdict, ...] = ()
    """What each ImagePolicy that applies said at the last pass; ImagePolicy status sums them."""
    at_rest: AtRest | None = None
    """Set by a full pass that changed nothing; a pass with the same inputs may skip its work."""
    validated: tuple[str, VirtualMachinePool] | None = None
    """The pool's body as last validated, with its resourceVersion (handlers/pools.py)."""
    figured: tuple[int, VirtualMachinePoolStatus] | None = None
    """The replicas and the status the pool's gauges were last computed from (handlers/
    pools.py): a pass that wrote nothing leaves them as they are."""

    @classmethod
    def from_status(cls, status: VirtualMachinePoolStatus | None) -> PoolMemory:
        memory = cls(status=status)
        if status is None:
            return memory
        memory.pending = {op.vm_name: op for op in status.pending_operations}
        memory.retags = {
            op.vm_name: Retag(op.revision, op.retag_restart or None)
            for op in status.pending_operations
            if op.kind is OperationKind.REIMAGE
            and op.revision is not None
            and op.retag_restart is not None
        }
        memory.first_seen = {i.name: i.since for i in status.instances if i.since is not None}
        # A restart must not make a healthy fleet look new: minReadySeconds counts from the
        # time the status recorded, not from the restart.
        memory.healthy_since = {
            i.name: i.since
            for i in status.instances
            if i.since is not None and i.health is Health.HEALTHY
        }
        # The stall the status reports was posted as an event by the process that wrote it: a
        # restart must not post the same failure again (each restart did, in the chaos runs).
        stalled = next(
            (
                c
                for c in status.conditions
                if c.type == ConditionType.STALLED and c.status is ConditionStatus.TRUE
            ),
            None,
        )
        if stalled is not None:
            memory.reported_stall = (stalled.reason, stalled.message)
        return memory

    def rollout_history(self, generation: int | None) -> RolloutHistory:
        """The planner's history; a changed spec forgives the revisions that failed."""
        if self.history is None:
            self.history = restore_history(self.status, generation)
        elif generation != self.generation:
            self.history = replace(self.history, known_bad=frozenset())
        self.generation = generation
        return self.history

    def succeeded(self) -> None:
        """A pass ended well: the next failure is news, and its backoff starts afresh."""
        self.reported_stall = None
        self.backoff = None

    def token_set_aside(self) -> None:
        """vmroll's write budget set a token aside for the pool (handlers/state.py): the next
        pass sends the creates held back until its turn."""
        self.creates_paced_until = None
        self.token_arrived = True

    def creates_wait(self, now: datetime) -> float | None:
        """Seconds the pool's creates still wait for its turn, None when they may go. A token
        set aside from now on reaches `pace_creates`."""
        self.token_arrived = False
        until = self.creates_paced_until
        if until is None or until <= now:
            return None
        return (until - now).total_seconds()

    def pace_creates(self, until: datetime) -> None:
        """Hold the pool's creates until its ticket's turn, unless a token was set aside for it
        since the pass read the hold (`creates_wait`): the next pass takes it."""
        if not self.token_arrived:
            self.creates_paced_until = until

    def keep_only(self, names: Collection[str]) -> None:
        """Forget every VM but `names` (those listed, or with an operation in flight), so that a
        pool whose VMs come and go for weeks keeps a notebook the size of its fleet."""
        books: tuple[dict[str, Any], ...] = (
            self.first_seen, self.first_seen_deleting, self.healthy_since, self.runtimes,
            self.changed_at,
        )  # fmt: skip
        for book in books:
            for name in [name for name in book if name not in names]:
                del book[name]

    def refused(self, name: str, now: datetime) -> None:
        self.refused_names[name] = now

    def forget_refusals(self, listed: Collection[str], now: datetime) -> None:
        """Forget the refused names a list shows (taken by the list from now on) and those
        refused long enough ago that the VM holding them would be listed if it still existed."""
        expired = now - timedelta(seconds=REFUSAL_SECONDS)
        for name, refused_at in list(self.refused_names.items()):
            if name in listed or refused_at <= expired:
                del self.refused_names[name]

    def forget_refilled_allowances(self, names: Collection[str], now: datetime) -> None:
        """Forget the read allowances of VMs not in `names` whose bucket is full again."""
        for name, allowance in list(self.read_allowances.items()):
            if name not in names and refilled(allowance, now):
                del self.read_allowances[name]

    def may_read_runtime(self, name: str, now: datetime) -> bool:
        """Whether the VM's instance view may be read now without emptying Azure's bucket."""
        allowed, self.read_allowances[name] = take_read(self.read_allowances.get(name), now)
        return allowed

    def deleted(self, name: str) -> None:
        """A VM whose delete ended is forgotten at once: a list that no longer shows it is then
        no skip to read by name (observe.unlisted_known)."""
        self.first_seen.pop(name, None)
        self.first_seen_deleting.pop(name, None)

    def since(self, name: str) -> datetime | None:
        """A VM's status `since`: when it was seen healthy, else first seen (even deleting)."""
        return (
            self.healthy_since.get(name)
            or self.first_seen.get(name)
            or self.first_seen_deleting.get(name)
        )

    def operation_ended(self, name: str) -> None:
        """A VM just created or reimaged is judged afresh: its health is read again,
        minReadySeconds counts from when it is next seen healthy, and its health grace period
        from when it is next observed, not from before the operation."""
        for book in (self.healthy_since, self.runtimes):
            book.pop(name, None)
        self.changed_at[name] = None


def restore_history(
    status: VirtualMachinePoolStatus | None, generation: int | None
) -> RolloutHistory:
    """What a restarted operator knows of earlier rollouts: the revision the pool last fully
    ran, (for the same spec) the revisions it rolled back from, and the progress clock of the
    rollout in progress (the planner restarts it when the target is another revision)."""
    if status is None:
        return RolloutHistory()
    versions = {r.revision: r.image_version or "" for r in status.history}
    good = status.current_revision
    previous_good = Target(good, versions.get(good, "")) if good else None
    same_spec = status.observed_generation == generation
    bad = frozenset(r.revision for r in status.history if r.outcome is RolloutOutcome.ROLLED_BACK)
    record = status.progress
    progress = (
        None
        if record is None
        else RolloutProgress(
            record.revision,
            record.started_at,
            record.last_progress_at,
            record.updated_available,
            record.old_remaining,
        )
    )
    return RolloutHistory(
        previous_good=previous_good,
        known_bad=bad if same_spec else frozenset(),
        progress=progress,
    )


class StatusSink(Protocol):
    """Writes a JSON merge patch to the pool's status subresource."""

    async def patch_status(self, patch: Mapping[str, Any]) -> None: ...


class PendingRecorder(Protocol):
    """Writes `PoolMemory.pending` to the pool's status as it is now."""

    async def record_pending(self) -> None: ...


class EventSink(Protocol):
    """Posts a Kubernetes event on the pool."""

    def event(self, type_: str, reason: str, message: str) -> None: ...


NORMAL = "Normal"
WARNING = "Warning"
