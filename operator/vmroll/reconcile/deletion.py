"""What happens to a pool's VMs when the pool is deleted, before its finalizer goes.

`deletionPolicy: Delete` deletes every VM carrying the pool's UID (their NICs and OS disks go
with them: the VMs were created with `deleteOption: Delete`), recording each delete in status
first as any other write. `Retain` tags each VM as released and leaves it in Azure.

A pool whose account is gone or no longer admits it, or now names another subscription than
its VMs live in (`AccountChanged`: nothing is deleted in either), or that Azure refuses for good,
cannot clean up; it reports `Stalled` and keeps its finalizer, until an admin fixes the cause or
sets the annotation `RELEASE_ANNOTATION: "true"`, which lets the pool go and leaves its VMs to
the admin. A transient Azure failure is answered as in the normal pass (failures.py
`retry_transient`): a 429 is waited out for its `Retry-After` without backing off, like the
other pools of the subscription that Azure's answer holds back; anything else is retried with
the pass's backoff (Retry-After as a floor, the retry count and next attempt in the
`Reconciling` message), not at a fixed interval.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from vmroll.api.pool import RELEASE_ANNOTATION, DeletionPolicy
from vmroll.azure.errors import TerminalAzureError, TransientAzureError
from vmroll.plan.ownership import RELEASED_TAG
from vmroll.plan.reasons import Reason
from vmroll.reconcile.act import Actor
from vmroll.reconcile.failures import retry_transient
from vmroll.reconcile.inputs import AccountProblem
from vmroll.reconcile.listing import observe_pool
from vmroll.reconcile.memory import WARNING
from vmroll.reconcile.observe import settle_pending, unsent_deletes
from vmroll.reconcile.pool_pass import PoolPass
from vmroll.reconcile.report import Reporter, deleting, stalled


class Finalized(enum.Enum):
    DONE = "Done"
    PROGRESSING = "Progressing"
    RETRY = "Retry"
    """A transient Azure failure: come back after its wait (a 429's) or the pool's backoff."""
    STALLED = "Stalled"


PROGRESS_SECONDS = 5.0
STALLED_SECONDS = 30.0


@dataclass(frozen=True)
class Step:
    """What one cleanup step came to, and the seconds until the next one."""

    finalized: Finalized
    after: float = PROGRESS_SECONDS


DONE = Step(Finalized.DONE, 0.0)
PROGRESSING = Step(Finalized.PROGRESSING)
STALLED = Step(Finalized.STALLED, STALLED_SECONDS)


@dataclass(frozen=True)
class PoolDeletion:
    """One step of a deleted pool's cleanup; it reuses the reconcile pass's inputs."""

    pass_: PoolPass

    async def run(self) -> Step:
        p = self.pass_
        report = Reporter(p.pool, p.memory, p.status, p.events, p.clock())
        problem = p.refusal()
        if problem is not None:
            return await self._stall(report, *problem)
        changed = await p.settle_subscription(report, deleting=True)
        if changed is not None:
            # The message already says how to finish, the release annotation included.
            return await self._stall(report, Reason.ACCOUNT_CHANGED, changed, hint=False)
        try:
            return await self._clean_up(report)
        except TerminalAzureError as error:
            return await self._stall(report, error.reason, error.message)
        except TransientAzureError as error:
            return await self._retry(report, [error])

    async def _stall(
        self, report: Reporter, reason: str, message: str, *, hint: bool = True
    ) -> Step:
        p = self.pass_
        p.memory.backoff = None
        if p.pool.metadata.annotations.get(RELEASE_ANNOTATION) == "true":
            p.events.event(
                WARNING,
                "ReleasedWithoutCleanup",
                f"{RELEASE_ANNOTATION} is set: the pool goes, its VMs stay in Azure untouched",
            )
            return DONE
        if hint:
            message += (
                f"; to let the pool go without cleanup, annotate it {RELEASE_ANNOTATION}=true"
            )
        report.warn_once(reason, message)
        await report.write(stalled(reason, message))
        return STALLED

    async def _retry(self, report: Reporter, errors: Sequence[TransientAzureError]) -> Step:
        """As the normal pass (reconcile/failures.py): the next attempt and its cause in the
        condition, the cause posted once."""
        outcome = await retry_transient(report, errors, self.pass_.settings)
        return Step(Finalized.RETRY, outcome.after or PROGRESS_SECONDS)

    async def _clean_up(self, report: Reporter) -> Step:
        p = self.pass_
        account = p.account
        assert not isinstance(account, AccountProblem)
        gateway = account.gateway
        pool = p.pool
        listing = await observe_pool(gateway, pool.spec.resource_group, p.identity, p.memory)
        owned = listing.owned
        settle_pending(p.memory, owned, listing.unlisted)
        if pool.spec.deletion_policy is DeletionPolicy.RETAIN:
            stamp = report.now.isoformat()
            for vm in owned.values():
                if RELEASED_TAG not in vm.tags:
                    await gateway.release_vm(vm, stamp)
            return DONE
        if not owned:
            return DONE
        actor = Actor(
            gateway=gateway,
            pool_uid=pool.metadata.uid or "",
            subscription_id=account.spec.subscription_id,
            memory=p.memory,
            recorder=report,
            events=p.events,
            resource_group=pool.spec.resource_group,
            concurrency=p.settings.concurrency,
            operation_wait=p.settings.operation_wait,
            poll_after=p.settings.poll_after,
        )
        to_delete = [
            vm
            for vm in owned.values()
            if vm.name not in p.memory.pending and vm.provisioning_state != "Deleting"
        ] + unsent_deletes(p.memory, owned)
        message = f"deleting {len(owned)} VMs (deletionPolicy Delete)"
        batch = actor.record([], to_delete, report.now)
        await report.write(deleting(message))
        errors = await actor.send(batch)
        await report.record_pending()
        errors += (await actor.follow(owned, report.now)).errors
        terminal = next((e for e in errors if isinstance(e, TerminalAzureError)), None)
        if terminal is not None:
            return await self._stall(report, terminal.reason, terminal.message)
        transient = [e for e in errors if isinstance(e, TransientAzureError)]
        if transient:
            return await self._retry(report, transient)
        p.memory.succeeded()
        return PROGRESSING
