"""An ImageCapture pass with a builder source against a fake capture gateway: the builder's ID is
written before its create is sent, a recorded create is followed, the completion signal and its
timeout, the refusals that stall, and disposal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from capture_sinks import Sinks

from vmroll.api.capture import ImageCapture
from vmroll.azure.captures import (
    BuilderInfo,
    DefinitionInfo,
    RegionReplica,
    SourceInfo,
    VersionInfo,
    VersionRequest,
)
from vmroll.azure.errors import TerminalAzureError
from vmroll.azure.images import (
    AzureImageKind,
    ImageRef,
    MarketplacePlan,
    MarketplaceRef,
    ResolvedImage,
)
from vmroll.azure.lro import LroKind, OperationRecord, OperationState
from vmroll.azure.terms import terms_not_accepted
from vmroll.azure.vm_body import VmSpec
from vmroll.azure.vms import AlreadyCreated, NameTaken, PoolVm
from vmroll.plan.reasons import Reason
from vmroll.reconcile.capture_pass import CapturePass
from vmroll.reconcile.inputs import TemplateInputs

NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
SUB = "00000000-0000-4000-8000-00000000a001"
UID = "0f6c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
IMAGE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/web"
SUBNET = (
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/"
    "subnets/s"
)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8Ue6bS2dGf0a9bT4X e2e"
CLOUD_INIT = b"#cloud-config\n# a secret\n"
UBUNTU = ResolvedImage(
    AzureImageKind.MARKETPLACE,
    "Canonical:ubuntu:server:latest",
    "24.04.1",
    "Canonical:ubuntu:server:24.04.1",
    {"publisher": "Canonical", "offer": "ubuntu", "sku": "server", "version": "24.04.1"},
)


def capture(status: dict[str, Any] | None = None, disposal: str = "Delete") -> ImageCapture:
    body: dict[str, Any] = {
        "metadata": {"name": "golden", "namespace": "ns", "generation": 1, "uid": UID},
        "spec": {
            "accountRef": {"name": "prod"},
            "resourceGroup": "rg-build",
            "source": {
                "builder": {
                    "location": "westeurope",
                    "image": {
                        "marketplace": {
                            "publisher": "Canonical",
                            "offer": "ubuntu",
                            "sku": "server",
                        }
                    },
                    "template": {
                        "vmSize": "Standard_D2s_v5",
                        "subnetId": SUBNET,
                        "sshPublicKeys": [{"keyData": KEY}],
                        "customData": {"secretRef": {"name": "init", "key": "customData"}},
                        "tags": {"team": "images"},
                    },
                    "completion": {"timeoutSeconds": 600},
                    "disposal": disposal,
                }
            },
            "target": {"imageId": IMAGE, "version": "1.0.0", "regions": [{"name": "westeurope"}]},
        },
    }
    if status is not None:
        body["status"] = status
    return ImageCapture.model_validate(body)


class FakeGateway:
    def __init__(self) -> None:
        self.builder: BuilderInfo | None = None
        self.source: SourceInfo | None = SourceInfo("running", generalized=False, busy=False)
        self.version: VersionInfo | None = None
        self.calls: list[str] = []
        self.specs: list[VmSpec] = []
        self.refuse: Exception | None = None
        self.refuse_create: Exception | None = None
        self.found_created: PoolVm | None = None
        """When set, the create finds the builder an earlier send made (`AlreadyCreated`)."""
        self.plan: MarketplacePlan | None = None
        self.sinks: Sinks | None = None
        """When set, each call notes how many status patches were written before it."""

    def _call(self, what: str) -> None:
        written = "" if self.sinks is None else f" after {len(self.sinks.patches)} patches"
        self.calls.append(what + written)

    def vm_id(self, resource_group: str, name: str) -> str:
        return (
            f"/subscriptions/{SUB}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.Compute/virtualMachines/{name}"
        )

    async def resolve_image(self, location: str, image: ImageRef) -> ResolvedImage:
        assert isinstance(image, MarketplaceRef)
        if self.refuse is not None:
            raise self.refuse
        return ResolvedImage(
            UBUNTU.source, UBUNTU.requested, UBUNTU.resolved_version, UBUNTU.image_id,
            UBUNTU.image_reference, self.plan,
        )  # fmt: skip

    async def ensure_terms(self, plan: MarketplacePlan, *, accept: bool) -> None:
        raise terms_not_accepted(plan)

    async def read_builder(self, vm_id: str, uid_tag: str) -> BuilderInfo | None:
        return self.builder

    async def create_builder(
        self, resource_group: str, spec: VmSpec
    ) -> OperationRecord | AlreadyCreated:
        self._call(f"create {spec.name} in {resource_group}")
        if self.refuse_create is not None:
            raise self.refuse_create
        self.specs.append(spec)
        if self.found_created is not None:
            return AlreadyCreated(self.found_created)
        return OperationRecord(LroKind.CREATE, self.vm_id(resource_group, spec.name), "token-b")

    async def delete_builder(self, vm_id: str) -> OperationRecord:
        self._call("delete builder")
        return OperationRecord(LroKind.DELETE, vm_id, "token-x")

    async def read_source(self, vm_id: str, location: str) -> SourceInfo | None:
        return self.source

    async def read_definition(self, image_id: str) -> DefinitionInfo | None:
        return DefinitionInfo("westeurope", "Generalized")

    async def version_names(self, image_id: str) -> tuple[str, ...]:
        return ()

    async def read_version(self, image_id: str, name: str) -> VersionInfo | None:
        return self.version

    async def deallocate(self, vm_id: str) -> OperationRecord:
        self._call(f"deallocate {vm_id.rsplit('/', 1)[1]}")
        return OperationRecord(LroKind.DEALLOCATE, vm_id, "token-d")

    async def generalize(self, vm_id: str) -> None:
        self._call("generalize")

    async def create_version(
        self, image_id: str, name: str, location: str, request: VersionRequest
    ) -> OperationRecord:
        self._call("create version")
        return OperationRecord(LroKind.CREATE_VERSION, f"{image_id}/versions/{name}", "token-c")

    async def wait_operation(self, record: OperationRecord, *, max_wait: float) -> OperationState:
        self._call(f"wait {record.kind.value}")
        return OperationState.RUNNING


async def run(
    target: ImageCapture,
    gateway: FakeGateway,
    sinks: Sinks,
    inputs: TemplateInputs | None = None,
    now: datetime = NOW,
) -> Any:
    given = inputs or TemplateInputs((KEY,), CLOUD_INIT)
    one = CapturePass(
        target, gateway, sinks, sinks, now, progress_seconds=2, stalled_seconds=600,
        builder_inputs=given,
    )  # fmt: skip
    return await one.run()


def condition(patch: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in patch["conditions"] if c["type"] == type_)


def builder_status(**more: Any) -> dict[str, Any]:
    builder = FakeGateway().vm_id("rg-build", "golden-build-x")
    return {
        "version": "1.0.0",
        "phase": "Building",
        "sourceVmId": builder,
        "builderStartedAt": "2026-11-29T00:55:00Z",
        **more,
    }


async def test_the_builders_id_is_written_before_its_create_is_sent() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.sinks = sinks
    await run(capture(), gateway, sinks)

    spec = gateway.specs[0]
    written = [p for p in sinks.patches if p.get("sourceVmId")]
    assert gateway.calls == [f"create {spec.name} in rg-build after {len(written)} patches"]
    assert written[0]["sourceVmId"] == gateway.vm_id("rg-build", spec.name)
    assert sinks.patches[-1]["builderStartedAt"] == "2026-11-29T01:00:00Z"
    assert written[0]["phase"] == "Building"
    assert spec.name.startswith("golden-build-")
    assert (spec.custom_data, spec.ssh_public_keys, spec.location) == (
        CLOUD_INIT,
        (KEY,),
        "westeurope",
    )
    assert spec.all_tags == {
        "team": "images",
        "vmroll.io_capture-uid": UID,
        "vmroll.io_capture": "golden",
        "vmroll.io_capture-namespace": "ns",
    }
    last = sinks.patches[-1]
    assert last["pendingOperation"]["kind"] == "Create"
    assert condition(last, "Reconciling")["reason"] == "Building"
    assert "a secret" not in repr(sinks.patches) + repr(sinks.events) + repr(spec)


async def test_a_recorded_create_is_followed_not_sent_again() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    pending = {"kind": "Create", "target": builder_status()["sourceVmId"],
               "resumeToken": "token-b", "startedAt": "2026-11-29T00:55:00Z"}  # fmt: skip
    await run(capture(builder_status(pendingOperation=pending)), gateway, sinks)

    assert gateway.calls == ["wait Create"]
    assert condition(sinks.patches[-1], "Reconciling")["message"] == "creating the builder VM"


async def test_a_healthy_builder_is_built_and_deallocated() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.builder = BuilderInfo(UID, "Succeeded", "running", "healthy")
    await run(capture(builder_status()), gateway, sinks)

    assert gateway.calls == ["deallocate golden-build-x"]
    assert sinks.patches[-1]["builtAt"] == "2026-11-29T01:00:00Z"
    assert sinks.patches[-1]["phase"] == "Generalizing"


async def test_a_builder_created_by_a_pass_that_died_is_waited_for_from_now() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.builder = BuilderInfo(UID, "Creating", None, None)
    status = builder_status()
    del status["builderStartedAt"]
    await run(capture(status), gateway, sinks)

    assert gateway.calls == []
    assert sinks.patches[-1]["builderStartedAt"] == "2026-11-29T01:00:00Z"
    assert condition(sinks.patches[-1], "Reconciling")["reason"] == "Building"


async def test_a_builder_still_configuring_is_waited_for() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.builder = BuilderInfo(UID, "Succeeded", "running", None)
    await run(capture(builder_status()), gateway, sinks)

    assert gateway.calls == []
    assert "to report GuestHealthy (300 of 600 s)" in sinks.patches[-1]["conditions"][1]["message"]


async def test_a_builder_not_healthy_in_time_is_stalled_and_kept() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.builder = BuilderInfo(UID, "Succeeded", "running", "unhealthy")
    later = NOW + timedelta(seconds=301)
    await run(capture(builder_status()), gateway, sinks, now=later)

    stalled = condition(sinks.patches[-1], "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "BuilderTimedOut")
    assert "spec.source.builder.completion.timeoutSeconds" in stalled["message"]
    assert sinks.events[-1][:2] == ("Warning", "BuilderTimedOut")
    assert gateway.calls == []


async def test_a_builder_image_not_in_the_location_is_stalled() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.refuse = TerminalAzureError(Reason.IMAGE_NOT_AVAILABLE, "not in westeurope")
    await run(capture(), gateway, sinks)

    assert condition(sinks.patches[-1], "Stalled")["reason"] == "ImageNotAvailable"
    assert sinks.events[-1][:2] == ("Warning", "ImageNotAvailable")
    assert gateway.calls == []


async def test_unaccepted_terms_stall_naming_the_builders_field() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.plan = MarketplacePlan("server", "Canonical", "ubuntu")
    await run(capture(), gateway, sinks)

    stalled = condition(sinks.patches[-1], "Stalled")
    assert stalled["reason"] == "TermsNotAccepted"
    assert "spec.source.builder.image.acceptTerms" in stalled["message"]
    assert gateway.calls == []


async def test_a_create_refused_for_quota_is_stalled_with_azures_reason() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.refuse_create = TerminalAzureError(Reason.QUOTA_EXCEEDED, "cores quota exceeded")
    await run(capture(), gateway, sinks)

    stalled = condition(sinks.patches[-1], "Stalled")
    assert stalled["reason"] == "QuotaExceeded"
    assert "cores quota exceeded" in stalled["message"]
    assert sinks.events[-1][:2] == ("Warning", "QuotaExceeded")
    assert "pendingOperation" not in {k for k, v in sinks.patches[-1].items() if v is not None}


async def test_a_builder_an_earlier_send_made_is_waited_for_without_an_operation() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.found_created = PoolVm(
        name="golden-build-x", resource_id="", resource_group="rg-build", pool_uid="",
        provisioning_state="Creating", zone=None, revision=None, image_version=None,
        tags={"vmroll.io_capture-uid": UID},
    )  # fmt: skip
    await run(capture(), gateway, sinks)

    last = sinks.patches[-1]
    assert last.get("pendingOperation") is None
    assert last["builderStartedAt"] == "2026-11-29T01:00:00Z"
    assert condition(last, "Reconciling")["reason"] == "Building"


async def test_a_builder_name_another_vm_holds_is_reported_as_transient() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    gateway.refuse_create = NameTaken(
        "create golden-build-x: a VM of that name exists (not a pool's VM)",
        name="golden-build-x",
        holder=None,
    )
    await run(capture(), gateway, sinks)

    reconciling = condition(sinks.patches[-1], "Reconciling")
    assert reconciling["reason"] == "Retrying"
    assert "a VM of that name exists" in reconciling["message"]
    assert sinks.events[-1][:2] == ("Warning", "Retrying")
    assert sinks.patches[-1].get("pendingOperation") is None


async def test_a_missing_cloud_init_secret_is_stalled_before_anything_is_sent() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    missing = TemplateInputs(problem="Secret init has no key customData")
    await run(capture(), gateway, sinks, inputs=missing)

    assert condition(sinks.patches[-1], "Stalled")["reason"] == "InvalidSpec"
    assert gateway.calls == []


def replicated(status: dict[str, Any]) -> VersionInfo:
    return VersionInfo("1.0.0", "Succeeded", status["sourceVmId"],
                       (RegionReplica("westeurope", "Completed", 100),))  # fmt: skip


async def test_the_builder_is_deleted_once_the_version_is_out_then_ready() -> None:
    gateway, sinks = FakeGateway(), Sinks()
    status = builder_status(builtAt="2026-11-29T00:58:00Z", phase="Replicating")
    gateway.version = replicated(status)
    gateway.builder = BuilderInfo(UID, "Succeeded", "deallocated", None)
    await run(capture(status), gateway, sinks)

    assert gateway.calls == ["delete builder"]
    assert sinks.patches[-1]["phase"] == "DeletingBuilder"
    assert sinks.patches[-1]["pendingOperation"]["kind"] == "Delete"

    gateway.builder, sinks = None, Sinks()
    await run(capture(status), gateway, sinks)
    assert condition(sinks.patches[-1], "Ready")["reason"] == "Captured"
    assert sinks.patches[-1]["phase"] == "Succeeded"


async def test_a_retained_or_foreign_builder_is_not_deleted() -> None:
    status = builder_status(builtAt="2026-11-29T00:58:00Z", phase="Replicating")
    for disposal, owner in (("Retain", UID), ("Delete", "another-capture")):
        gateway, sinks = FakeGateway(), Sinks()
        gateway.version = replicated(status)
        gateway.builder = BuilderInfo(owner, "Succeeded", "deallocated", None)
        await run(capture(status, disposal=disposal), gateway, sinks)

        assert gateway.calls == []
        assert condition(sinks.patches[-1], "Ready")["reason"] == "Captured"
