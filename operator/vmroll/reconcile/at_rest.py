"""A pool at rest: its pass skips observing, planning and the status when nothing it reads changed.

At 1,000 settled pools the operator spent ~5 ms of CPU per pool pass rebuilding the same plan and
comparing the same status, only to write nothing. A pass is a function of what it reads: the pool's
body, its account, its namespace's labels, the template's inputs, the settings, the target image and
the revision images (resolved from their caches at every pass, so the `latest` image's TTL and a new
version are seen as before), the pool's share of its group's list, the pool's memory, and the clock.
A full pass records `AtRest` (reconcile/memory.py) only when it changed nothing: no status patch, no
event, no Azure operation, its memory as it found it (or changed only by instance views read again
that said what they said before: the pass that followed would read none, find the rest the same and
rest), and the pool Settled. And only when the clock cannot change its result before `until`: every
VM available (minReadySeconds is behind it; the grace period only concerns unhealthy VMs), no
rollout in progress (its deadline follows the clock; a complete pool's stopped clock is restarted by
whichever pass reads it next), no maintenance window and no ImagePolicy (their rules follow the
clock), and `until` is when the first VM's instance view is due a refresh, at the pool's own
moment (plan/view_refresh.py); the pool's other views fall due at the same moment, so the next rest
lasts about a whole refresh period instead of until the next VM's. A later pass that reads the
same before `until` would do the same again, so it returns the same outcome and does nothing else;
anything else that differs runs a full pass.
Backoff and operations in flight never rest: they are not Settled. How often a pool at rest
passes at all, and what wakes it sooner, is reconcile/resting_pools.py's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from datetime import datetime
from typing import Any, cast

from vmroll.azure.vms import PoolVm
from vmroll.plan.availability import Readiness
from vmroll.plan.rollout_model import Plan, RolloutHistory
from vmroll.plan.view_refresh import RefreshSchedule
from vmroll.reconcile.inputs import Next, Outcome
from vmroll.reconcile.memory import EventSink, PoolMemory, SeenRuntime, StatusSink

SETTLED = Outcome(Next.SETTLED)


class Watched:
    """The pass's status and event sinks, noting whether the pass wrote or posted anything."""

    def __init__(self, status: StatusSink, events: EventSink) -> None:
        self._status, self._events = status, events
        self.touched = False

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        self.touched = True
        await self._status.patch_status(patch)

    def event(self, type_: str, reason: str, message: str) -> None:
        self.touched = True
        self._events.event(type_, reason, message)


NOT_STATE = frozenset({"at_rest", "validated", "figured"})
"""The memory's fields a pass's decisions never read: the rest itself, the validated body and
what the pool's gauges were computed from."""


STATE = tuple(f.name for f in fields(PoolMemory) if f.name not in NOT_STATE)
"""The memory's fields a pass's decisions read: every one but `NOT_STATE`, so that a field
added later is compared too."""


def memory_state(memory: PoolMemory) -> tuple[object, ...]:
    """Everything a pass reads from or leaves in the pool's memory (`STATE`), copied for
    comparison."""
    return tuple(_copied(getattr(memory, name)) for name in STATE)


def same_state(memory: PoolMemory, state: tuple[object, ...]) -> bool:
    """Whether `memory_state(memory)` would be `state`, without copying the memory: a pool at
    rest compares at every pass, and copying its books was a sixth of such a pass."""
    return all(
        _comparable(getattr(memory, name)) == kept for name, kept in zip(STATE, state, strict=True)
    )


REFRESHED = frozenset({"runtimes", "read_allowances"})
"""The memory's fields a refresh of instance views changes: when each was read, the read budget."""


def views_refreshed_only(found: tuple[object, ...], left: tuple[object, ...]) -> bool:
    """Whether a pass that found the memory `found` and left `left` (both `memory_state`) only
    read instance views again, each saying what it said before. The read budget it spent
    matters to no pass before the next refresh is due."""
    before = dict(zip(STATE, found, strict=True))
    after = dict(zip(STATE, left, strict=True))
    if any(before[name] != after[name] for name in STATE if name not in REFRESHED):
        return False
    old = cast(dict[str, SeenRuntime], before["runtimes"])
    new = cast(dict[str, SeenRuntime], after["runtimes"])
    return old.keys() == new.keys() and all(old[n].runtime == new[n].runtime for n in old)


def _comparable(value: object) -> object:
    """`value` as `_copied` would compare it, without copying: a dict equals its copy, and a
    set the frozenset of it."""
    return _timeless(value) if isinstance(value, RolloutHistory) else value


def _copied(value: object) -> object:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, RolloutHistory):
        return _timeless(value)
    return value


def _timeless(history: RolloutHistory) -> RolloutHistory:
    """The history without when a stopped progress clock last stopped: a settled pool's pass
    stops it again at `now`, and the pass that next reads it restarts it at its own `now`
    (plan/rollout_failure.track_progress), so that instant reaches no decision and no status."""
    progress = history.progress
    if progress is None or not progress.stopped:
        return history
    return replace(history, progress=replace(progress, last_progress_at=progress.started_at))


def rest_until(
    memory: PoolMemory,
    plan: Plan,
    owned: Sequence[PoolVm],
    refresh: RefreshSchedule,
) -> datetime | None:
    """When the clock could first change what a pass of this settled pool does; None when it
    could at any time (a VM not available, a rollout in progress, an instance view unread)."""
    progress = plan.history.progress
    if plan.actions or (progress is not None and not progress.stopped):
        return None
    if any(i.readiness is not Readiness.AVAILABLE for i in plan.instances):
        return None
    if (
        memory.pending
        or memory.retags
        or not memory.read_allowances.keys() <= {vm.name for vm in owned}
    ):
        return None
    reads = [memory.runtimes[vm.name].read_at for vm in owned if vm.name in memory.runtimes]
    if not owned or len(reads) != len(owned):
        return None
    return refresh.due_at(min(reads))
