"""One reconcile pass of a VirtualMachinePool: access, image, observe, plan, act, report.

The pass returns how soon the loop should come back: at once while operations progress, after
the resync interval when the pool is settled, after Azure's Retry-After on a transient error,
and only when the spec changes (or a long interval passes) when a human must act (`Stalled`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vmroll.api.pool import VirtualMachinePool
from vmroll.azure.errors import AzureGatewayError, TerminalAzureError, TransientAzureError
from vmroll.azure.images import ResolvedImage
from vmroll.azure.vms import PoolVm
from vmroll.plan.access import check_access
from vmroll.plan.availability import Readiness
from vmroll.plan.conditions import State
from vmroll.plan.maintenance import in_maintenance_window, parse_window
from vmroll.plan.naming import allocate_vm_names
from vmroll.plan.ownership import PoolIdentity
from vmroll.plan.reasons import Reason
from vmroll.plan.revision import revision_of
from vmroll.plan.rollout import plan_rollout
from vmroll.plan.rollout_model import CreateVM, DeleteVM, Plan, ReimageVM
from vmroll.reconcile.act import Actor
from vmroll.reconcile.gateway import PoolGateway
from vmroll.reconcile.inputs import (
    AccountProblem,
    AccountView,
    Next,
    Outcome,
    PassSettings,
    TemplateInputs,
)
from vmroll.reconcile.listing import observe_pool
from vmroll.reconcile.memory import (
    NORMAL,
    WARNING,
    EventSink,
    PoolMemory,
    SeenRuntime,
    StatusSink,
)
from vmroll.reconcile.observe import (
    instance_status,
    needs_runtime,
    observe,
    settle_pending,
    unsent_deletes,
)
from vmroll.reconcile.report import (
    Progress,
    Reporter,
    history_after,
    progress_verdict,
    retrying,
    stalled,
)
from vmroll.reconcile.spec_map import (
    as_reimaged,
    image_status,
    reimage_pairs,
    revision_inputs,
    rollout_spec,
    target_of,
)
from vmroll.reconcile.target import resolve_target
from vmroll.reconcile.vm_specs import vm_spec


@dataclass(frozen=True)
class PoolPass:
    pool: VirtualMachinePool
    account: AccountView | AccountProblem
    namespace_labels: Mapping[str, str]
    inputs: TemplateInputs
    memory: PoolMemory
    status: StatusSink
    events: EventSink
    clock: Callable[[], datetime]
    settings: PassSettings = field(default_factory=PassSettings)

    @property
    def identity(self) -> PoolIdentity:
        meta = self.pool.metadata
        return PoolIdentity(namespace=meta.namespace or "", name=meta.name, uid=meta.uid or "")

    def refusal(self) -> tuple[str, str] | None:
        """Why this pool may not reach Azure at all: its account, or the account's admission."""
        account = self.account
        if isinstance(account, AccountProblem):
            return account.reason, account.message
        identity, spec = self.identity, self.pool.spec
        decision = check_access(
            account.name,
            account.spec,
            identity.namespace,
            self.namespace_labels,
            spec.resource_group,
        )
        if decision.allowed:
            return None
        return (decision.reason or Reason.ACCESS_DENIED).value, decision.message

    async def run(self) -> Outcome:
        report = Reporter(self.pool, self.memory, self.status, self.events, self.clock())
        try:
            return await self._run(report)
        except TerminalAzureError as error:
            image_failed = error.reason == Reason.IMAGE_NOT_AVAILABLE
            return await self._stall(report, error.reason, error.message, image_failed)
        except TransientAzureError as error:
            await report.write(retrying(error.message))
            return Outcome(Next.RETRY, after=error.retry_after)

    async def _stall(
        self, report: Reporter, reason: str, message: str, image_failed: bool = False
    ) -> Outcome:
        report.warn_once(reason, message)
        await report.write(stalled(reason, message, image_failed=image_failed))
        return Outcome(Next.STALLED)

    async def _run(self, report: Reporter) -> Outcome:
        refusal = self.refusal()
        if refusal is not None:
            return await self._stall(report, *refusal)
        if self.inputs.problem is not None:
            return await self._stall(report, Reason.INVALID_SPEC, self.inputs.problem)
        assert isinstance(self.account, AccountView)  # refusal() covers AccountProblem
        gateway = self.account.gateway
        spec = self.pool.spec
        target_image = await resolve_target(gateway, spec, report.current.image)
        resolved = target_image.image
        inputs = revision_inputs(spec, resolved)
        revision = revision_of(inputs)

        listing = await observe_pool(gateway, spec.resource_group, self.identity, self.memory)
        owned = {name: as_reimaged(vm, inputs) for name, vm in listing.owned.items()}
        self._report_look_alikes([vm.name for vm in listing.look_alikes])
        for done in settle_pending(self.memory, owned, listing.unlisted):
            if done.succeeded:
                verb = f"{done.kind.value}d"
                self.events.event(NORMAL, verb, f"{verb.lower()} VM {done.name}")
        now = report.now
        await self._read_runtimes(gateway, owned, now)

        instances = observe(owned.values(), self.memory, now)
        plan = plan_rollout(
            rollout_spec(spec, target_of(resolved, revision)),
            instances,
            self.memory.rollout_history(self.pool.metadata.generation),
            now,
            in_window=in_maintenance_window(
                [parse_window(w) for w in spec.update_policy.maintenance_windows], now
            ),
            reimage_pairs=reimage_pairs(instances, inputs, revision),
        )
        self.memory.history = plan.history
        creates = [a for a in plan.actions if isinstance(a, CreateVM)]
        if creates and resolved.plan is not None:
            await gateway.ensure_terms(resolved.plan, accept=spec.image.accept_terms)
        taken = [*owned, *(vm.name for vm in listing.look_alikes), *self.memory.pending]
        names = allocate_vm_names(self.identity.name, self.identity.uid, taken, len(creates))
        specs = [
            vm_spec(
                self.pool,
                resolved,
                action,
                name,
                self.inputs.ssh_public_keys,
                self.inputs.custom_data,
            )
            for action, name in zip(creates, names, strict=True)
        ]
        deletes = [owned[a.name] for a in plan.actions if isinstance(a, DeleteVM)]
        reimages = [(owned[a.name], a) for a in plan.actions if isinstance(a, ReimageVM)]
        orphans = unsent_deletes(self.memory, owned)
        actor = Actor(
            gateway=gateway,
            pool_uid=self.identity.uid,
            subscription_id=self.account.spec.subscription_id,
            memory=self.memory,
            status=self.status,
            events=self.events,
            resource_group=spec.resource_group,
            concurrency=self.settings.concurrency,
            operation_wait=self.settings.operation_wait,
        )
        refused = await actor.start(specs, [*deletes, *orphans], now, reimages)

        image = image_status(
            spec.image, resolved, _resolved_at(report, resolved, now), target_image.latest_available
        )
        progress = Progress(
            plan=plan,
            image=image,
            instances=tuple(instance_status(owned[n], self.memory) for n in sorted(owned)),
            busy=bool(self.memory.pending or plan.actions),
            image_message=f"{image.requested} resolved to {resolved.image_id}",
            paused=spec.strategy.paused,
        )
        await self._write_progress(report, progress, resolved)
        followed = await actor.follow() if not _terminal(refused) else None
        errors = refused + (followed.errors if followed else ())
        terminal = _terminal(errors)
        if terminal is not None:
            image_failed = terminal.reason == Reason.IMAGE_NOT_AVAILABLE
            return await self._stall(report, terminal.reason, terminal.message, image_failed)
        self.memory.reported_stall = None
        transient = [e for e in errors if isinstance(e, TransientAzureError)]
        if transient:
            return Outcome(Next.RETRY, after=max((e.retry_after or 0.0) for e in transient) or None)
        if followed is not None and followed.finished:
            return Outcome(Next.PROGRESSING, after=0.0)
        if progress.busy:
            return Outcome(Next.PROGRESSING)
        # Surge VMs still standing (replicas above the spec) mean old VMs are left to remove.
        settled = (
            plan.counts.replicas == plan.counts.available == spec.replicas == plan.counts.updated
        )
        if settled:
            return Outcome(Next.SETTLED)
        return Outcome(Next.PROGRESSING, after=self._until_available(plan, now))

    def _until_available(self, plan: Plan, now: datetime) -> float | None:
        """Seconds until the first ready VM has been healthy for minReadySeconds."""
        min_ready = timedelta(seconds=self.pool.spec.strategy.min_ready_seconds)
        due = [
            (self.memory.healthy_since[i.name] + min_ready - now).total_seconds()
            for i in plan.instances
            if i.readiness is Readiness.READY and i.name in self.memory.healthy_since
        ]
        return max(0.0, min(due)) if due else None

    async def _read_runtimes(
        self, gateway: PoolGateway, owned: Mapping[str, PoolVm], now: datetime
    ) -> None:
        for vm in owned.values():
            if needs_runtime(vm, self.memory, now, self.settings.runtime_refresh):
                runtime = await gateway.get_vm_runtime(vm)
                if runtime is not None:
                    self.memory.runtimes[vm.name] = SeenRuntime(runtime, now)
        for gone in set(self.memory.first_seen) - set(owned) - set(self.memory.pending):
            self.memory.forget(gone)

    async def _write_progress(
        self, report: Reporter, progress: Progress, resolved: ResolvedImage
    ) -> None:
        plan = progress.plan
        verdict = progress_verdict(progress, self.pool.spec.replicas)
        if verdict.assessment.state is State.STALLED:
            report.warn_once(verdict.assessment.reason, verdict.assessment.message)
        await report.write(
            verdict,
            image=progress.image,
            replicas=plan.counts.replicas,
            ready_replicas=plan.counts.ready,
            updated_replicas=plan.counts.updated,
            available_replicas=plan.counts.available,
            current_revision=plan.current_revision,
            update_revision=plan.update_revision,
            up_next=list(plan.up_next),
            instances=list(progress.instances),
            history=history_after(
                report.current.history, plan, resolved.resolved_version, report.now
            ),
        )

    def _report_look_alikes(self, names: list[str]) -> None:
        for name in names:
            if name in self.memory.reported_foreign:
                continue
            self.memory.reported_foreign.add(name)
            self.events.event(
                WARNING,
                "ForeignVM",
                f"VM {name} looks like one of this pool's but does not carry its UID tag; "
                "vmroll leaves it alone",
            )


def _terminal(errors: Sequence[AzureGatewayError]) -> TerminalAzureError | None:
    return next((e for e in errors if isinstance(e, TerminalAzureError)), None)


def _resolved_at(report: Reporter, resolved: ResolvedImage, now: datetime) -> datetime:
    old = report.current.image
    if old is not None and old.image_id == resolved.image_id and old.resolved_at is not None:
        return old.resolved_at
    return now
