"""VirtualMachinePool handlers: one level-triggered loop per pool, and cleanup on deletion.

Why a daemon rather than a timer plus change handlers: a pool's passes must never overlap (two
passes would both create the missing VMs), and a daemon is one task per pool that runs them in
sequence by construction. It re-reads the live spec at the start of every pass, and between
passes it waits for the time the last pass asked for (seconds while operations progress, the
resync interval when settled, longer for a pool at rest that its group's lists wake
(reconcile/resting_pools.py), long when Stalled) or until the spec, the pool's labels or
annotations, its account or the ImagePolicies change, whichever comes first: the watch sets the
pool's event (handlers/wakeups.py; the pool's own events through an index, which kopf calls
silently on every event before any handler), and the woken daemon compares; it never polls.
A pass waits its turn among `--concurrent-passes` pools (handlers/turns.py) and lends it back
while it waits on Azure; a paused pool holds no turn.
Deletion is a kopf delete handler behind vmroll's finalizer; kopf stops the daemon first, and a
per-pool lock keeps the two apart regardless. Each pass is timed and counted, and leaves the
pool's figures for the metrics; deletion drops them with the pool's memory and lock, and passes
prune what is kept for pools and accounts that are gone (handlers/pruning.py). A pass borrows
its account's gateway for as long as it runs, so that rotated credentials never close the
clients under a call in flight. No failure ends only in the log: an invalid body, inputs that
cannot be read, a status that cannot be written all end in a condition and an event
(reconcile/failures.py), with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

import kopf
from pydantic import ValidationError

from vmroll.api.base import GROUP, VERSION
from vmroll.api.pool import PLURAL, VirtualMachinePool
from vmroll.handlers.kept_bodies import drop_unread
from vmroll.handlers.namespaces import NAMESPACE_INDEX, indexed_labels
from vmroll.handlers.policies import POLICY_INDEX, matching_policies, policy_wake_key
from vmroll.handlers.pool_inputs import account_view, namespace_labels, template_inputs
from vmroll.handlers.pruning import Live, forget_pool, prune_if_due
from vmroll.handlers.state import OperatorState
from vmroll.handlers.wakeups import first_of
from vmroll.metrics.pool_figures import pool_figures
from vmroll.metrics.registry import PassResult
from vmroll.plan.reasons import Reason
from vmroll.reconcile.deletion import STALLED_SECONDS, Finalized, PoolDeletion
from vmroll.reconcile.failures import (
    StatusNotWritten,
    describe_error,
    invalid_pool_message,
    log_unexpected,
    retry_later,
    stall_invalid_pool,
    stored_status,
)
from vmroll.reconcile.inputs import Next, Outcome
from vmroll.reconcile.memory import PoolMemory
from vmroll.reconcile.pool_pass import PoolPass
from vmroll.reconcile.report import Reporter
from vmroll.reconcile.resting_pools import rest_pause

ACCOUNT_INDEX = "accounts_by_name"
"""kopf passes each index to handlers as a keyword named after the index function."""
POOL_INDEX = "pools_by_uid"


class PoolStatusSink:
    def __init__(self, state: OperatorState, namespace: str, name: str) -> None:
        self._state, self._namespace, self._name = state, namespace, name

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        await self._state.kube.patch_pool_status(self._namespace, self._name, patch)


class PoolEventSink:
    def __init__(self, body: kopf.Body) -> None:
        self._body = body

    def event(self, type_: str, reason: str, message: str) -> None:
        kopf.event(self._body, type=type_, reason=reason, message=message)


def _memory(state: OperatorState, pool: VirtualMachinePool) -> PoolMemory:
    uid = pool.metadata.uid or ""
    memory = state.memories.get(uid)
    if memory is None:
        memory = state.memories[uid] = PoolMemory.from_status(pool.status)
    return memory


async def build_pass(
    state: OperatorState,
    body: kopf.Body,
    index: Any,
    pool: VirtualMachinePool,
    leases: AsyncExitStack,
    policies: Mapping[Any, Any] | None = None,
    namespaces: Mapping[Any, Any] | None = None,
) -> PoolPass:
    """The pass's gateway is borrowed into `leases`: close them when the pass has ended.
    `policies`: the ImagePolicy index, to judge the pool against those that select it;
    `namespaces`: the namespaces' labels (handlers/namespaces.py)."""
    memory = _memory(state, pool)
    view = await account_view(state, index, pool, leases)
    namespace = pool.metadata.namespace or ""
    return PoolPass(
        pool=pool,
        account=view,
        namespace_labels=await namespace_labels(state.kube, view, namespace, namespaces),
        inputs=await template_inputs(state.kube, pool),
        memory=memory,
        status=PoolStatusSink(state, namespace, pool.metadata.name),
        events=PoolEventSink(body),
        clock=state.clock,
        settings=state.pass_settings,
        policies=await matching_policies(state.kube, policies or {}, pool, namespaces),
        lend=state.turns.lender(pool.metadata.uid or ""),
        give_up=state.turns.releaser(pool.metadata.uid or ""),
    )


@kopf.index(GROUP, VERSION, PLURAL)
def pools_by_uid(
    uid: str | None, namespace: str | None, name: str | None, **_: Any
) -> dict[str | None, tuple[str, str]]:
    """The pools that exist, for pruning what is kept for those that do not."""
    return {uid: (namespace or "", name or "")}


@kopf.index(GROUP, VERSION, PLURAL)
async def pool_wakeups(uid: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Indexes nothing: every event of the pool (kopf has already refreshed the daemon's body)
    wakes its paused daemon to compare what changed, its body rid of what nothing reads."""
    state: OperatorState = memo.state
    drop_unread(body, status_known=_status_known(state, uid or ""))
    state.wakeups.pool(uid)


def _status_known(state: OperatorState, uid: str) -> bool:
    """Whether the pool's memory holds a status, which every reader takes before the body's."""
    memory = state.memories.get(uid)
    return memory is not None and memory.status is not None


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def pool_loop(
    stopped: kopf.DaemonStopped,
    body: kopf.Body,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    state: OperatorState = memo.state
    accounts_by_name = kwargs[ACCOUNT_INDEX]
    policies = kwargs[POLICY_INDEX]
    namespaces = kwargs[NAMESPACE_INDEX]
    uid = body.metadata.uid or ""
    try:
        while not stopped:
            if body.metadata.get("deletionTimestamp"):
                return
            async with state.turns.taken(uid):
                if stopped or body.metadata.get("deletionTimestamp"):
                    return
                wake = _wake_key(body, accounts_by_name, policies, namespaces)
                delay = await _one_pass(state, body, accounts_by_name, logger, policies, namespaces)
            await prune_if_due(state, lambda: Live.of(kwargs[POOL_INDEX], accounts_by_name))
            indexes = (accounts_by_name, policies, namespaces)
            await _pause(stopped, body, indexes, wake, delay, state)
    finally:
        state.wakeups.ended(uid)
        state.turns.forget(uid)
        state.listings.resting.leave(uid)


async def _one_pass(
    state: OperatorState,
    body: kopf.Body,
    index: Any,
    logger: kopf.Logger,
    policies: Any,
    namespaces: Any,
) -> float:
    started = state.monotonic()
    result, delay = await _run_pass(state, body, index, logger, policies, namespaces)
    state.metrics.reconcile_pass(result, state.monotonic() - started)
    uid = body.metadata.uid or ""
    memory = state.memories.get(uid)
    if memory is None or memory.at_rest is None:
        state.listings.resting.leave(uid)
    return delay


async def _run_pass(
    state: OperatorState,
    body: kopf.Body,
    index: Any,
    logger: kopf.Logger,
    policies: Any,
    namespaces: Any,
) -> tuple[PassResult, float]:
    try:
        pool = _validated(state, body)
    except ValidationError as error:
        await _report_invalid(state, body, invalid_pool_message(error), logger)
        return PassResult.INVALID, state.config.stalled_seconds
    uid = pool.metadata.uid or ""
    try:
        async with state.lock(uid):
            try:
                outcome = await _guarded_pass(state, body, index, pool, policies, namespaces)
            finally:
                _report_figures(state, pool)
    except StatusNotWritten as error:
        # The event was attempted; the loop backs off and the next pass writes again.
        cause = describe_error(error.__cause__ or error)
        logger.error(f"cannot write the pool's status: {cause}")
        return PassResult.ERROR, _delay(state, error.outcome)
    except Exception as error:
        # Only what the pass could not report at all (the event sink itself) lands here; the
        # loop must not end, and the next pass observes again from scratch.
        logger.error(f"reconcile pass failed; retrying: {describe_error(error)}")
        return PassResult.ERROR, state.config.progress_seconds * 5
    return _result(outcome), _delay(state, outcome, _settled_pause(state, pool))


def _settled_pause(state: OperatorState, pool: VirtualMachinePool) -> float:
    """The resync interval, or longer for a pool at rest that its group's lists wake
    (reconcile/resting_pools.py)."""
    uid = pool.metadata.uid or ""
    memory = state.memories.get(uid)
    rest = memory.at_rest if memory is not None else None
    resting = state.listings.resting
    resync = state.config.resync_seconds
    return rest_pause(rest, pool, resting.sentinel(uid), state.clock(), resync)


def _validated(state: OperatorState, body: kopf.Body) -> VirtualMachinePool:
    """The body as a model, validated again only when its resourceVersion changed: the API
    server gives every change of an object a new one, and a pool at rest keeps its own."""
    memory = state.memories.get(body.metadata.uid or "")
    version = body.metadata.get("resourceVersion")
    held = memory.validated if memory is not None else None
    if held is not None and version is not None and held[0] == version:
        return held[1]
    pool = VirtualMachinePool.model_validate(dict(body))
    if version is None:
        return pool
    memory = _memory(state, pool)
    # The kept model from its first pass on: a pass at rest compares the pool it read with the
    # one the resting pass read (reconcile/at_rest.py), which the same object answers at once.
    kept = _kept(pool, memory)
    memory.validated = (version, kept)
    # A restarted operator's memory was just made from the body's status: drop it now, since
    # a pool at rest may see no other event (handlers/kept_bodies.py).
    drop_unread(body, status_known=memory.status is not None)
    return kept


def _kept(pool: VirtualMachinePool, memory: PoolMemory) -> VirtualMachinePool:
    """The model kept between passes. Without a status when the memory holds one, which every
    reader takes first (reconcile/report.py) and each pass replaces: a pool's status model is
    ~10 KiB at 10 VMs, more than the rest of the pool's model."""
    if memory.status is None or pool.status is None:
        return pool
    return pool.model_copy(update={"status": None})


async def _guarded_pass(
    state: OperatorState,
    body: kopf.Body,
    index: Any,
    pool: VirtualMachinePool,
    policies: Any,
    namespaces: Any,
) -> Outcome:
    """A pass whose inputs could not even be gathered still ends in a condition and an event."""
    async with AsyncExitStack() as leases:
        try:
            one = await build_pass(state, body, index, pool, leases, policies, namespaces)
        except Exception as error:
            return await _report_unbuilt(state, body, pool, error)
        return await one.run()


async def _report_unbuilt(
    state: OperatorState, body: kopf.Body, pool: VirtualMachinePool, error: Exception
) -> Outcome:
    namespace = pool.metadata.namespace or ""
    log_unexpected(f"{namespace}/{pool.metadata.name}", error)
    report = Reporter(
        pool,
        _memory(state, pool),
        PoolStatusSink(state, namespace, pool.metadata.name),
        PoolEventSink(body),
        state.clock(),
    )
    cause = describe_error(error)
    return await retry_later(report, Reason.UNEXPECTED_ERROR, cause, None, state.pass_settings)


async def _report_invalid(
    state: OperatorState, body: kopf.Body, message: str, logger: kopf.Logger
) -> None:
    uid = body.metadata.uid or ""
    memory = state.memories.get(uid)
    if memory is None:
        memory = state.memories[uid] = PoolMemory.from_status(stored_status(body))
    sink = PoolStatusSink(state, body.metadata.namespace or "", body.metadata.name or "")
    try:
        await stall_invalid_pool(body, memory, sink, PoolEventSink(body), state.clock(), message)
    except Exception as error:
        logger.error(f"cannot write the invalid pool's status: {describe_error(error)}")


def _result(outcome: Outcome) -> PassResult:
    if outcome.failed:
        return PassResult.ERROR
    match outcome.next:
        case Next.SETTLED:
            return PassResult.SETTLED
        case Next.PROGRESSING:
            return PassResult.PROGRESSING
        case Next.RETRY:
            return PassResult.RETRY
        case Next.STALLED:
            return PassResult.STALLED


def _report_figures(state: OperatorState, pool: VirtualMachinePool) -> None:
    """Under the pool's lock, so that a deletion that dropped the figures stays last. Only
    when the status or the replicas changed: the figures are theirs alone, and computing them
    again was a twelfth of a pass at rest's CPU at 1,000 pools."""
    memory = state.memories.get(pool.metadata.uid or "")
    if memory is None or memory.status is None:
        return
    source = (pool.spec.replicas, memory.status)
    figured = memory.figured
    if figured is not None and figured[0] == source[0] and figured[1] is source[1]:
        return
    memory.figured = source
    figures = pool_figures(*source)
    state.metrics.pool(pool.metadata.namespace or "", pool.metadata.name, figures)


def _delay(state: OperatorState, outcome: Outcome, settled: float | None = None) -> float:
    """`settled`: how long a Settled pool pauses, when not the resync interval."""
    config = state.config
    match outcome.next:
        case Next.SETTLED:
            return config.resync_seconds if settled is None else settled
        case Next.PROGRESSING:
            # A rollout waiting hours for its window still gets a pass every resync: repairs
            # and scaling are never held back.
            if outcome.after is None:
                return config.progress_seconds
            return min(outcome.after, config.resync_seconds)
        case Next.RETRY:
            return config.progress_seconds * 5 if outcome.after is None else outcome.after
        case Next.STALLED:
            return config.stalled_seconds


def _wake_key(
    body: kopf.Body, index: Any, policies: Any, namespaces: Any = None
) -> tuple[Any, ...]:
    """What, when it changes, ends the pause early: spec, labels, annotations, the account,
    the ImagePolicies, the namespace's labels. Read from the body's dicts as they are: each
    field read through kopf's views resolves its path again, and the key is taken twice a pass
    (a tenth of a pass at rest's CPU at 1,000 pools)."""
    metadata = body.get("metadata") or {}
    account_name = ((body.get("spec") or {}).get("accountRef") or {}).get("name")
    account = [
        (a.get("metadata", {}).get("generation"), a.get("metadata", {}).get("uid"))
        for a in index.get(account_name, ())
    ]
    return (
        metadata.get("generation"),
        repr(metadata.get("annotations") or {}),
        repr(metadata.get("labels") or {}),
        repr(account),
        policy_wake_key(policies),
        repr(indexed_labels(namespaces, metadata.get("namespace") or "")),
    )


async def _pause(
    stopped: kopf.DaemonStopped,
    body: kopf.Body,
    index: Any,
    wake: tuple[Any, ...],
    seconds: float,
    state: OperatorState,
) -> None:
    """Until `seconds` have passed, the daemon is stopped, or a nudge finds the wake key changed
    or the pass due (handlers/wakeups.py). The first look compares before any wait: a change
    made while the pass ran ends it at once."""
    account = (body.spec.get("accountRef") or {}).get("name")
    uid = body.metadata.uid or ""
    nudged = state.wakeups.pausing(uid, account, body.metadata.namespace)
    deadline = state.monotonic() + seconds
    while not stopped:
        nudged.clear()
        left = deadline - state.monotonic()
        if left <= 0 or state.wakeups.take_due(uid) or _wake_key(body, *index) != wake:
            return
        await first_of(stopped, nudged, left)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def pool_deleted(
    body: kopf.Body,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    state: OperatorState = memo.state
    accounts_by_name = kwargs[ACCOUNT_INDEX]
    try:
        pool = VirtualMachinePool.model_validate(dict(body))
    except ValidationError as error:
        # Never a permanent failure: that would drop the finalizer and orphan the VMs.
        await _report_invalid(state, body, invalid_pool_message(error), logger)
        raise kopf.TemporaryError(
            "the pool does not validate; fix the spec to let it be deleted",
            delay=STALLED_SECONDS,
        ) from None
    uid = pool.metadata.uid or ""
    async with state.lock(uid), AsyncExitStack() as leases:
        one = await build_pass(state, body, accounts_by_name, pool, leases)
        step = await PoolDeletion(one).run()
    if step.finalized is Finalized.DONE:
        forget_pool(state, uid, pool.metadata.namespace or "", pool.metadata.name)
        logger.log(logging.INFO, f"pool released ({pool.spec.deletion_policy.value})")
        return
    raise kopf.TemporaryError(f"pool cleanup {step.finalized.value.lower()}", delay=step.after)
