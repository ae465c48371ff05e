"""One step of a deleted ImageCapture's cleanup: its builder VM, before the finalizer goes.

plan/capture_deletion.py decides whether Azure is involved at all. With `disposal: Delete` the
builder is read (by the ID in status, or by the name derived from the capture's UID when the body
predates the write of that ID) and deleted only if its capture-UID tag is the capture's; the
step comes back until Azure no longer lists it. An Azure failure is a condition and an event
(Reconciling with the cause when transient, Stalled with Azure's reason when not), and the step
is retried; so is a capture that cannot reach Azure at all, until its account is fixed or the
release annotation lets it go (as pools do, reconcile/deletion.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vmroll.api.capture import ImageCapture
from vmroll.api.capture_status import ImageCaptureStatus
from vmroll.api.pool import RELEASE_ANNOTATION
from vmroll.azure.capture_gateway import CaptureGateway
from vmroll.azure.errors import AzureGatewayError, TerminalAzureError, TransientAzureError
from vmroll.plan.capture_builder import (
    CaptureIdentity,
    DisposalStepKind,
    builder_name,
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
from vmroll.reconcile.capture_pass import EventSink, Problem, StatusSink, builder_vm

PROGRESS_SECONDS = 5.0
STALLED_SECONDS = 30.0


@dataclass(frozen=True)
class Cleanup:
    """`done`: the finalizer may go; otherwise come back after `delay` seconds."""

    done: bool
    delay: float
    message: str = ""


@dataclass(frozen=True)
class CaptureDeletion:
    capture: ImageCapture
    status: StatusSink
    events: EventSink
    now: datetime

    async def dispose(self, gateway: CaptureGateway) -> Cleanup:
        """Delete the builder if it is the capture's; done once Azure no longer has it."""
        capture = self.capture
        meta = capture.metadata
        identity = CaptureIdentity(meta.namespace or "", meta.name, meta.uid or "")
        recorded = capture.status.source_vm_id if capture.status is not None else None
        vm_id = recorded or gateway.vm_id(capture.spec.resource_group, builder_name(identity))
        try:
            vm = await gateway.read_builder(vm_id, CAPTURE_UID_TAG)
            step = disposal_step(builder_vm(vm), identity.uid)
            if step is DisposalStepKind.DONE:
                return Cleanup(done=True, delay=0.0)
            if step is DisposalStepKind.DELETE:
                await gateway.delete_builder(vm_id)
        except TerminalAzureError as error:
            return await self.stall(error.reason, error.message)
        except AzureGatewayError as error:
            message = f"cannot delete the builder VM {vm_id} of the deleted capture: {error}"
            await self._report(State.RECONCILING, Reason.RETRYING.value, message, warn=True)
            after = error.retry_after if isinstance(error, TransientAzureError) else None
            delay = max(PROGRESS_SECONDS * 5, after or 0.0)  # Azure's Retry-After as a floor
            return Cleanup(done=False, delay=delay, message=message)
        message = f"the capture is deleted; deleting its builder VM {vm_id}"
        await self._report(State.RECONCILING, Reason.DELETING_BUILDER.value, message)
        return Cleanup(done=False, delay=PROGRESS_SECONDS, message=message)

    async def unreachable(self, problem: Problem) -> Cleanup:
        return await self.stall(problem.reason.value, problem.message)

    def abandon(self, message: str) -> Cleanup:
        self.events.event(
            "Warning",
            "ReleasedWithoutCleanup",
            f"{RELEASE_ANNOTATION} is set: the capture goes, its builder VM stays in Azure "
            f"untouched ({message})",
        )
        return Cleanup(done=True, delay=0.0)

    async def stall(self, reason: str, message: str) -> Cleanup:
        """Stalled, unless the release annotation lets the capture go without its cleanup."""
        if self.capture.metadata.annotations.get(RELEASE_ANNOTATION) == "true":
            return self.abandon(message)
        text = (
            f"{message}; the builder VM cannot be deleted: fix this, or annotate the capture "
            f"{RELEASE_ANNOTATION}=true to let it go and leave the builder in Azure"
        )
        await self._report(State.STALLED, reason, text, warn=True)
        return Cleanup(done=False, delay=STALLED_SECONDS, message=text)

    async def _report(self, state: State, reason: str, message: str, *, warn: bool = False) -> None:
        """The condition, and an event when the reason changes (not one per retry)."""
        before = self.capture.status or ImageCaptureStatus()
        previous = find_condition(before.conditions, ConditionType.READY)
        if previous is None or previous.reason != reason:
            self.events.event("Warning" if warn else "Normal", reason, message)
        update = ConditionUpdate.of(before.conditions).assess(
            Assessment(state, reason, message),
            observed_generation=self.capture.metadata.generation,
            now=self.now,
        )
        await self.status.patch_status({"conditions": [c.to_wire() for c in update.conditions]})
