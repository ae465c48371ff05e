"""One pass of an ImageCapture: observe Azure once, take the planner's step, report.

The version's name and every operation started are written to status before anything waits on
them (the version name before its PUT is sent), so a restarted operator follows the operation
it finds recorded and never captures twice. The pass sequences only: plan/capture.py decides,
the `CaptureGateway` talks to Azure, conditions come from one assessment. Every failure ends in
a condition and an event: terminal Azure refusals as Stalled with the reason, transient ones as
Reconciling with the cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from vmroll.api.capture import ImageCapture, VersionScheme
from vmroll.api.capture_status import (
    CaptureOperation,
    CaptureOperationKind,
    CapturePhase,
    ImageCaptureStatus,
    RegionReplication,
)
from vmroll.azure.capture_gateway import CaptureGateway
from vmroll.azure.captures import TargetRegionSpec, VersionInfo, VersionRequest
from vmroll.azure.errors import AzureGatewayError, TerminalAzureError
from vmroll.azure.lro import LroKind, OperationRecord, OperationState
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
from vmroll.plan.conditions import (
    Assessment,
    ConditionType,
    ConditionUpdate,
    State,
    find_condition,
)
from vmroll.plan.ownership import CAPTURE_TAG
from vmroll.plan.reasons import Reason

FOLLOW_SECONDS = 1.0
"""How long one pass follows an operation before reporting and coming back."""

_PHASE_REASON = {
    Phase.GENERALIZING: Reason.GENERALIZING,
    Phase.CAPTURING: Reason.CAPTURING,
    Phase.REPLICATING: Reason.REPLICATING,
    Phase.PENDING: Reason.RECONCILING,
}
_RECORD_KINDS = {
    CaptureOperationKind.DEALLOCATE: LroKind.DEALLOCATE,
    CaptureOperationKind.CREATE_VERSION: LroKind.CREATE_VERSION,
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
    ) -> None:
        self._capture, self._gateway = capture, gateway
        self._sink, self._events, self._now = status, events, now
        self._status = capture.status or ImageCaptureStatus()
        self._progress, self._stalled = progress_seconds, stalled_seconds

    async def run(self) -> PassResult:
        if self._status.phase is CapturePhase.SUCCEEDED:
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
        vm_id = self._source_vm_id()
        version = await gateway.read_version(spec.target.image_id, name)
        source = None if version is not None else await gateway.read_source(vm_id)
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
            self._update(finished_at=self._now)
            await self._report(
                State.READY,
                Reason.CAPTURED,
                f"version {name} of {spec.image_id} is available in every target region",
            )
            return PassResult(settled=True, delay=self._stalled)
        if step.kind is StepKind.DEALLOCATE:
            record = await gateway.deallocate(vm_id)
            self._record(CaptureOperationKind.DEALLOCATE, record)
        elif step.kind is StepKind.GENERALIZE:
            await gateway.generalize(vm_id)
        elif step.kind is StepKind.CREATE_VERSION:
            meta = self._capture.metadata
            request = VersionRequest(
                source_vm_id=vm_id,
                regions=tuple(
                    TargetRegionSpec(r.name, r.replica_count, r.storage_account_type.value)
                    for r in spec.regions
                ),
                exclude_from_latest=spec.exclude_from_latest,
                end_of_life=spec.end_of_life,
                tags={CAPTURE_TAG: f"{meta.namespace}/{meta.name}"},
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
            return "deallocating the source VM"
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

    def _source_vm_id(self) -> str:
        source = self._capture.spec.source.virtual_machine_id
        assert source is not None  # the model refuses a builder source (api/capture.py)
        return source

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
