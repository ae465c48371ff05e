"""The SDK calls of an image capture: the source VM, the gallery definition and the version.

Thin functions over the async compute client, one per call, that return the boundary's own
frozen records (never SDK models) and raise the classified errors of azure/errors.py. Azure's
refusals of a source that does not fit its definition (a different OS type, OS state, Hyper-V
generation or architecture: 400 BadRequest or 409 Conflict "has a different ...") are terminal
here, with reason SourceIncompatible, though a plain Conflict is transient elsewhere. A builder
VM is created as pools create theirs (azure/vms.py) and read here, tags and instance view in one
GET.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.compute.models import (
    GalleryImageVersion,
)

from vmroll.azure import vms
from vmroll.azure.errors import TerminalAzureError, azure_errors
from vmroll.azure.lro import LroKind, OperationRecord, Poller, start
from vmroll.plan.reasons import Reason
from vmroll.plan.retention import StoredVersion
from vmroll.plan.versions import GalleryRegion

_BUSY_STATES = frozenset({"creating", "updating", "deleting", "migrating"})


@dataclass(frozen=True)
class SourceInfo:
    """The source VM as its instance view reports it."""

    power_state: str | None
    generalized: bool
    busy: bool


@dataclass(frozen=True)
class BuilderInfo:
    """A builder VM: whose it is (its capture-UID tag), its state and its guest's health."""

    capture_uid: str | None
    provisioning_state: str
    power_state: str | None
    health: str | None


@dataclass(frozen=True)
class DefinitionInfo:
    location: str
    os_state: str


@dataclass(frozen=True)
class RegionReplica:
    name: str
    state: str
    progress: int | None


@dataclass(frozen=True)
class VersionInfo:
    name: str
    provisioning_state: str
    source_vm_id: str | None
    regions: tuple[RegionReplica, ...]


@dataclass(frozen=True)
class TargetRegionSpec:
    name: str
    replica_count: int
    storage_account_type: str


@dataclass(frozen=True)
class VersionRequest:
    """The gallery image version to create from a VM."""

    source_vm_id: str
    regions: tuple[TargetRegionSpec, ...]
    exclude_from_latest: bool
    end_of_life: datetime | None
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)
    """vmroll's capture tags (plan/ownership.py): retention deletes only versions carrying them,
    and a pool rolling onto the version names the capture."""


def subscription_of(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    return parts[[part.lower() for part in parts].index("subscriptions") + 1]


def group_and_name(resource_id: str) -> tuple[str, str]:
    parts = resource_id.strip("/").split("/")
    lowered = [part.lower() for part in parts]
    return parts[lowered.index("resourcegroups") + 1], parts[-1]


def definition_parts(image_id: str) -> tuple[str, str, str]:
    """Resource group, gallery and image of a gallery image definition ID."""
    parts = image_id.strip("/").split("/")
    lowered = [part.lower() for part in parts]
    group = parts[lowered.index("resourcegroups") + 1]
    return group, parts[lowered.index("galleries") + 1], parts[lowered.index("images") + 1]


def _text(value: object) -> str:
    """An SDK enum's wire value (its str() is the member's name), or the text itself."""
    if value is None:
        return ""
    return str(value.value) if isinstance(value, Enum) else str(value)


async def read_source(compute: ComputeManagementClient, vm_id: str) -> SourceInfo | None:
    """The source VM's power, OS and provisioning states, from its instance view read as JSON
    (vms.py `read_instance_view`: not the SDK's model of the whole view)."""
    group, name = group_and_name(vm_id)
    with azure_errors(f"read VM {vm_id}"):
        view = await vms.read_instance_view(compute, subscription_of(vm_id), group, name)
    if view is None:
        return None
    codes = [status.get("code") or "" for status in view.get("statuses") or ()]
    power = next((c.split("/", 1)[1] for c in codes if c.startswith("PowerState/")), None)
    provisioning = next(
        (c.split("/")[1] for c in codes if c.startswith("ProvisioningState/")), "succeeded"
    )
    return SourceInfo(
        power_state=power,
        generalized="OSState/generalized" in codes,
        busy=provisioning.lower() in _BUSY_STATES,
    )


async def read_builder(
    compute: ComputeManagementClient, vm_id: str, uid_tag: str
) -> BuilderInfo | None:
    group, name = group_and_name(vm_id)
    with azure_errors(f"read VM {vm_id}"):
        try:
            vm = await compute.virtual_machines.get(group, name, expand="instanceView")
        except ResourceNotFoundError:
            return None
    props = vm.properties
    view = props.instance_view if props is not None else None
    runtime = vms.to_runtime(view) if view is not None else None
    return BuilderInfo(
        capture_uid=(vm.tags or {}).get(uid_tag),
        provisioning_state=(props.provisioning_state if props is not None else None) or "",
        power_state=runtime.power_state if runtime is not None else None,
        health=runtime.health if runtime is not None else None,
    )


async def begin_delete_builder(compute: ComputeManagementClient, vm_id: str) -> OperationRecord:
    group, name = group_and_name(vm_id)

    async def begin() -> Poller:
        poller: Poller = await compute.virtual_machines.begin_delete(group, name)
        return poller

    return await start(LroKind.DELETE, vm_id, begin)


async def read_definition(compute: ComputeManagementClient, image_id: str) -> DefinitionInfo | None:
    with azure_errors(f"read gallery image {image_id}"):
        try:
            image = await compute.gallery_images.get(*definition_parts(image_id))
        except ResourceNotFoundError:
            return None
    props = image.properties
    os_state = props.os_state if props is not None else None
    return DefinitionInfo(location=image.location, os_state=_text(os_state) or "Generalized")


async def version_names(compute: ComputeManagementClient, image_id: str) -> tuple[str, ...]:
    with azure_errors(f"list versions of {image_id}"):
        listed = compute.gallery_image_versions.list_by_gallery_image(*definition_parts(image_id))
        return tuple([str(version.name) async for version in listed])


async def read_version(
    compute: ComputeManagementClient, image_id: str, name: str
) -> VersionInfo | None:
    with azure_errors(f"read version {name} of {image_id}"):
        try:
            version = await compute.gallery_image_versions.get(
                *definition_parts(image_id), name, expand="ReplicationStatus"
            )
        except ResourceNotFoundError:
            return None
    props = version.properties
    storage = props.storage_profile if props is not None else None
    source = storage.source if storage is not None else None
    status = props.replication_status if props is not None else None
    summary = status.summary if status is not None else None
    return VersionInfo(
        name=name,
        provisioning_state=_text(props.provisioning_state) if props is not None else "",
        source_vm_id=(source.virtual_machine_id or source.id) if source else None,
        regions=tuple(
            RegionReplica(_text(s.region), _text(s.state), s.progress) for s in summary or ()
        ),
    )


async def begin_deallocate(compute: ComputeManagementClient, vm_id: str) -> OperationRecord:
    group, name = group_and_name(vm_id)

    async def begin() -> Poller:
        poller: Poller = await compute.virtual_machines.begin_deallocate(group, name)
        return poller

    return await start(LroKind.DEALLOCATE, vm_id, begin)


async def generalize(compute: ComputeManagementClient, vm_id: str) -> None:
    """Synchronous in Azure: the VM is marked generalized when the call returns."""
    group, name = group_and_name(vm_id)
    with azure_errors(f"generalize VM {vm_id}"):
        await compute.virtual_machines.generalize(group, name)


async def begin_create_version(
    compute: ComputeManagementClient,
    image_id: str,
    name: str,
    location: str,
    request: VersionRequest,
) -> OperationRecord:
    version_id = f"{image_id}/versions/{name}"
    publishing: dict[str, Any] = {
        "targetRegions": [
            {
                "name": region.name,
                "regionalReplicaCount": region.replica_count,
                "storageAccountType": region.storage_account_type,
            }
            for region in request.regions
        ],
        "excludeFromLatest": request.exclude_from_latest,
    }
    if request.end_of_life is not None:
        publishing["endOfLifeDate"] = request.end_of_life.isoformat()
    body = GalleryImageVersion(
        {
            "location": location,
            "tags": dict(request.tags),
            "properties": {
                "publishingProfile": publishing,
                "storageProfile": {"source": {"virtualMachineId": request.source_vm_id}},
            },
        }
    )

    async def begin() -> Poller:
        try:
            poller: Poller = await compute.gallery_image_versions.begin_create_or_update(
                *definition_parts(image_id), name, body
            )
        except HttpResponseError as error:
            raise _incompatible(error) or error from None
        return poller

    return await start(LroKind.CREATE_VERSION, version_id, begin)


def _incompatible(error: HttpResponseError) -> TerminalAzureError | None:
    message = error.error.message if error.error is not None else ""
    if error.status_code in (400, 409) and "has a different" in (message or ""):
        return TerminalAzureError(Reason.SOURCE_INCOMPATIBLE, message or "")
    return None


async def resume(compute: ComputeManagementClient, record: OperationRecord, token: str) -> Poller:
    """A poller for a recorded capture operation; the SDK ignores the other arguments."""
    if record.kind in (LroKind.CREATE, LroKind.DELETE):
        return await vms.resume(compute, record, token)
    if record.kind is LroKind.DEALLOCATE:
        group, name = group_and_name(record.resource_id)
        deallocating: Poller = await compute.virtual_machines.begin_deallocate(
            group, name, continuation_token=token
        )
        return deallocating
    image_id, _, name = record.resource_id.rpartition("/versions/")
    return await compute.gallery_image_versions.begin_create_or_update(
        *definition_parts(image_id),
        name,
        GalleryImageVersion(location=""),
        continuation_token=token,
    )


async def list_versions(
    compute: ComputeManagementClient, image_id: str
) -> tuple[StoredVersion, ...]:
    """Every version of the definition with what retention weighs: state, latest, tags."""
    with azure_errors(f"list versions of {image_id}"):
        listed = compute.gallery_image_versions.list_by_gallery_image(*definition_parts(image_id))
        return tuple([_stored(version) async for version in listed])


def _stored(version: GalleryImageVersion) -> StoredVersion:
    props = version.properties
    publishing = props.publishing_profile if props is not None else None
    targets = (publishing.target_regions if publishing is not None else None) or ()
    return StoredVersion(
        name=str(version.name),
        provisioning_state=_text(props.provisioning_state) if props is not None else "",
        exclude_from_latest=bool(publishing is not None and publishing.exclude_from_latest),
        tags=dict(version.tags or {}),
        regions=tuple(GalleryRegion(r.name, bool(r.exclude_from_latest)) for r in targets),
    )


async def begin_delete_version(
    compute: ComputeManagementClient, image_id: str, name: str
) -> OperationRecord:
    """Start deleting a version. Azure takes it from there: the version lists `Deleting` until
    it is gone, and retention never sends a delete for a version in that state."""

    async def begin() -> Poller:
        poller: Poller = await compute.gallery_image_versions.begin_delete(
            *definition_parts(image_id), name
        )
        return poller

    return await start(LroKind.DELETE, f"{image_id}/versions/{name}", begin)
