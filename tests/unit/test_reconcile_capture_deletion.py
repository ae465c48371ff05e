"""A deleted capture's builder cleanup against a fake capture gateway: only the capture's own
builder is deleted, the step comes back until Azure no longer has it, and each failure is a
condition and an event (once per cause, not once per retry)."""

from __future__ import annotations

from typing import Any

from capture_sinks import Sinks
from test_reconcile_capture_builder_pass import NOW, UID, FakeGateway, builder_status, capture

from vmroll.api.capture import ImageCapture
from vmroll.api.pool import RELEASE_ANNOTATION
from vmroll.azure.captures import BuilderInfo
from vmroll.azure.errors import AzureAccessError, TransientAzureError
from vmroll.plan.capture_builder import CaptureIdentity, builder_name
from vmroll.plan.reasons import Reason
from vmroll.reconcile.capture_deletion import CaptureDeletion, Cleanup
from vmroll.reconcile.capture_pass import Problem


class ReadingGateway(FakeGateway):
    def __init__(self, builder: BuilderInfo | None, refuse_read: Exception | None = None) -> None:
        super().__init__()
        self.builder, self.refuse_read = builder, refuse_read
        self.read: list[str] = []

    async def read_builder(self, vm_id: str, uid_tag: str) -> BuilderInfo | None:
        self.read.append(vm_id.rsplit("/", 1)[1])
        if self.refuse_read is not None:
            raise self.refuse_read
        return self.builder


def building(status: dict[str, Any] | None = None) -> ImageCapture:
    return capture(builder_status() if status is None else status)


def ours(state: str = "Creating") -> BuilderInfo:
    return BuilderInfo(UID, state, "running", None)


def ready_condition(sinks: Sinks) -> dict[str, Any]:
    return next(c for c in sinks.patches[-1]["conditions"] if c["type"] == "Ready")


async def dispose(target: ImageCapture, gateway: FakeGateway, sinks: Sinks) -> Cleanup:
    return await CaptureDeletion(target, sinks, sinks, NOW).dispose(gateway)


async def test_the_captures_builder_is_deleted_and_the_step_comes_back() -> None:
    gateway, sinks = ReadingGateway(ours()), Sinks()

    cleanup = await dispose(building(), gateway, sinks)

    assert (cleanup.done, gateway.calls) == (False, ["delete builder"])
    assert gateway.read == ["golden-build-x"]
    assert ready_condition(sinks)["reason"] == Reason.DELETING_BUILDER.value
    assert [(t, r) for t, r, _ in sinks.events] == [("Normal", "DeletingBuilder")]


async def test_a_builder_being_deleted_is_waited_for_without_a_second_delete() -> None:
    gateway, sinks = ReadingGateway(ours("Deleting")), Sinks()

    cleanup = await dispose(building(), gateway, sinks)

    assert (cleanup.done, gateway.calls) == (False, [])


async def test_a_builder_gone_lets_the_capture_go() -> None:
    gateway, sinks = ReadingGateway(None), Sinks()

    cleanup = await dispose(building(), gateway, sinks)

    assert (cleanup.done, gateway.calls, sinks.patches, sinks.events) == (True, [], [], [])


async def test_a_vm_of_the_builders_name_that_is_not_the_captures_is_never_deleted() -> None:
    gateway, sinks = (
        ReadingGateway(BuilderInfo("another-uid", "Succeeded", "running", None)),
        Sinks(),
    )

    cleanup = await dispose(building(), gateway, sinks)

    assert (cleanup.done, gateway.calls) == (True, [])


async def test_a_body_without_the_builders_id_looks_it_up_by_the_name_from_the_uid() -> None:
    gateway, sinks = ReadingGateway(ours()), Sinks()

    await dispose(building({"phase": "Pending", "version": "1.0.0"}), gateway, sinks)

    assert gateway.read == [builder_name(CaptureIdentity("ns", "golden", UID))]
    assert gateway.calls == ["delete builder"]


async def test_a_transient_failure_is_reconciling_with_the_cause_and_one_warning() -> None:
    refused = TransientAzureError("Azure did not answer")
    gateway, sinks = ReadingGateway(ours(), refuse_read=refused), Sinks()

    cleanup = await dispose(building(), gateway, sinks)
    again = ImageCapture.model_validate(
        {**building().model_dump(mode="json", by_alias=True), "status": {
            **builder_status(), "conditions": sinks.patches[-1]["conditions"]}}
    )  # fmt: skip
    await dispose(again, gateway, sinks)
    throttled = TransientAzureError("throttled", retry_after=120.0)
    slow = await dispose(again, ReadingGateway(ours(), refuse_read=throttled), Sinks())

    assert not cleanup.done
    assert cleanup.delay > 0
    assert slow.delay == 120.0
    condition = ready_condition(sinks)
    assert (condition["reason"], condition["status"]) == (Reason.RETRYING.value, "False")
    assert "Azure did not answer" in condition["message"]
    assert [(t, r) for t, r, _ in sinks.events] == [("Warning", "Retrying")]


async def test_a_refusal_stalls_naming_the_release_annotation() -> None:
    gateway, sinks = ReadingGateway(ours(), refuse_read=AzureAccessError("no role")), Sinks()

    cleanup = await dispose(building(), gateway, sinks)

    stalled = next(c for c in sinks.patches[-1]["conditions"] if c["type"] == "Stalled")
    assert not cleanup.done
    assert (stalled["status"], stalled["reason"]) == ("True", Reason.ACCESS_DENIED.value)
    assert RELEASE_ANNOTATION in stalled["message"]
    assert sinks.events[0][:2] == ("Warning", Reason.ACCESS_DENIED.value)


async def test_an_unreachable_account_stalls_and_the_annotation_lets_the_capture_go() -> None:
    problem = Problem(Reason.ACCOUNT_NOT_FOUND, "AzureAccount prod does not exist")
    sinks, annotated_sinks = Sinks(), Sinks()
    annotated = building().model_copy(deep=True)
    annotated.metadata.annotations[RELEASE_ANNOTATION] = "true"

    stalled = await CaptureDeletion(building(), sinks, sinks, NOW).unreachable(problem)
    released = await CaptureDeletion(annotated, annotated_sinks, annotated_sinks, NOW).unreachable(
        problem
    )

    assert (stalled.done, released.done) == (False, True)
    assert ready_condition(sinks)["reason"] == Reason.ACCOUNT_NOT_FOUND.value
    assert annotated_sinks.patches == []
    assert [(t, r) for t, r, _ in annotated_sinks.events] == [("Warning", "ReleasedWithoutCleanup")]
