"""Every failure of a pool's pass ends in a condition and one event, never only in a log line.

`kubectl wait`, Argo CD and Flux read conditions; a failure that is only logged leaves them
waiting forever. So a transient failure (Azure's, or anything unexpected: a Kubernetes API
error, a bug) is written as `Reconciling` with the retry count, the delay and the cause, and the
pool's loop comes back after a capped exponential backoff (vmroll.plan.backoff) kept in the
pool's memory (a 429 with a `Retry-After` or vmroll's own write budget: after that wait, not
more); a pool body that does not validate is written as `Stalled` with `InvalidSpec`
from the raw object, since there is no typed pool to report through.

One Warning event per distinct failure: the event carries the cause without the retry count,
and is posted again only when the cause changes or after a pass succeeded. The event is posted
before the status is written, so that when the write itself fails (the API server refuses it,
RBAC lacks `status`), the event is still attempted and the loop still backs off
(`StatusNotWritten` carries the outcome to the handler, which logs the write's error).
Causes are named by type and first line only: an exception's further lines may quote a request
or a response (the Kubernetes client puts headers and bodies there).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from vmroll.api.pool_status import VirtualMachinePoolStatus
from vmroll.azure.errors import Throttled, TransientAzureError, WriteBudgetExhausted
from vmroll.plan.conditions import Assessment, ConditionUpdate, State
from vmroll.plan.reasons import Reason
from vmroll.reconcile.inputs import Next, Outcome, PassSettings
from vmroll.reconcile.memory import WARNING, EventSink, PoolMemory, StatusSink
from vmroll.reconcile.report import PassVerdict, Reporter, merge_patch

MAX_CAUSE = 200
MAX_INVALID_FIELDS = 3

logger = logging.getLogger(__name__)


class StatusNotWritten(Exception):
    """The failure's status could not be written; `outcome` still says when to come back."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("the pool's status could not be written")
        self.outcome = outcome


def describe_error(error: BaseException) -> str:
    """`Type: first line`, short; never the lines after, never the bytes of a decode error."""
    name = type(error).__name__
    if isinstance(error, UnicodeDecodeError):
        return f"{name}: {error.reason}"
    status, reason = getattr(error, "status", None), getattr(error, "reason", None)
    if isinstance(status, int) and isinstance(reason, str):
        return f"{name}: ({status}) {reason}"
    lines = str(error).strip().splitlines()
    first = lines[0][:MAX_CAUSE] if lines else ""
    return f"{name}: {first}" if first else name


def log_unexpected(pool: str, error: BaseException) -> None:
    """Type and first line; at debug level also where it was raised (the frames only: the
    exception's full text is what must not reach a log)."""
    logger.warning(f"pool {pool}: unexpected error: {describe_error(error)}")
    if logger.isEnabledFor(logging.DEBUG):
        frames = "".join(traceback.format_tb(error.__traceback__))
        logger.debug(f"pool {pool}: {type(error).__name__} raised at:\n{frames}")


def warn_once(memory: PoolMemory, events: EventSink, reason: str, message: str) -> None:
    if memory.reported_stall != (reason, message):
        memory.reported_stall = (reason, message)
        events.event(WARNING, reason, message)


async def retry_later(
    report: Reporter, reason: str, cause: str, retry_after: float | None, settings: PassSettings
) -> Outcome:
    """Back off, post the cause once, and write `Reconciling` with "retry N in Ns: cause"."""
    memory = report.memory
    backoff = settings.backoff.next(memory.backoff, retry_after, settings.draw())
    memory.backoff = backoff
    outcome = Outcome(Next.RETRY, after=backoff.delay, failed=reason == Reason.UNEXPECTED_ERROR)
    warn_once(memory, report.events, reason, cause)
    message = f"retry {backoff.attempt} in {backoff.delay:.0f}s: {cause}"
    await _write_reconciling(report, reason, message, outcome)
    return outcome


MIN_BUDGET_WAIT = 1.0
"""Seconds between passes that find the budget spent (or Azure throttling), however soon it
says a request fits."""


BUDGET_SPENT = "vmroll's write budget for the subscription is spent; writes resume as it refills"


def paced_by_write_budget(report: Reporter, retry_after: float) -> Outcome:
    """vmroll's own write budget holds back writes of a pass that reported its progress: the
    progress stands as the pool's condition (pacing is progress) and one event per spell says
    why it is slow. A Retrying condition written over the progress cost two status writes per
    pass of every paced pool (the progress, then Retrying with the seconds to the next write):
    at 300 pools rolling, most of the API server's CPU."""
    warn_once(report.memory, report.events, Reason.RETRYING, BUDGET_SPENT)
    return Outcome(Next.RETRY, after=max(retry_after, MIN_BUDGET_WAIT))


async def wait_for_write_budget(report: Reporter, retry_after: float) -> Outcome:
    """vmroll's own write budget is spent: pacing, not a failure. The pass comes back at the
    turn the budget's ticket holds for the pool (`retry_after`; woken sooner when a token is set
    aside for it), and the backoff neither grows nor resets: a pool waiting its turn in a busy
    subscription must not fall minutes behind the others. Said once per spell, not per pass."""
    return await _wait_out(report, retry_after, "next write", BUDGET_SPENT)


def throttled_cause(error: Throttled) -> str:
    policy = f"{error.policy} requests" if error.policy else "requests"
    return f"Azure is throttling {policy}, waiting for its Retry-After: {error.message}"


async def wait_out_throttling(report: Reporter, retry_after: float, cause: str) -> Outcome:
    """Azure answered 429 with a `Retry-After`: the pass comes back after it, and the backoff
    neither grows nor resets. What Azure said reached the pacing of every pool of the
    subscription and region (the write budget, the lists' High-cost get reports): they all wait
    for it, and a backoff grown on top would put this pool behind them. Said once per cause."""
    return await _wait_out(report, retry_after, "next try", cause)


async def retry_transient(
    report: Reporter, errors: Sequence[TransientAzureError], settings: PassSettings
) -> Outcome:
    """The one answer to transient Azure failures, for a pool's pass and its cleanup alike:
    vmroll's write budget spent or Azure's 429s (with a `Retry-After`) are waited out without
    backing off; anything else backs off with the `Retry-After` as a floor."""
    retry_after = max((e.retry_after or 0.0) for e in errors) or None
    if all(isinstance(error, WriteBudgetExhausted) for error in errors):
        return await wait_for_write_budget(report, retry_after or 0.0)
    throttled = [error for error in errors if isinstance(error, Throttled)]
    paced = all(isinstance(error, Throttled | WriteBudgetExhausted) for error in errors)
    if throttled and paced and retry_after is not None:
        return await wait_out_throttling(report, retry_after, throttled_cause(throttled[0]))
    return await retry_later(report, Reason.RETRYING, errors[0].message, retry_after, settings)


async def _wait_out(report: Reporter, retry_after: float, what: str, cause: str) -> Outcome:
    delay = max(retry_after, MIN_BUDGET_WAIT)
    outcome = Outcome(Next.RETRY, after=delay)
    warn_once(report.memory, report.events, Reason.RETRYING, cause)
    message = f"{what} in {delay:.0f}s: {cause}"
    await _write_reconciling(report, Reason.RETRYING, message, outcome)
    return outcome


async def _write_reconciling(report: Reporter, reason: str, message: str, outcome: Outcome) -> None:
    try:
        await report.write(PassVerdict(Assessment(State.RECONCILING, reason, message)))
    except Exception as error:
        raise StatusNotWritten(outcome) from error


def invalid_pool_message(error: ValidationError) -> str:
    """The first invalid fields and what is wrong with them; never their values."""
    found = [
        f"{'.'.join(str(part) for part in detail['loc'])}: {detail['msg']}"
        for detail in error.errors(include_url=False, include_input=False)
    ]
    shown = "; ".join(found[:MAX_INVALID_FIELDS])
    hidden = len(found) - MAX_INVALID_FIELDS
    more = f" (and {hidden} more)" if hidden > 0 else ""
    return f"the pool does not validate: {shown}{more}; fix the spec"


def stored_status(body: Mapping[str, Any]) -> VirtualMachinePoolStatus | None:
    try:
        return VirtualMachinePoolStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return None


async def stall_invalid_pool(
    body: Mapping[str, Any],
    memory: PoolMemory,
    status: StatusSink,
    events: EventSink,
    now: datetime,
    message: str,
) -> None:
    """Write `Stalled`/`InvalidSpec` on a pool whose body does not validate, and warn once."""
    generation = (body.get("metadata") or {}).get("generation")
    old = memory.status or stored_status(body) or VirtualMachinePoolStatus()
    update = ConditionUpdate.of(old.conditions).assess(
        Assessment(State.STALLED, Reason.INVALID_SPEC, message),
        observed_generation=generation,
        now=now,
    )
    memory.backoff = None
    warn_once(memory, events, Reason.INVALID_SPEC, message)
    new = old.model_copy(
        update={"observed_generation": generation, "conditions": list(update.conditions)}
    )
    before, after = old.to_wire(), new.to_wire()
    if before != after:
        await status.patch_status(merge_patch(before, after))
    memory.status = new
