"""What happens to a pool's VMs when the pool is deleted, before its finalizer goes.

`deletionPolicy: Delete` deletes every VM carrying the pool's UID (their NICs and OS disks go
with them: the VMs were created with `deleteOption: Delete`), recording each delete in status
first as any other write. `Retain` tags each VM as released and leaves it in Azure.

A pool whose account is gone or no longer admits it, or now names another subscription than
its VMs live in (`AccountChanged`: nothing is deleted in either), or that Azure refuses for good,
cannot clean up; it reports `Stalled` and keeps its finalizer, until an admin fixes the cause or
sets the annotation `RELEASE_ANNOTATION: "true"`, which lets the pool go and leaves its VMs to
the admin. A transient Azure failure is retried with the normal pass's backoff (Retry-After as a
floor, the retry count and next attempt in the `Reconciling` message), not at a fixed interval.
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
from vmroll.reconcile.failures import retry_later
from vmroll.reconcile.inputs import AccountProblem
from vmroll.reconcile.listing import observe_pool
from vmroll.reconcile.memory import WARNING, PoolMemory
from vmroll.reconcile.observe import settle_pending, unsent_deletes
from vmroll.reconcile.pool_pass import PoolPass
from vmroll.reconcile.report import Reporter, deleting, stalled


class Finalized(enum.Enum):
    DONE = "Done"
    PROGRESSING = "Progressing"
    RETRY = "Retry"
    """A transient Azure failure: come back after the pool's backoff."""
    STALLED = "Stalled"


PROGRESS_SECONDS = 5.0
STALLED_SECONDS = 30.0


def retry_delay(result: Finalized, memory: PoolMemory) -> float:
    """Seconds until the next cleanup step: the backoff after a transient failure."""
    if result is Finalized.RETRY and memory.backoff is not None:
        return memory.backoff.delay
    return STALLED_SECONDS if result is Finalized.STALLED else PROGRESS_SECONDS


@dataclass(frozen=True)
class PoolDeletion:
    """One step of a deleted pool's cleanup; it reuses the reconcile pass's inputs."""

    pass_: PoolPass

    async def run(self) -> Finalized:
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
    ) -> Finalized:
        p = self.pass_
        p.memory.backoff = None
        if p.pool.metadata.annotations.get(RELEASE_ANNOTATION) == "true":
            p.events.event(
                WARNING,
                "ReleasedWithoutCleanup",
                f"{RELEASE_ANNOTATION} is set: the pool goes, its VMs stay in Azure untouched",
            )
            return Finalized.DONE
        if hint:
            message += (
                f"; to let the pool go without cleanup, annotate it {RELEASE_ANNOTATION}=true"
            )
        report.warn_once(reason, message)
        await report.write(stalled(reason, message))
        return Finalized.STALLED

    async def _retry(self, report: Reporter, errors: Sequence[TransientAzureError]) -> Finalized:
        """The normal pass's backoff (reconcile/failures.py): Retry-After as a floor, the retry
        count and the next attempt in the condition, the cause posted once."""
        retry_after = max((e.retry_after or 0.0) for e in errors) or None
        settings = self.pass_.settings
        await retry_later(report, Reason.RETRYING, errors[0].message, retry_after, settings)
        return Finalized.RETRY

    async def _clean_up(self, report: Reporter) -> Finalized:
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
            return Finalized.DONE
        if not owned:
            return Finalized.DONE
        actor = Actor(
            gateway=gateway,
            pool_uid=pool.metadata.uid or "",
            subscription_id=account.spec.subscription_id,
            memory=p.memory,
            status=p.status,
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
        await report.write(deleting(message))
        errors = await actor.start([], to_delete, report.now)
        errors += (await actor.follow(owned, report.now)).errors
        terminal = next((e for e in errors if isinstance(e, TerminalAzureError)), None)
        if terminal is not None:
            return await self._stall(report, terminal.reason, terminal.message)
        transient = [e for e in errors if isinstance(e, TransientAzureError)]
        if transient:
            return await self._retry(report, transient)
        p.memory.succeeded()
        return Finalized.PROGRESSING
