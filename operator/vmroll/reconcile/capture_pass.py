"""One pass of an ImageCapture: observe Azure once, take the planner's step, report.

The version's name and every operation started are written to status before anything waits on
them (the version name before its PUT is sent), so a restarted operator follows the operation
it finds recorded and never captures twice. The pass sequences only: plan/capture.py decides,
the `CaptureGateway` talks to Azure, conditions come from one assessment. Every failure ends in
a condition and an event: terminal Azure refusals as Stalled with the reason, transient ones as
Reconciling with the cause. A builder source (vmroll.plan.capture_builder) comes first: its ID
is in status before its create is sent (the completion timeout counts from the create that
Azure accepted), and its deterministic name makes a create sent again after a crash find the
same VM; once the version is out, a builder with disposal Delete is deleted, only if its tag says
it is the capture's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from vmroll.api.capture import Builder, BuilderDisposal, ImageCapture, VersionScheme
from vmroll.api.capture_status import (
    CaptureOperation,
    CaptureOperationKind,
    CapturePhase,
    ImageCaptureStatus,
    RegionReplication,
)
from vmroll.azure.capture_gateway import CaptureGateway
from vmroll.azure.captures import BuilderInfo, TargetRegionSpec, VersionInfo, VersionRequest
from vmroll.azure.errors import AzureGatewayError, TerminalAzureError
from vmroll.azure.lro import LroKind, OperationRecord, OperationState
from vmroll.azure.vms import AlreadyCreated
from vmroll.plan.capture import (
    Observation,
    Phase,
    RegionState,
    SourceVm,
    Step,
    StepKind,
    VersionState,
    date_version,
    next_patch_version,
    next_step,
    replicated_text,
)
from vmroll.plan.capture_builder import (
    BuilderSeen,
    BuilderStepKind,
    BuilderVm,
    CaptureIdentity,
    DisposalStepKind,
    builder_name,
    builder_step,
    disposal_step,
)
from vmroll.plan.conditions import (
    Assessment,
    ConditionType,
    ConditionUpdate,
    State,
    find_condition,
)
from vmroll.plan.ownership import CAPTURE_UID_TAG
from vmroll.plan.reasons import Reason
from vmroll.reconcile.capture_retention import (
    PoolSource,
    apply_retention,
    capture_tags,
    retention_blocked,
)
from vmroll.reconcile.inputs import TemplateInputs
from vmroll.reconcile.spec_map import image_ref
from vmroll.reconcile.vm_specs import builder_vm_spec

FOLLOW_SECONDS = 1.0
"""How long one pass follows an operation before reporting and coming back."""

_PHASE_REASON = {
    Phase.BUILDING: Reason.BUILDING,
    Phase.DELETING_BUILDER: Reason.DELETING_BUILDER,
    Phase.GENERALIZING: Reason.GENERALIZING,
    Phase.CAPTURING: Reason.CAPTURING,
    Phase.REPLICATING: Reason.REPLICATING,
    Phase.PENDING: Reason.RECONCILING,
}
_RECORD_KINDS = {
    CaptureOperationKind.DEALLOCATE: LroKind.DEALLOCATE,
    CaptureOperationKind.CREATE_VERSION: LroKind.CREATE_VERSION,
    CaptureOperationKind.CREATE: LroKind.CREATE,
    CaptureOperationKind.DELETE: LroKind.DELETE,
}
_RUNNING = {
    CaptureOperationKind.DEALLOCATE: "deallocating the source VM",
    CaptureOperationKind.CREATE: "creating the builder VM",
    CaptureOperationKind.DELETE: "deleting the builder VM",
}


class StatusSink(Protocol):
    async def patch_status(self, patch: Mapping[str, Any]) -> None: ...


class EventSink(Protocol):
    def event(self, type_: str, reason: str, message: str) -> None: ...


@dataclass(frozen=True)
class Problem:
    """Why the capture cannot reach Azure at all (account, access), for the Stalled condition."""

    reason: Reason
    message: str


@dataclass(frozen=True)
class PassResult:
    settled: bool
    delay: float


class CapturePass:
    def __init__(
        self,
        capture: ImageCapture,
        gateway: CaptureGateway | Problem,
        status: StatusSink,
        events: EventSink,
        now: datetime,
        *,
        progress_seconds: float,
        stalled_seconds: float,
        builder_inputs: TemplateInputs | None = None,
        pools: PoolSource | None = None,
    ) -> None:
        """`builder_inputs`: the builder template's Secret and ConfigMap values, read while the
        builder is not yet built."""
        self._capture, self._gateway = capture, gateway
        self._builder_inputs = builder_inputs
        self._sink, self._events, self._now = status, events, now
        self._status = capture.status or ImageCaptureStatus()
        self._progress, self._stalled = progress_seconds, stalled_seconds
        self._pools = pools

    async def run(self) -> PassResult:
        if self._status.phase is CapturePhase.SUCCEEDED:
            await self._retain()
            return PassResult(settled=True, delay=self._stalled)
        gateway = self._gateway
        if isinstance(gateway, Problem):
            return await self._stall(gateway.reason, gateway.message)
        try:
            return await self._advance(gateway)
        except TerminalAzureError as error:
            return await self._stall(error.reason, str(error))
        except AzureGatewayError as error:
            await self._report(State.RECONCILING, Reason.RETRYING, str(error), warn=True)
            return PassResult(settled=False, delay=self._progress * 5)

    async def _advance(self, gateway: CaptureGateway) -> PassResult:
        spec = self._capture.spec
        pending = self._status.pending_operation
        if pending is not None:
            record = OperationRecord(
                _RECORD_KINDS[pending.kind], pending.target, pending.resume_token or ""
            )
            state = await gateway.wait_operation(record, max_wait=FOLLOW_SECONDS)
            if state is OperationState.RUNNING:
                message = await self._progress_of(gateway, pending.kind)
                await self._report(State.RECONCILING, self._reason(), message)
                return PassResult(settled=False, delay=self._progress)
            self._update(pending_operation=None)
        definition = await gateway.read_definition(spec.target.image_id)
        if definition is None:
            return await self._stall(
                Reason.DEFINITION_NOT_FOUND,
                f"gallery image definition {spec.target.image_id} does not exist; fix "
                "spec.target.imageId",
            )
        name = self._status.version or await self._version_name(gateway)
        if self._status.version is None:
            self._update(version=name, started_at=self._now, phase=CapturePhase.PENDING)
            await self._write()
        builder = spec.source.builder
        if builder is not None and self._status.built_at is None:
            building = await self._build(gateway, builder)
            if building is not None:
                return building
        vm_id = self._source_vm_id()
        version = await gateway.read_version(spec.target.image_id, name)
        # No VM ID names its region: a VM given by ID is taken to be in the definition's (where
        # the version is made from it), as a pool's VMs are taken to be in the pool's.
        region = builder.location if builder is not None else definition.location
        source = None if version is not None else await gateway.read_source(vm_id, region)
        seen = Observation(
            source_vm_id=vm_id,
            source=None
            if source is None
            else SourceVm(source.power_state, source.generalized, source.busy),
            generalized_definition=definition.os_state.lower() == "generalized",
            version=None if version is None else _version_state(version),
        )
        step = next_step(seen)
        self._update(phase=CapturePhase(step.phase.value), source_vm_id=vm_id)
        if version is not None:
            self._update(
                image_version_id=f"{spec.target.image_id}/versions/{name}",
                regions=_regions(version),
                replicated=replicated_text(_version_state(version).regions),
            )
        return await self._take(gateway, step, vm_id, name, definition.location)

    async def _take(
        self, gateway: CaptureGateway, step: Step, vm_id: str, name: str, location: str
    ) -> PassResult:
        spec = self._capture.spec.target
        if step.kind is StepKind.STALL:
            assert step.stall_reason is not None  # the planner names why it stalls
            return await self._stall(Reason(step.stall_reason.value), step.message)
        if step.kind is StepKind.DONE:
            disposing = await self._dispose(gateway, vm_id, name)
            if disposing is not None:
                return disposing
            self._update(finished_at=self._now)
            await self._report(
                State.READY,
                Reason.CAPTURED,
                f"version {name} of {spec.image_id} is available in every target region",
            )
            await self._retain()
            return PassResult(settled=True, delay=self._stalled)
        if step.kind is StepKind.DEALLOCATE:
            record = await gateway.deallocate(vm_id)
            self._record(CaptureOperationKind.DEALLOCATE, record)
        elif step.kind is StepKind.GENERALIZE:
            await gateway.generalize(vm_id)
        elif step.kind is StepKind.CREATE_VERSION:
            request = VersionRequest(
                source_vm_id=vm_id,
                regions=tuple(
                    TargetRegionSpec(r.name, r.replica_count, r.storage_account_type.value)
                    for r in spec.regions
                ),
                exclude_from_latest=spec.exclude_from_latest,
                end_of_life=spec.end_of_life,
                tags=capture_tags(self._capture.metadata),
            )
            record = await gateway.create_version(spec.image_id, name, location, request)
            self._record(CaptureOperationKind.CREATE_VERSION, record)
            self._update(image_version_id=record.resource_id)
        await self._report(State.RECONCILING, self._reason(), step.message)
        return PassResult(settled=False, delay=self._progress)

    async def _progress_of(self, gateway: CaptureGateway, kind: CaptureOperationKind) -> str:
        """What a running operation has done so far: a version's replication, region by region
        (Azure ends the create only when the last region has replicated)."""
        if kind is not CaptureOperationKind.CREATE_VERSION or self._status.version is None:
            return _RUNNING.get(kind, "waiting for an operation")
        target = self._capture.spec.target.image_id
        version = await gateway.read_version(target, self._status.version)
        if version is None:
            return "creating the gallery image version"
        regions = _version_state(version).regions
        self._update(
            phase=CapturePhase.REPLICATING,
            regions=_regions(version),
            replicated=replicated_text(regions),
        )
        return f"replicating: {replicated_text(regions)} regions"

    async def _version_name(self, gateway: CaptureGateway) -> str:
        target = self._capture.spec.target
        if target.version is not None:
            return target.version
        existing = await gateway.version_names(target.image_id)
        if target.version_scheme is VersionScheme.DATE:
            return date_version(existing, self._now.date())
        return next_patch_version(existing)

    async def _retain(self) -> None:
        """spec.retention, once the capture is Ready (capture_retention.py)."""
        gateway = self._gateway
        if self._capture.spec.retention is None or self._pools is None:
            return
        if isinstance(gateway, Problem):
            after = retention_blocked(
                self._capture, self._status, self._events, self._now, gateway.message
            )
        else:
            after = await apply_retention(
                self._capture, self._status, gateway, self._pools, self._events, self._now
            )
        if after is not None:
            self._status = after
            await self._write()

    def _source_vm_id(self) -> str:
        source = self._capture.spec.source.virtual_machine_id or self._status.source_vm_id
        assert source is not None  # a builder's ID is in status once it is built
        return source

    def _identity(self) -> CaptureIdentity:
        meta = self._capture.metadata
        return CaptureIdentity(meta.namespace or "", meta.name, meta.uid or "")

    async def _build(self, gateway: CaptureGateway, builder: Builder) -> PassResult | None:
        """Create the builder and wait for its completion signal; None once it is built."""
        identity = self._identity()
        vm_id = self._status.source_vm_id or gateway.vm_id(
            self._capture.spec.resource_group, builder_name(identity)
        )
        vm = await gateway.read_builder(vm_id, CAPTURE_UID_TAG)
        started = self._status.builder_started_at
        if started is None and vm is not None:
            # Created by a pass that died before it could record when; the timeout counts from now.
            started = self._now
            self._update(builder_started_at=started)
        step = builder_step(
            BuilderSeen(
                vm_id=vm_id,
                vm=builder_vm(vm),
                capture_uid=identity.uid,
                elapsed_seconds=None if started is None else (self._now - started).total_seconds(),
                timeout_seconds=builder.completion.timeout_seconds,
            )
        )
        self._update(phase=CapturePhase.BUILDING, source_vm_id=vm_id)
        if step.kind is BuilderStepKind.BUILT:
            self._update(built_at=self._now)
            return None
        if step.kind is BuilderStepKind.STALL:
            assert step.stall_reason is not None  # the planner names why it stalls
            return await self._stall(Reason(step.stall_reason.value), step.message)
        if step.kind is BuilderStepKind.CREATE:
            refused = await self._create_builder(gateway, builder, identity, vm_id)
            if refused is not None:
                return refused
        await self._report(State.RECONCILING, Reason.BUILDING, step.message)
        return PassResult(settled=False, delay=self._progress)

    async def _create_builder(
        self, gateway: CaptureGateway, builder: Builder, identity: CaptureIdentity, vm_id: str
    ) -> PassResult | None:
        inputs = self._builder_inputs or TemplateInputs()
        if inputs.problem is not None:
            return await self._stall(Reason(inputs.problem_reason), inputs.problem)
        try:
            image = await gateway.resolve_image(builder.location, image_ref(builder.image))
            if image.plan is not None:
                await gateway.ensure_terms(image.plan, accept=builder.image.accept_terms)
            _, name = vm_id.rstrip("/").rsplit("/", 1)
            spec = builder_vm_spec(
                builder, image, identity, name, inputs.ssh_public_keys, inputs.custom_data
            )
            await self._write()  # the builder's ID is recorded before its create is sent
            record = await gateway.create_builder(self._capture.spec.resource_group, spec)
        except TerminalAzureError as error:
            # The pools' messages name spec.image; the builder's image is elsewhere.
            message = str(error).replace("spec.image.", "spec.source.builder.image.")
            return await self._stall(error.reason, message)
        if not isinstance(record, AlreadyCreated):
            # AlreadyCreated: an earlier send made the builder, no operation to follow; the
            # next pass reads it (a VM of its name that is not the capture's is NameTaken,
            # transient, and the next read_builder stalls on it, naming what to change).
            self._record(CaptureOperationKind.CREATE, record)
        self._update(builder_started_at=self._now)
        return None

    async def _dispose(self, gateway: CaptureGateway, vm_id: str, name: str) -> PassResult | None:
        """With disposal Delete, delete the builder (only the capture's own); None once gone."""
        builder = self._capture.spec.source.builder
        if builder is None or builder.disposal is BuilderDisposal.RETAIN:
            return None
        uid = self._identity().uid
        vm = await gateway.read_builder(vm_id, CAPTURE_UID_TAG)
        kind = disposal_step(builder_vm(vm), uid)
        if kind is DisposalStepKind.DONE:
            return None
        self._update(phase=CapturePhase.DELETING_BUILDER)
        if kind is DisposalStepKind.DELETE:
            self._record(CaptureOperationKind.DELETE, await gateway.delete_builder(vm_id))
        message = f"version {name} is captured; deleting the builder VM {vm_id}"
        await self._report(State.RECONCILING, Reason.DELETING_BUILDER, message)
        return PassResult(settled=False, delay=self._progress)

    def _record(self, kind: CaptureOperationKind, record: OperationRecord) -> None:
        self._update(
            pending_operation=CaptureOperation(
                kind=kind,
                target=record.resource_id,
                resume_token=record.token,
                started_at=self._now,
            )
        )

    def _reason(self) -> Reason:
        return _PHASE_REASON.get(Phase(self._status.phase.value), Reason.RECONCILING)

    def _update(self, **changes: Any) -> None:
        self._status = self._status.model_copy(update=changes)

    async def _stall(self, reason: Reason, message: str) -> PassResult:
        if self._status.phase is not CapturePhase.FAILED:
            self._update(phase=CapturePhase.FAILED)
        await self._report(State.STALLED, reason, message, warn=True)
        return PassResult(settled=False, delay=self._stalled)

    async def _report(
        self, state: State, reason: Reason, message: str, *, warn: bool = False
    ) -> None:
        before = self._capture.status or ImageCaptureStatus()
        generation = self._capture.metadata.generation
        previous = find_condition(before.conditions, ConditionType.READY)
        update = ConditionUpdate.of(self._status.conditions).assess(
            Assessment(state, reason.value, message), observed_generation=generation, now=self._now
        )
        self._update(conditions=list(update.conditions), observed_generation=generation)
        # One event per step (or refusal), not one per pass that only reports progress.
        moved = previous is None or previous.reason != reason.value
        if moved or before.phase is not self._status.phase:
            self._events.event("Warning" if warn else "Normal", reason.value, message)
        await self._write()

    async def _write(self) -> None:
        # A merge patch keeps what it does not name: null removes a finished operation.
        patch = {"pendingOperation": None, **self._status.to_wire()}
        await self._sink.patch_status(patch)
        self._capture = self._capture.model_copy(update={"status": self._status})


async def report_unpassed(
    body: Mapping[str, Any],
    sink: StatusSink,
    events: EventSink,
    now: datetime,
    assessment: Assessment,
) -> None:
    """A capture no pass could run for (its body does not validate, or the pass itself failed)
    still gets its condition and a Warning event; the event goes first, in case the status
    write is what fails."""
    events.event("Warning", assessment.reason, assessment.message)
    try:
        old = ImageCaptureStatus.model_validate(body.get("status") or {})
    except ValidationError:
        old = ImageCaptureStatus()
    generation = (body.get("metadata") or {}).get("generation")
    update = ConditionUpdate.of(old.conditions).assess(
        assessment, observed_generation=generation, now=now
    )
    await sink.patch_status({"conditions": [c.to_wire() for c in update.conditions]})


def builder_vm(vm: BuilderInfo | None) -> BuilderVm | None:
    if vm is None:
        return None
    return BuilderVm(vm.capture_uid, vm.provisioning_state, vm.power_state, vm.health)


def _version_state(version: VersionInfo) -> VersionState:
    return VersionState(
        provisioning_state=version.provisioning_state,
        source_vm_id=version.source_vm_id,
        regions=tuple(RegionState(r.name, r.state) for r in version.regions),
    )


def _regions(version: VersionInfo) -> Sequence[RegionReplication]:
    return [
        RegionReplication(name=r.name, state=r.state, progress=r.progress) for r in version.regions
    ]
