"""What happens to a pool's VMs when the pool is deleted, before its finalizer goes.

`deletionPolicy: Delete` deletes every VM carrying the pool's UID (their NICs and OS disks go
with them: the VMs were created with `deleteOption: Delete`), recording each delete in status
first as any other write. `Retain` tags each VM as released and leaves it in Azure.

A pool whose account is gone or no longer admits it cannot clean up; it reports `Stalled` and
keeps its finalizer, until an admin sets the annotation `RELEASE_ANNOTATION: "true"`, which
lets the pool go and leaves its VMs to the admin.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from vmroll.api.pool import DeletionPolicy
from vmroll.azure.errors import TerminalAzureError
from vmroll.plan.ownership import RELEASED_TAG
from vmroll.reconcile.act import Actor
from vmroll.reconcile.inputs import AccountProblem
from vmroll.reconcile.listing import observe_pool
from vmroll.reconcile.memory import WARNING
from vmroll.reconcile.observe import settle_pending, unsent_deletes
from vmroll.reconcile.pool_pass import PoolPass
from vmroll.reconcile.report import Reporter, deleting, retrying, stalled

RELEASE_ANNOTATION = "vmroll.io/release-without-cleanup"


class Finalized(enum.Enum):
    DONE = "Done"
    PROGRESSING = "Progressing"
    STALLED = "Stalled"


@dataclass(frozen=True)
class PoolDeletion:
    """One step of a deleted pool's cleanup; it reuses the reconcile pass's inputs."""

    pass_: PoolPass

    async def run(self) -> Finalized:
        p = self.pass_
        pool = p.pool
        report = Reporter(pool, p.memory, p.status, p.events, p.clock())
        released = pool.metadata.annotations.get(RELEASE_ANNOTATION) == "true"
        problem = p.refusal()
        if problem is not None:
            if released:
                p.events.event(
                    WARNING,
                    "ReleasedWithoutCleanup",
                    f"{RELEASE_ANNOTATION} is set: the pool goes, its VMs stay in Azure untouched",
                )
                return Finalized.DONE
            reason, message = problem
            message += (
                f"; to let the pool go without cleanup, annotate it {RELEASE_ANNOTATION}=true"
            )
            report.warn_once(reason, message)
            await report.write(stalled(reason, message))
            return Finalized.STALLED
        try:
            return await self._clean_up(report)
        except TerminalAzureError as error:
            report.warn_once(error.reason, error.message)
            await report.write(stalled(error.reason, error.message))
            return Finalized.STALLED

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
        )
        to_delete = [
            vm
            for vm in owned.values()
            if vm.name not in p.memory.pending and vm.provisioning_state != "Deleting"
        ] + unsent_deletes(p.memory, owned)
        message = f"deleting {len(owned)} VMs (deletionPolicy Delete)"
        await report.write(deleting(message))
        errors = await actor.start([], to_delete, report.now) + (await actor.follow()).errors
        if errors:
            await report.write(retrying(str(errors[0])))
        return Finalized.PROGRESSING
