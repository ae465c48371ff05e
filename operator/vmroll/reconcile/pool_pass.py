"""One reconcile pass of a VirtualMachinePool: access, image, observe, plan, act, report.

The pass returns how soon the loop should come back: at once while operations progress, after
the resync interval when the pool is settled, after a capped exponential backoff (never sooner
than Azure's Retry-After) on a transient or unexpected error, after the Retry-After alone on
Azure's 429 (reconcile/failures.py), when its writes would go when vmroll's write budget holds
them back (or sooner, for the operations and new VMs it follows: `_paced`), and only when the
spec changes (or a long interval passes) when a human must act (`Stalled`).
Before anything reaches Azure, the pass makes sure it writes only to the subscription the pool's
VMs live in (vmroll.plan.subscription): recorded in status before the first write, stalled with
`AccountChanged` when the account now names another one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from vmroll.api.pool import ACCEPT_SUBSCRIPTION_ANNOTATION, VirtualMachinePool
from vmroll.azure.errors import (
    AzureGatewayError,
    TerminalAzureError,
    TransientAzureError,
    WriteBudgetExhausted,
)
from vmroll.azure.images import ResolvedImage
from vmroll.azure.protocol import ComputeGateway
from vmroll.azure.read_pacing import NoSpareRead, spare_reads
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import NameTaken, PoolVm
from vmroll.plan.access import check_access
from vmroll.plan.availability import Readiness
from vmroll.plan.conditions import ConditionType, State, find_condition
from vmroll.plan.maintenance import (
    MaintenanceWindow,
    in_maintenance_window,
    next_window_opening,
    parse_window,
)
from vmroll.plan.naming import allocate_vm_names
from vmroll.plan.ownership import PoolIdentity
from vmroll.plan.policy import NamedPolicy
from vmroll.plan.reasons import Reason
from vmroll.plan.revision import RevisionInputs
from vmroll.plan.rollout import plan_rollout
from vmroll.plan.rollout_events import Before, PassContext, rollout_events
from vmroll.plan.rollout_model import (
    CreateVM,
    DeleteVM,
    ObservedInstance,
    Plan,
    ReimageVM,
    RolloutHistory,
    RolloutPhase,
)
from vmroll.plan.subscription import Choice, SubscriptionCheck, decide_subscription
from vmroll.plan.view_refresh import NEVER, RefreshSchedule, refresh_phase
from vmroll.reconcile.act import Actor
from vmroll.reconcile.at_rest import (
    SETTLED,
    Watched,
    memory_state,
    rest_until,
    same_state,
    views_refreshed_only,
)
from vmroll.reconcile.failures import (
    StatusNotWritten,
    describe_error,
    log_unexpected,
    paced_by_write_budget,
    retry_later,
    retry_transient,
)
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
    AtRest,
    EventSink,
    PoolMemory,
    SeenRuntime,
    StatusSink,
)
from vmroll.reconcile.observe import (
    instance_status,
    keep_views,
    needs_runtime,
    observe,
    runtimes_due,
    settle_pending,
    unsent_deletes,
)
from vmroll.reconcile.policy_audit import PolicyAudit, audit_policies, policy_events
from vmroll.reconcile.report import (
    Progress,
    Reporter,
    before_pass,
    history_after,
    progress_record,
    progress_verdict,
    stalled,
)
from vmroll.reconcile.restart_tags import apply_retags, note_restart_reimages
from vmroll.reconcile.resting_pools import image_key
from vmroll.reconcile.revision_images import RevisionImages, revision_images
from vmroll.reconcile.shared_listing import Lend
from vmroll.reconcile.spec_map import as_reimaged, image_status, restart_stamp, rollout_spec
from vmroll.reconcile.target import (
    ResolvedTarget,
    held_back_version,
    resolve_target,
    resolve_version,
)
from vmroll.reconcile.vm_specs import vm_spec

SUBSCRIPTION_ADOPTED = "SubscriptionAdopted"


@dataclass(frozen=True)
class Seen:
    """The pool as one listing showed it, after settling what finished."""

    owned: dict[str, PoolVm]
    """The pool's VMs by name, with the revision a reimage gave them."""
    look_alikes: tuple[str, ...]
    instances: tuple[ObservedInstance, ...]
    """The planner's view of `owned`."""
    share: tuple[tuple[PoolVm, ...], tuple[PoolVm, ...]]
    """The pool's VMs and look-alikes as the list showed them."""
    unlisted: frozenset[str]
    """VMs only a GET by name found."""
    refresh: RefreshSchedule
    """When a healthy VM's view is read again: the period for the connection's fleet, at the
    pool's own moment in it."""


@dataclass(frozen=True)
class Requests:
    """A plan's actions, as what the actor sends."""

    creates: list[VmSpec]
    deletes: list[PoolVm]
    reimages: list[tuple[PoolVm, ReimageVM]]


PACED_FOLLOW_SECONDS = 15.0
"""How soon a pass the write budget paces comes back for an operation in flight (once) or a VM
starting, rather than the progress interval: each such pass may write the pool's status, and
800 pools coming back every 2 s, or every 15 s for as long as a create stayed recorded, wrote
100 statuses a second, a core of the API server. A delete that waits this much longer for a VM
to be seen available loses no pace: Delete VM's bucket fills while the creates are paced."""


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
    policies: tuple[NamedPolicy, ...] = ()
    """The ImagePolicies that apply to the pool."""
    lend: Lend = nullcontext
    """Lends the pass's turn back while it waits on Azure (handlers/turns.py)."""
    give_up: Callable[[], None] = lambda: None
    """Gives the pass's turn up for the rest of the pass, once its status is written."""

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

    async def settle_subscription(self, report: Reporter, *, deleting: bool = False) -> str | None:
        """Record or adopt the account's subscription (vmroll.plan.subscription); the Stalled
        message when the account names another one than the pool's VMs live in."""
        account = self.account
        assert isinstance(account, AccountView)  # refusal() covers AccountProblem
        current = account.spec.subscription_id
        annotations = self.pool.metadata.annotations
        check = SubscriptionCheck(
            account=account.name,
            recorded=report.current.subscription_id,
            current=current,
            accepted=annotations.get(ACCEPT_SUBSCRIPTION_ANNOTATION),
            pool_uid=self.identity.uid,
        )
        decision = decide_subscription(check, deleting=deleting)
        match decision.choice:
            case Choice.CHANGED:
                return decision.message
            case Choice.ADOPT:
                self.events.event(WARNING, SUBSCRIPTION_ADOPTED, decision.message)
                # Operations in flight are the old subscription's: nothing here can follow them.
                self.memory.pending.clear()
                self.memory.reported_stall = None
                await report.record_subscription(current)
            case Choice.RECORD if not deleting:
                await report.record_subscription(current)
        return None

    async def run(self) -> Outcome:
        watched = Watched(self.status, self.events)
        return await replace(self, status=watched, events=watched)._run_watched(watched)

    async def _run_watched(self, watched: Watched) -> Outcome:
        report = Reporter(self.pool, self.memory, self.status, self.events, self.clock())
        try:
            return await self._run_classified(report, watched)
        except StatusNotWritten:
            raise
        except Exception as error:
            log_unexpected(f"{self.identity.namespace}/{self.identity.name}", error)
            cause = describe_error(error)
            return await retry_later(report, Reason.UNEXPECTED_ERROR, cause, None, self.settings)

    async def _run_classified(self, report: Reporter, watched: Watched) -> Outcome:
        try:
            return await self._run(report, watched)
        except TerminalAzureError as error:
            image_failed = error.reason == Reason.IMAGE_NOT_AVAILABLE
            return await self._stall(report, error.reason, error.message, image_failed)
        except TransientAzureError as error:
            return await self._retry(report, [error])

    async def _retry(self, report: Reporter, errors: Sequence[TransientAzureError]) -> Outcome:
        return await retry_transient(report, errors, self.settings)

    async def _stall_on_policy(self, report: Reporter, audit: PolicyAudit) -> Outcome:
        """No compliant version to remediate to: Stalled, PolicyCompliant False, no VM touched."""
        assert audit.stall is not None
        reason, message = audit.stall
        self.memory.backoff = None
        old = find_condition(report.current.conditions, ConditionType.POLICY_COMPLIANT)
        for type_, event_reason, event_message in policy_events(old, audit.condition):
            self.events.event(type_, event_reason, event_message)
        report.warn_once(reason, message)
        await report.write(replace(stalled(reason, message), policy=audit.condition))
        return Outcome(Next.STALLED)

    async def _stall(
        self, report: Reporter, reason: str, message: str, image_failed: bool = False
    ) -> Outcome:
        self.memory.backoff = None
        report.warn_once(reason, message)
        await report.write(stalled(reason, message, image_failed=image_failed))
        return Outcome(Next.STALLED)

    async def _run(self, report: Reporter, watched: Watched) -> Outcome:
        """The pass as a story: admitted, target image, observe, plan, send, report, follow;
        a pool at rest whose inputs did not change stops before observing (at_rest.py)."""
        resting, self.memory.at_rest = self.memory.at_rest, None
        refused = await self._refuse(report)
        if refused is not None:
            return refused
        assert isinstance(self.account, AccountView)  # _refuse covers AccountProblem
        gateway = self.account.gateway
        current = report.current
        target_image = await resolve_target(
            gateway, self.pool.spec, current.image, held_back=held_back_version(current)
        )
        audit = await audit_policies(
            gateway, self.pool, self.policies, target_image.image, current.image, report.now
        )
        self.memory.policy_verdicts = audit.verdict.policies if audit.verdict else ()
        if audit.stall is not None:
            return await self._stall_on_policy(report, audit)
        if audit.remedy is not None:
            remedied = await resolve_version(gateway, self.pool.spec, audit.remedy)
            target_image = replace(target_image, image=remedied)
        history = self.memory.rollout_history(self.pool.metadata.generation)
        images = await revision_images(
            gateway, self.pool.spec, target_image.image, history.previous_good
        )
        inputs = self._rest_inputs(target_image, audit, images)
        rest = await self._still_at_rest(gateway, resting, inputs, report.now)
        if rest is not None:
            self._rest(gateway, rest)
            return rest.outcome
        # Taken where a pass at rest compares the memory: what comes before (the history kept
        # for the generation, the policies' verdicts) a pass of the same inputs does again.
        found_in = memory_state(self.memory)
        seen = await self._observe(gateway, images.wanted.inputs, report.now)
        before = before_pass(report.current)
        plan = self._plan(seen, images, history, report.now)
        requests = await self._requests(gateway, plan, images, seen)
        actor = self._actor(gateway, report)
        creates, withheld = self._paced_creates(requests.creates, report.now)
        batch = actor.record(creates, requests.deletes, report.now, requests.reimages)
        progress = self._progress(report, plan, seen, target_image, images)
        captured_by = images.of(plan.target.revision).image.captured_by
        self._post_rollout_events(
            before, plan, progress.next_window, report.now, audit, captured_by
        )
        # The progress carries the operations recorded: written before any is sent (act.py).
        stalled_now = await self._write_progress(report, progress, audit)
        # The sends wait for the write budget (up to its max_wait), follow and conclude: no turn
        # bounds them, and a pass that took one back only to end held its pool's next pass back.
        self.give_up()
        errors = await actor.send(batch)
        if errors or batch.reimages:
            await report.record_pending()  # why now, not with the next status: act.py
        errors += withheld
        self._report_name_holders(errors)
        followed = await actor.follow(seen.owned, report.now) if not _terminal(errors) else None
        if followed is not None:
            errors += followed.errors
        finished = followed is not None and bool(followed.finished)
        outcome = await self._conclude(report, progress, stalled_now, errors, finished)
        quiet = not (watched.touched or errors or finished or seen.unlisted)
        if inputs is not None and quiet and outcome == SETTLED:
            rest = self._rest_after(inputs, seen, plan, found_in)
            if rest is not None:
                self._rest(gateway, rest)
        return outcome

    def _rest_inputs(
        self, target: ResolvedTarget, audit: PolicyAudit, images: RevisionImages
    ) -> tuple[object, ...] | None:
        """What the rest of the pass reads besides the list, the memory and the clock; None when
        its ImagePolicies or maintenance windows make the pass follow the clock."""
        account = self.account
        assert isinstance(account, AccountView)
        if self.policies or self.pool.spec.update_policy.maintenance_windows:
            return None
        return (
            self.pool,
            account.name,
            account.spec,
            dict(self.namespace_labels),
            self.inputs,
            self.settings,
            target,
            audit,
            images,
        )

    async def _still_at_rest(
        self,
        gateway: ComputeGateway,
        resting: AtRest | None,
        inputs: tuple[object, ...] | None,
        now: datetime,
    ) -> AtRest | None:
        """The rest again if a full pass now would read what the resting one read, before
        anything the clock brings is due; the list is read (shared) as every pass reads it."""
        if resting is None or inputs is None or inputs != resting.inputs or now >= resting.until:
            return None
        if not same_state(self.memory, resting.memory):
            return None
        listing = await gateway.list_pool_vms(self.pool.spec.resource_group, self.identity)
        share = (listing.owned, listing.look_alikes)
        if share != resting.share:
            return None
        # The same VMs as this list holds them: the list the rest began on (a group's of
        # 10,000 VMs, ~4 MiB) is then not kept alive by the pools resting on it.
        return replace(resting, share=share)

    def _rest_after(
        self, inputs: tuple[object, ...], seen: Seen, plan: Plan, found_in: tuple[object, ...]
    ) -> AtRest | None:
        """A Settled pass that wrote, posted and sent nothing: at rest if it left its memory as
        it found it, or only read instance views again that said the same, and the clock
        changes nothing for a while."""
        until = rest_until(self.memory, plan, seen.share[0], seen.refresh)
        left = memory_state(self.memory)
        if until is not None and (left == found_in or views_refreshed_only(found_in, left)):
            return AtRest(inputs, seen.share, left, until, SETTLED)
        return None

    def _rest(self, gateway: ComputeGateway, rest: AtRest) -> None:
        """At rest until a list shows the pool's share changed (reconcile/resting_pools.py)."""
        self.memory.at_rest = rest
        group = self.pool.spec.resource_group
        gateway.rests(group, self.identity, rest.share, image_key(self.pool))

    async def _refuse(self, report: Reporter) -> Outcome | None:
        """Stalled before reaching Azure: the account refuses the pool, or inputs are missing."""
        refusal = self.refusal()
        if refusal is not None:
            return await self._stall(report, *refusal)
        changed = await self.settle_subscription(report)
        if changed is not None:
            return await self._stall(report, Reason.ACCOUNT_CHANGED, changed)
        if self.inputs.problem is not None:
            return await self._stall(report, self.inputs.problem_reason, self.inputs.problem)
        return None

    async def _observe(
        self, gateway: ComputeGateway, inputs: RevisionInputs, now: datetime
    ) -> Seen:
        """One listing: settle recorded operations, read stale runtimes, build the instances."""
        listing = await observe_pool(
            gateway, self.pool.spec.resource_group, self.identity, self.memory
        )
        owned = {name: as_reimaged(vm, inputs) for name, vm in listing.owned.items()}
        look_alikes = tuple(vm.name for vm in listing.look_alikes)
        self._report_look_alikes(list(look_alikes))
        self.memory.forget_refusals([*owned, *look_alikes], now)
        for done in settle_pending(self.memory, owned, listing.unlisted):
            if done.succeeded:
                verb = f"{done.kind.value}d"
                self.events.event(NORMAL, verb, f"{verb.lower()} VM {done.name}")
        keep_views(self.memory, owned, listing.views, now)
        await apply_retags(gateway, self.memory, owned)
        refresh = RefreshSchedule(
            gateway.refresh_period(self.identity.uid, len(owned), self.settings.runtime_refresh),
            refresh_phase(self.identity.uid),
        )
        await self._read_runtimes(gateway, owned, now, refresh)
        instances = tuple(observe(owned.values(), self.memory, now))
        share = (tuple(listing.owned.values()), listing.look_alikes)
        return Seen(owned, look_alikes, instances, share, listing.unlisted, refresh)

    def _windows(self) -> list[MaintenanceWindow]:
        return [parse_window(w) for w in self.pool.spec.update_policy.maintenance_windows]

    def _plan(
        self, seen: Seen, images: RevisionImages, history: RolloutHistory, now: datetime
    ) -> Plan:
        """The planner's decision for this pass; its history is kept for the next one."""
        spec = self.pool.spec
        plan = plan_rollout(
            rollout_spec(
                spec, images.wanted.target, previous_rebuildable=images.previous_rebuildable
            ),
            seen.instances,
            history,
            now,
            in_window=in_maintenance_window(self._windows(), now),
            reimage_pairs=images.reimage_pairs(seen.instances),
        )
        self.memory.history = plan.history
        return plan

    async def _requests(
        self, gateway: ComputeGateway, plan: Plan, images: RevisionImages, seen: Seen
    ) -> Requests:
        """The plan's actions as Azure requests: named VM specs (after the image's terms),
        the VMs to delete (with deletes recorded but never sent) and to reimage."""
        spec = self.pool.spec
        creates = [a for a in plan.actions if isinstance(a, CreateVM)]
        target = images.of(plan.target.revision).image
        if creates and target.plan is not None:
            await gateway.ensure_terms(
                target.plan, accept=spec.image.accept_terms, owner=self.identity.uid
            )
        owned = seen.owned
        taken = [*owned, *seen.look_alikes, *self.memory.pending, *self.memory.refused_names]
        names = allocate_vm_names(self.identity.name, self.identity.uid, taken, len(creates))
        specs = [
            vm_spec(
                self.pool,
                images.of(action.revision).image,
                action,
                name,
                self.inputs.ssh_public_keys,
                self.inputs.custom_data,
                images.of(action.revision).inputs.restart,
            )
            for action, name in zip(creates, names, strict=True)
        ]
        deletes = [owned[a.name] for a in plan.actions if isinstance(a, DeleteVM)]
        reimages = [(owned[a.name], a) for a in plan.actions if isinstance(a, ReimageVM)]
        note_restart_reimages(self.memory, reimages, images.wanted.inputs.restart)
        orphans = unsent_deletes(self.memory, owned)
        return Requests(specs, [*deletes, *orphans], reimages)

    def _actor(self, gateway: ComputeGateway, report: Reporter) -> Actor:
        assert isinstance(self.account, AccountView)
        return Actor(
            gateway=gateway,
            pool_uid=self.identity.uid,
            subscription_id=self.account.spec.subscription_id,
            memory=self.memory,
            recorder=report,
            events=self.events,
            resource_group=self.pool.spec.resource_group,
            concurrency=self.settings.concurrency,
            operation_wait=self.settings.operation_wait,
            poll_after=self.settings.poll_after,
        )

    def _post_rollout_events(
        self,
        before: Before,
        plan: Plan,
        next_window: datetime | None,
        now: datetime,
        audit: PolicyAudit,
        captured_by: str | None,
    ) -> None:
        context = PassContext(
            self.pool.metadata.generation,
            self.pool.spec.replicas,
            now,
            next_window,
            restart=restart_stamp(self.pool.spec.template),
            remediation=audit.remedy_why,
            captured_by=captured_by,
        )
        for event in rollout_events(before, plan, context):
            self.events.event(event.type.value, event.reason.value, event.message)

    def _progress(
        self,
        report: Reporter,
        plan: Plan,
        seen: Seen,
        target_image: ResolvedTarget,
        images: RevisionImages,
    ) -> Progress:
        """What the pass's status says: the plan, the image, the instances, what is pending."""
        spec, now = self.pool.spec, report.now
        target = images.of(plan.target.revision).image
        image = image_status(
            spec.image, target, _resolved_at(report, target, now), target_image.latest_available
        )
        owned = seen.owned
        return Progress(
            plan=plan,
            image=image,
            instances=tuple(instance_status(owned[n], self.memory) for n in sorted(owned)),
            busy=bool(self.memory.pending or plan.actions),
            image_message=image_message(image.requested, target_image.image, target),
            paused=spec.strategy.paused,
            next_window=next_window_opening(self._windows(), now),
        )

    async def _conclude(
        self,
        report: Reporter,
        progress: Progress,
        stalled_now: bool,
        errors: Sequence[AzureGatewayError],
        finished: bool,
    ) -> Outcome:
        """Stall on a terminal error, retry on a transient one, else say when to come back."""
        terminal = _terminal(errors)
        if terminal is not None:
            image_failed = terminal.reason == Reason.IMAGE_NOT_AVAILABLE
            return await self._stall(report, terminal.reason, terminal.message, image_failed)
        transient = [e for e in errors if isinstance(e, TransientAzureError)]
        if transient:
            if all(isinstance(e, WriteBudgetExhausted) for e in transient):
                wait = max(e.retry_after or 0.0 for e in transient)
                self.memory.pace_creates(report.now + timedelta(seconds=wait))
                paced = paced_by_write_budget(report, wait)
                return self._paced(paced, progress.plan, finished, report.now)
            return await self._retry(report, transient)
        self.memory.creates_paced_until = None
        if stalled_now:
            self.memory.backoff = None
        else:
            self.memory.succeeded()
        return self.next_pass(progress, finished, report.now)

    def next_pass(self, progress: Progress, finished: bool, now: datetime) -> Outcome:
        """When the loop should come back after a pass without errors; `finished`: operations
        ended during this pass."""
        plan, next_window = progress.plan, progress.next_window
        if finished:
            return Outcome(Next.PROGRESSING, after=0.0)
        if progress.busy:
            return Outcome(Next.PROGRESSING)
        if plan.phase is RolloutPhase.ROLLED_BACK:
            return Outcome(Next.STALLED)
        if plan.phase is RolloutPhase.WAITING_FOR_WINDOW and next_window is not None:
            opens = (next_window - now).total_seconds()
            due = self._until_available(plan, now)
            return Outcome(Next.PROGRESSING, after=opens if due is None else min(due, opens))
        # Surge VMs still standing (replicas above the spec) mean old VMs are left to remove.
        replicas = self.pool.spec.replicas
        settled = plan.counts.replicas == plan.counts.available == replicas == plan.counts.updated
        if settled:
            return Outcome(Next.SETTLED)
        return Outcome(Next.PROGRESSING, after=self._until_available(plan, now))

    def _paced_creates(
        self, creates: list[VmSpec], now: datetime
    ) -> tuple[list[VmSpec], tuple[WriteBudgetExhausted, ...]]:
        """The creates to send, and the refusal that stands for those held back until the
        pool's turn in vmroll's write budget (`PoolMemory.creates_wait`)."""
        wait = self.memory.creates_wait(now)
        if not creates or wait is None:
            return creates, ()
        held = WriteBudgetExhausted(f"creates wait {wait:.0f}s for their turn", retry_after=wait)
        return [], (held,)

    def _paced(self, retried: Outcome, plan: Plan, finished: bool, now: datetime) -> Outcome:
        """A pass whose writes wait for vmroll's write budget comes back when they would go, or
        sooner for what it follows: at once when operations just finished;
        `PACED_FOLLOW_SECONDS` after each operation in flight started (once: a create stays
        recorded until a list shows it, a minute at 10,000 VMs) and while a VM is starting;
        when a new VM becomes available. Each new VM available lets an old one go, on buckets
        the waiting creates do not draw on: waiting for the creates' turn (a round of every pool
        in the subscription: minutes at 1,000 pools) held those deletes as long."""
        if finished:
            sooner: float | None = 0.0
        else:
            follow = max(self.settings.progress_interval, PACED_FOLLOW_SECONDS)
            in_flight = [
                (op.started_at - now).total_seconds() + follow
                for op in self.memory.pending.values()
            ]
            starting = any(i.readiness is Readiness.STARTING for i in plan.instances)
            dues = [*in_flight, *([follow] if starting else []), *self._available_in(plan, now)]
            sooner = min((due for due in dues if due > 0), default=None)
        if sooner is None or retried.after is None or retried.after <= sooner:
            return retried
        return replace(retried, after=sooner)

    def _until_available(self, plan: Plan, now: datetime) -> float | None:
        """Seconds until the first ready VM has been healthy for minReadySeconds."""
        due = self._available_in(plan, now)
        return max(0.0, min(due)) if due else None

    def _available_in(self, plan: Plan, now: datetime) -> list[float]:
        """Seconds until each ready VM has been healthy for minReadySeconds (past: negative)."""
        min_ready = timedelta(seconds=self.pool.spec.strategy.min_ready_seconds)
        return [
            (self.memory.healthy_since[i.name] + min_ready - now).total_seconds()
            for i in plan.instances
            if i.readiness is Readiness.READY and i.name in self.memory.healthy_since
        ]

    async def _read_runtimes(
        self,
        gateway: ComputeGateway,
        owned: Mapping[str, PoolVm],
        now: datetime,
        refresh: RefreshSchedule,
    ) -> None:
        due = [
            vm
            for vm in runtimes_due(owned.values(), self.memory, now, refresh)
            if self.memory.may_read_runtime(vm.name, now)
        ]
        # A view the pass waits on is one it would read were refreshes never due: health unknown,
        # not healthy yet, a failure's code.
        waited_on = [vm for vm in due if needs_runtime(vm, self.memory, now, NEVER)]
        for vm in waited_on:
            await self._read_runtime(gateway, vm, now)
        refreshes = [vm for vm in due if vm not in waited_on]
        if refreshes:
            # Refreshes of healthy VMs go only on tokens of ARM's reads bucket no other read
            # waits for, above half of it (azure/read_pacing.py); the first that finds none
            # ends them, and the views left unread are due again at the next pass. The pass
            # lends its turn among pools back meanwhile: nothing it plans waits on them.
            async with self.lend():
                with spare_reads(), suppress(NoSpareRead):
                    for vm in refreshes:
                        await self._read_runtime(gateway, vm, now)
        listed_or_pending = set(owned) | set(self.memory.pending)
        self.memory.keep_only(listed_or_pending)
        self.memory.forget_refilled_allowances(listed_or_pending, now)

    async def _read_runtime(self, gateway: ComputeGateway, vm: PoolVm, now: datetime) -> None:
        runtime = await gateway.get_vm_runtime(vm)
        if runtime is not None:
            self.memory.runtimes[vm.name] = SeenRuntime(runtime, now)

    async def _write_progress(
        self, report: Reporter, progress: Progress, audit: PolicyAudit
    ) -> bool:
        """Write the pass's status; whether it says Stalled (warned of once)."""
        plan = progress.plan
        verdict = replace(
            progress_verdict(progress, self.pool.spec.replicas),
            policy=audit.condition,
            no_policy=audit.condition is None,
        )
        old = find_condition(report.current.conditions, ConditionType.POLICY_COMPLIANT)
        for type_, reason, message in policy_events(old, audit.condition):
            self.events.event(type_, reason, message)
        stalled_now = verdict.assessment.state is State.STALLED
        if stalled_now:
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
                report.current.history, plan, report.now, restart_stamp(self.pool.spec.template)
            ),
            progress=progress_record(plan),
        )
        return stalled_now

    def _report_look_alikes(self, names: list[str]) -> None:
        """Once per look-alike; one that is gone is forgotten (and reported if it comes back)."""
        self.memory.reported_foreign.intersection_update(names)
        for name in names:
            self._report_look_alike(name)

    def _report_name_holders(self, errors: Sequence[AzureGatewayError]) -> None:
        """A create refused for a name held by a VM not the pool's (which the list missed) shows
        a look-alike: reported as one listed would be."""
        for error in errors:
            holder = error.holder if isinstance(error, NameTaken) else None
            if holder is not None and holder.pool_uid != self.identity.uid:
                self._report_look_alike(holder.name)

    def _report_look_alike(self, name: str) -> None:
        if name not in self.memory.reported_foreign:
            self.memory.reported_foreign.add(name)
            self.events.event(
                WARNING,
                "ForeignVM",
                f"VM {name} looks like one of this pool's but does not carry its UID tag; "
                "vmroll leaves it alone",
            )


def _terminal(errors: Sequence[AzureGatewayError]) -> TerminalAzureError | None:
    return next((e for e in errors if isinstance(e, TerminalAzureError)), None)


def image_message(requested: str, resolved: ResolvedImage, target: ResolvedImage) -> str:
    """What ImageResolved says: what the spec resolved to, and, while the pool is held on the
    previous revision after a failure, the image it runs instead."""
    message = f"{requested} resolved to {resolved.image_id}"
    if target.image_id == resolved.image_id:
        return message
    return (
        f"{message} (version {resolved.resolved_version}), which failed; the pool was rolled "
        f"back to {target.image_id} (version {target.resolved_version})"
    )


def _resolved_at(report: Reporter, resolved: ResolvedImage, now: datetime) -> datetime:
    old = report.current.image
    if old is not None and old.image_id == resolved.image_id and old.resolved_at is not None:
        return old.resolved_at
    return now
