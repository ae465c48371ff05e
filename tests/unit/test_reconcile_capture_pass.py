"""One ImageCapture pass against a fake capture gateway: what it records, writes and says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from capture_sinks import Sinks

from vmroll.api.capture import ImageCapture
from vmroll.azure.captures import (
    DefinitionInfo,
    RegionReplica,
    SourceInfo,
    VersionInfo,
    VersionRequest,
)
from vmroll.azure.errors import TerminalAzureError, TransientAzureError
from vmroll.azure.lro import LroKind, OperationRecord, OperationState
from vmroll.plan.conditions import Assessment, State
from vmroll.plan.ownership import captured_by
from vmroll.plan.reasons import Reason
from vmroll.reconcile.capture_pass import CapturePass, Problem, report_unpassed

NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
SUB = "00000000-0000-4000-8000-00000000a001"
VM = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/src"
IMAGE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/web"


def capture(status: dict[str, Any] | None = None, **target: Any) -> ImageCapture:
    body: dict[str, Any] = {
        "metadata": {"name": "golden", "namespace": "ns", "generation": 1},
        "spec": {
            "accountRef": {"name": "prod"},
            "resourceGroup": "rg",
            "source": {"virtualMachineId": VM},
            "target": {"imageId": IMAGE, "regions": [{"name": "westeurope"}], **target},
        },
    }
    if status is not None:
        body["status"] = status
    return ImageCapture.model_validate(body)


class FakeGateway:
    def __init__(self) -> None:
        self.source: SourceInfo | None = SourceInfo("running", generalized=False, busy=False)
        self.definition: DefinitionInfo | None = DefinitionInfo("westeurope", "Generalized")
        self.names: tuple[str, ...] = ("1.0.0", "1.0.9")
        self.version: VersionInfo | None = None
        self.calls: list[str] = []
        self.source_regions: list[str] = []
        self.requests: list[VersionRequest] = []
        self.refuse: Exception | None = None
        self.operation = OperationState.RUNNING

    async def read_source(self, vm_id: str, location: str) -> SourceInfo | None:
        self.source_regions.append(location)
        return self.source

    async def read_definition(self, image_id: str) -> DefinitionInfo | None:
        return self.definition

    async def version_names(self, image_id: str) -> tuple[str, ...]:
        return self.names

    async def read_version(self, image_id: str, name: str) -> VersionInfo | None:
        return self.version

    async def deallocate(self, vm_id: str) -> OperationRecord:
        self.calls.append("deallocate")
        return OperationRecord(LroKind.DEALLOCATE, vm_id, "token-d")

    async def generalize(self, vm_id: str) -> None:
        self.calls.append("generalize")

    async def create_version(
        self, image_id: str, name: str, location: str, request: VersionRequest
    ) -> OperationRecord:
        if self.refuse is not None:
            raise self.refuse
        self.calls.append(f"create {name} in {location}")
        self.requests.append(request)
        return OperationRecord(LroKind.CREATE_VERSION, f"{image_id}/versions/{name}", "token-c")

    async def wait_operation(self, record: OperationRecord, *, max_wait: float) -> OperationState:
        self.calls.append(f"wait {record.kind.value}")
        return self.operation


async def run(target: ImageCapture, gateway: FakeGateway | Problem, sinks: Sinks) -> Any:
    one = CapturePass(target, gateway, sinks, sinks, NOW, progress_seconds=2, stalled_seconds=600)
    return await one.run()


def ready_of(patch: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in patch["conditions"] if c["type"] == "Ready")


async def test_the_version_name_is_written_before_anything_is_sent() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    result = await run(capture(), gateway, sinks)

    assert sinks.patches[0]["version"] == "1.0.10"
    assert gateway.calls == ["deallocate"]
    assert sinks.patches[-1]["pendingOperation"]["resumeToken"] == "token-d"
    assert sinks.patches[-1]["phase"] == "Generalizing"
    assert not result.settled


async def test_a_recorded_operation_is_followed_not_sent_again() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    status = {
        "version": "1.0.10",
        "pendingOperation": {
            "kind": "CreateVersion",
            "target": f"{IMAGE}/versions/1.0.10",
            "resumeToken": "token-c",
            "startedAt": "2026-11-29T00:59:00Z",
        },
    }
    await run(capture(status), gateway, sinks)

    assert gateway.calls == ["wait CreateVersion"]
    assert sinks.patches[-1]["pendingOperation"]["resumeToken"] == "token-c"


async def test_an_operation_seen_to_finish_is_removed_from_status() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.operation = OperationState.SUCCEEDED
    gateway.source = SourceInfo("deallocated", generalized=False, busy=False)
    status = {
        "version": "1.0.10",
        "pendingOperation": {
            "kind": "Deallocate",
            "target": VM,
            "resumeToken": "token-d",
            "startedAt": "2026-11-29T00:59:00Z",
        },
    }
    await run(capture(status), gateway, sinks)

    assert gateway.calls == ["wait Deallocate", "generalize"]
    assert sinks.patches[-1]["pendingOperation"] is None


async def test_a_generalized_source_is_captured_with_the_definitions_location() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.source = SourceInfo("deallocated", generalized=True, busy=False)
    await run(capture(version="2.0.0"), gateway, sinks)

    assert gateway.calls == ["create 2.0.0 in westeurope"]
    assert gateway.source_regions == ["westeurope"]
    assert [captured_by(r.tags) for r in gateway.requests] == ["ns/golden"]
    assert sinks.patches[-1]["phase"] == "Capturing"
    assert sinks.patches[-1]["imageVersionId"] == f"{IMAGE}/versions/2.0.0"


async def test_replicated_everywhere_is_ready_and_said_once() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.version = VersionInfo(
        "1.0.10", "Succeeded", VM, (RegionReplica("West Europe", "Completed", 100),)
    )
    result = await run(capture({"version": "1.0.10"}), gateway, sinks)

    assert result.settled
    assert ready_of(sinks.patches[-1])["reason"] == "Captured"
    assert (sinks.patches[-1]["phase"], sinks.patches[-1]["replicated"]) == ("Succeeded", "1/1")
    assert [e[1] for e in sinks.events] == ["Captured"]


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (lambda g: setattr(g, "definition", None), "DefinitionNotFound"),
        (lambda g: setattr(g, "source", None), "SourceNotFound"),
        (
            lambda g: setattr(g, "version", VersionInfo("1.0.10", "Succeeded", "/other", ())),
            "VersionExists",
        ),
        (
            lambda g: (
                setattr(g, "source", SourceInfo("deallocated", generalized=True, busy=False)),
                setattr(
                    g,
                    "refuse",
                    TerminalAzureError(Reason.SOURCE_INCOMPATIBLE, "different Hypervisor"),
                ),
            ),
            "SourceIncompatible",
        ),
    ],
    ids=["no-definition", "no-source", "version-taken", "incompatible"],
)
async def test_what_a_human_must_change_is_stalled_with_a_warning(
    arrange: Any, reason: str
) -> None:
    gateway, sinks = FakeGateway(), Sinks()
    arrange(gateway)
    await run(capture(), gateway, sinks)

    stalled = next(c for c in sinks.patches[-1]["conditions"] if c["type"] == "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", reason)
    assert sinks.patches[-1]["phase"] == "Failed"
    assert sinks.events[-1][:2] == ("Warning", reason)


async def test_a_transient_failure_is_reconciling_with_the_cause() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.source = SourceInfo("deallocated", generalized=True, busy=False)
    gateway.refuse = TransientAzureError(
        "create: 503 ServiceUnavailable", code="ServiceUnavailable"
    )
    result = await run(capture(), gateway, sinks)

    reconciling = next(c for c in sinks.patches[-1]["conditions"] if c["type"] == "Reconciling")
    assert (reconciling["reason"], reconciling["message"]) == (
        "Retrying",
        "create: 503 ServiceUnavailable",
    )
    assert result.delay == 10


async def test_an_account_problem_stalls_without_azure() -> None:
    sinks = Sinks()
    await run(
        capture(), Problem(Reason.ACCESS_DENIED, "AzureAccount prod does not admit ns"), sinks
    )

    assert ready_of(sinks.patches[-1])["reason"] == "AccessDenied"
    assert sinks.events == [("Warning", "AccessDenied", "AzureAccount prod does not admit ns")]


async def test_a_succeeded_capture_is_left_alone() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    result = await run(capture({"phase": "Succeeded", "version": "1.0.10"}), gateway, sinks)

    assert result.settled
    assert (gateway.calls, sinks.patches, sinks.events) == ([], [], [])


async def test_replication_is_reported_region_by_region_while_the_create_runs() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.version = VersionInfo(
        "1.0.10",
        "Creating",
        VM,
        (
            RegionReplica("West Europe", "Completed", 100),
            RegionReplica("East US", "Replicating", 0),
        ),
    )
    status = {
        "version": "1.0.10",
        "phase": "Capturing",
        "pendingOperation": {
            "kind": "CreateVersion",
            "target": f"{IMAGE}/versions/1.0.10",
            "resumeToken": "token-c",
            "startedAt": "2026-11-29T00:59:00Z",
        },
    }
    await run(capture(status), gateway, sinks)

    patch = sinks.patches[-1]
    assert (patch["phase"], patch["replicated"]) == ("Replicating", "1/2")
    assert ready_of(patch)["message"] == "replicating: 1/2 regions"
    assert sinks.events == [("Normal", "Replicating", "replicating: 1/2 regions")]


async def test_a_capture_no_pass_ran_for_still_gets_its_condition_and_a_warning() -> None:
    sinks = Sinks()
    body = {"metadata": {"generation": 3}, "status": {"phase": "NotAPhase"}}
    invalid = Assessment(State.STALLED, "InvalidSpec", "the ImageCapture is not valid: bad")

    await report_unpassed(body, sinks, sinks, NOW, invalid)

    assert sinks.events == [("Warning", "InvalidSpec", "the ImageCapture is not valid: bad")]
    stalled = next(c for c in sinks.patches[-1]["conditions"] if c["type"] == "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "InvalidSpec")
    assert ready_of(sinks.patches[-1])["status"] == "False"
