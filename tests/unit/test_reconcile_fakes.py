"""A fake Azure and fake Kubernetes sinks for the reconcile tests (no tests of its own here),
recording every call in one log so that tests can assert on order: status recorded before the
create it describes."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from vmroll.api.pool import VirtualMachinePool
from vmroll.azure.errors import TerminalAzureError, TransientAzureError
from vmroll.azure.image_versions import ImageVersionInfo
from vmroll.azure.images import (
    AzureImageKind,
    GalleryRef,
    ImageRef,
    ManagedImageRef,
    MarketplacePlan,
    ResolvedImage,
)
from vmroll.azure.lro import LroKind, OperationRecord, OperationState
from vmroll.azure.vm_body import VmSpec, build_vm_body
from vmroll.azure.vms import ListedShare, PoolListing, PoolVm, ReadVm, VmRuntime
from vmroll.plan.ownership import PoolIdentity, partition
from vmroll.reconcile.inputs import AccountView, PassSettings, TemplateInputs
from vmroll.reconcile.memory import PoolMemory
from vmroll.reconcile.pool_pass import PoolPass

SUBSCRIPTION = "00000000-0000-4000-8000-00000000a001"
RG = "rg-web"
VERSION = "1.0.2"
IMAGE = ResolvedImage(
    source=AzureImageKind.MARKETPLACE,
    requested="latest",
    resolved_version=VERSION,
    image_id=f"/images/canonical/ubuntu/server/{VERSION}",
    image_reference={"publisher": "Canonical", "offer": "ubuntu", "sku": "server",
                     "version": VERSION},
)  # fmt: skip
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GALLERY_IMAGE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.Compute"
    "/galleries/g/images/web"
)


def resolved_at(image: ImageRef, version: str) -> ResolvedImage:
    """What Azure resolves `image` to when `version` is the exact version asked (or latest)."""
    if isinstance(image, GalleryRef):
        version_id = f"{image.image_id}/versions/{version}"
        return ResolvedImage(
            source=AzureImageKind.GALLERY, requested=image.version, resolved_version=version,
            image_id=version_id, image_reference={"id": version_id},
        )  # fmt: skip
    assert not isinstance(image, ManagedImageRef)
    return replace(
        IMAGE,
        requested=image.version,
        resolved_version=version,
        image_id=f"/images/canonical/ubuntu/server/{version}",
        image_reference={**IMAGE.image_reference, "version": version},
    )


@dataclass
class FakeAzure:
    """One resource group; creates and deletes finish when waited on or by the next list. A VM
    runs the version its image reference names (or the reimage asked for); versions in
    `unhealthy` boot unhealthy."""

    log: list[str]
    vms: dict[str, PoolVm] = field(default_factory=dict)
    latest: str = VERSION
    unhealthy: set[str] = field(default_factory=set)
    image_error: TerminalAzureError | None = None
    list_error: TransientAzureError | None = None
    create_error: TerminalAzureError | TransientAzureError | None = None
    delete_error: TerminalAzureError | TransientAzureError | None = None
    unlisted: set[str] = field(default_factory=set)
    """Names lists leave out while a GET by name finds them (ARM's list lag)."""
    plan: MarketplacePlan | None = None
    terms_accepted: bool = False
    released: list[str] = field(default_factory=list)
    available: tuple[str, ...] = ()
    captured: dict[str, str] = field(default_factory=dict)
    """Gallery versions an ImageCapture produced: version -> `<namespace>/<name>`."""
    running: dict[str, LroKind] = field(default_factory=dict)
    """Creates and deletes sent and not ended: they end when waited on or by the next list."""
    refresh_floor: float = 0.0
    """The period views are refreshed by when more than the configured one (a large fleet)."""
    resting: dict[str, tuple[tuple[PoolVm, ...], ...]] = field(default_factory=dict)
    """Per pool: the share it last came to rest with (`rests`)."""

    async def resolve_image(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> ResolvedImage:
        self.log.append("resolve")
        if self.image_error is not None:
            raise self.image_error
        exact = getattr(image, "version", "latest")
        version = self.latest if exact == "latest" else exact
        captured_by = self.captured.get(version) if isinstance(image, GalleryRef) else None
        return replace(resolved_at(image, version), plan=self.plan, captured_by=captured_by)

    async def image_versions(
        self, location: str, image: ImageRef, *, max_age: float
    ) -> tuple[ImageVersionInfo, ...]:
        self.log.append("versions")
        return tuple(ImageVersionInfo(v) for v in self.available)

    async def ensure_terms(self, plan: MarketplacePlan, *, accept: bool, owner: str) -> None:
        self.log.append(f"terms accept={accept} owner={owner}")
        if not self.terms_accepted and not accept:
            raise TerminalAzureError("TermsNotAccepted", f"terms of {plan.name} not accepted")
        self.terms_accepted = True

    async def list_pool_vms(self, resource_group: str, pool: PoolIdentity) -> PoolListing:
        split = partition(await self.list_group_vms(resource_group), pool)
        return PoolListing(owned=split.owned, look_alikes=split.look_alikes)

    async def list_group_vms(self, resource_group: str) -> tuple[PoolVm, ...]:
        self.log.append("list")
        if self.list_error is not None:
            raise self.list_error
        self.end_running()
        return tuple(vm for vm in self.vms.values() if vm.name not in self.unlisted)

    async def read_vm(self, resource_group: str, name: str) -> ReadVm | None:
        self.log.append(f"get {name}")
        vm = self.vms.get(name)
        return ReadVm(vm, self._runtime(vm)) if vm is not None else None

    async def get_vm_runtime(self, vm: PoolVm) -> VmRuntime | None:
        self.log.append(f"runtime {vm.name}")
        return self._runtime(vm)

    def _runtime(self, vm: PoolVm) -> VmRuntime:
        health = "unhealthy" if vm.image_version in self.unhealthy else None
        return VmRuntime(power_state="running", health=health)

    def refresh_period(self, pool: str, vms: int, configured: float) -> float:
        return max(configured, self.refresh_floor)

    def rests(
        self, resource_group: str, pool: PoolIdentity, share: ListedShare, image: Hashable
    ) -> None:
        self.resting[pool.uid] = share

    async def create_vm(self, resource_group: str, spec: VmSpec) -> OperationRecord:
        self.log.append(f"create {spec.name}")
        if self.create_error is not None:
            raise self.create_error
        body = build_vm_body(spec)
        tags, reference = body["tags"], body["properties"]["storageProfile"]["imageReference"]
        runs = reference.get("version") or reference["id"].rsplit("/", 1)[-1]
        created = vm(spec.name, tags["vmroll.io_pool-uid"], tags, "Creating")
        self.vms[spec.name] = replace(created, image_version=runs)
        self.running[spec.name] = LroKind.CREATE
        return OperationRecord(LroKind.CREATE, f"/vms/{spec.name}", f"token-{spec.name}")

    async def delete_vm(self, vm: PoolVm, pool_uid: str, *, force: bool = False) -> OperationRecord:
        assert vm.pool_uid == pool_uid
        self.log.append(f"delete {vm.name}")
        if self.delete_error is not None:
            raise self.delete_error
        self.vms[vm.name] = replace(self.vms[vm.name], provisioning_state="Deleting")
        self.running[vm.name] = LroKind.DELETE
        return OperationRecord(LroKind.DELETE, f"/vms/{vm.name}", f"token-{vm.name}")

    async def reimage_vm(
        self, vm: PoolVm, pool_uid: str, exact_version: str | None
    ) -> OperationRecord:
        self.log.append(f"reimage {vm.name}")
        self.vms[vm.name] = replace(self.vms[vm.name], image_version=exact_version)
        return OperationRecord(LroKind.REIMAGE, f"/vms/{vm.name}", f"token-{vm.name}")

    async def wait_operation(self, record: OperationRecord, *, max_wait: float) -> OperationState:
        name = record.resource_id.rsplit("/", 1)[-1]
        self.log.append(f"wait {name}")
        self._end(name, record.kind)
        return OperationState.SUCCEEDED

    def end_running(self) -> None:
        """Every create and delete sent ends: what a list read after them shows."""
        for name, kind in list(self.running.items()):
            self._end(name, kind)

    def _end(self, name: str, kind: LroKind) -> None:
        self.running.pop(name, None)
        if kind is LroKind.DELETE:
            self.vms.pop(name, None)
        elif name in self.vms:
            self.vms[name] = replace(self.vms[name], provisioning_state="Succeeded")

    async def release_vm(self, vm: PoolVm, released_at: str) -> None:
        self.released.append(vm.name)

    async def retag_vm(self, vm: PoolVm, tags: dict[str, str]) -> None:
        self.vms[vm.name] = replace(
            self.vms[vm.name], revision=tags.get("vmroll.io_revision"), tags=dict(tags)
        )


def vm(name: str, uid: str, tags: Mapping[str, str], state: str = "Succeeded") -> PoolVm:
    return PoolVm(
        name=name, resource_id=f"/vms/{name}", resource_group=RG, pool_uid=uid,
        provisioning_state=state, zone=None, revision=tags.get("vmroll.io_revision"),
        image_version=tags.get("vmroll.io_image-version"), tags=dict(tags),
    )  # fmt: skip


@dataclass
class Sinks:
    log: list[str]
    patches: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        self.log.append(f"status {sorted(patch)}")
        self.patches.append(dict(patch))

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))


def pool_object(replicas: int = 3, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "VirtualMachinePool",
        "metadata": {"name": "web", "namespace": "team", "uid": "uid-1", "generation": 1},
        "spec": {
            "accountRef": {"name": "prod"},
            "resourceGroup": RG,
            "location": "westeurope",
            "replicas": replicas,
            "image": {"marketplace": {"publisher": "Canonical", "offer": "ubuntu",
                                      "sku": "server"}},
            "template": {
                "vmSize": "Standard_D2s_v5",
                "subnetId": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/"
                "Microsoft.Network/virtualNetworks/v/subnets/s",
                "sshPublicKeys": [{"keyData": "ssh-ed25519 AAAA test@vmroll"}],
            },
            **spec,
        },
    }  # fmt: skip


def account_spec(namespaces: list[str], groups: list[str]) -> dict[str, Any]:
    return {
        "subscriptionId": SUBSCRIPTION,
        "tenantId": "11111111-1111-1111-1111-111111111111",
        "auth": {"defaultChain": {}},
        "allowedNamespaces": {"names": namespaces},
        "allowedResourceGroups": groups,
    }


@dataclass
class World:
    """A pool, its memory across passes, a fake Azure, sinks, and a clock the test moves."""

    log: list[str] = field(default_factory=list)
    pool: dict[str, Any] = field(default_factory=pool_object)
    account: dict[str, Any] = field(default_factory=lambda: account_spec(["team"], [RG]))
    memory: PoolMemory = field(default_factory=PoolMemory)
    now: datetime = START

    def __post_init__(self) -> None:
        self.azure = FakeAzure(self.log)
        self.sinks = Sinks(self.log)

    def pass_(self) -> PoolPass:
        from vmroll.api.account import AzureAccountSpec

        return PoolPass(
            pool=VirtualMachinePool.model_validate(self.pool),
            account=AccountView("prod", AzureAccountSpec.model_validate(self.account), self.azure),
            namespace_labels={},
            inputs=TemplateInputs(("ssh-ed25519 AAAA test@vmroll",)),
            memory=self.memory,
            status=self.sinks,
            events=self.sinks,
            clock=lambda: self.now,
            settings=PassSettings(),
        )

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)
