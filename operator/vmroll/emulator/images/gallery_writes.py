"""Gallery image versions written through ARM: create or replace, update, delete.

An image pipeline publishes a version with `GalleryImageVersions_CreateOrUpdate`, then flips
`excludeFromLatest` or widens `targetRegions` with `_Update`; vmroll sees the result on its next
`latest` resolution. A version captured from a VM (`storageProfile.source.virtualMachineId`) is
checked against its definition as Azure checks it (OS type, OS state, Hyper-V generation,
architecture) and then takes time: the core's `CaptureHost` (captures.py) runs it as a
long-running operation, the version `Creating` and every target region `Replicating` until each
completes in turn. Other sources replicate at once, so those operations finish in their first
answer (201/200, `Succeeded`), which the SDK's poller accepts without polling. Each write is
recorded like an admin publication, so `--state` replays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from vmroll.emulator.arm_request import (
    JSON,
    ResourceGroups,
    json_body,
    require_resource_group,
    respond,
)
from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.entries import Gallery, GalleryImage
from vmroll.emulator.images.galleries import VERSION_PATH, version_body
from vmroll.emulator.images.regions import normalize_location
from vmroll.emulator.images.state import ImageState, PublicationKind, parse_publication
from vmroll.emulator.images.versions import parse_version

_TARGET_REGION_FIELDS = ("name", "regionalReplicaCount", "storageAccountType", "excludeFromLatest")


@dataclass(frozen=True)
class SourceVm:
    """What a capture needs to know of the VM it copies."""

    resource_id: str
    location: str
    os_type: str
    hyper_v_generation: str
    architecture: str
    generalized: bool


class CaptureHost(Protocol):
    """The core's side of a capture: its VMs, and the operation that replicates the version."""

    def settle(self) -> None: ...

    def source_vm(self, resource_id: str) -> SourceVm | None: ...

    def start_capture(self, version_id: str, where: dict[str, str], api_version: str) -> None: ...

    def capture_headers(self, version_id: str) -> dict[str, str] | None:
        """The running capture's `Azure-AsyncOperation`/`Location` headers, if one runs."""
        ...

    def cancel_capture(self, version_id: str) -> None: ...


class GalleryWriteRoutes:
    def __init__(
        self, state: ImageState, groups: ResourceGroups, host: CaptureHost | None = None
    ) -> None:
        self._state = state
        self._groups = groups
        self._host = host

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_put(
            VERSION_PATH, self.create_or_update, name="GalleryImageVersions_CreateOrUpdate"
        )
        router.add_patch(VERSION_PATH, self.update, name="GalleryImageVersions_Update")
        router.add_delete(VERSION_PATH, self.delete, name="GalleryImageVersions_Delete")

    def _parent(self, request: web.Request) -> tuple[Gallery, GalleryImage]:
        if self._host is not None:
            self._host.settle()
        require_resource_group(self._groups, request)
        info = request.match_info
        gallery = self._state.catalog.gallery(
            info["subscription"], info["resource_group"], info["gallery"]
        )
        image = gallery.image(info["image"]) if gallery is not None else None
        if gallery is None or image is None:
            raise ArmError(
                404,
                "ParentResourceNotFound",
                "Can not perform requested operation on nested resource. Parent resource "
                f"'{info['gallery']}/{info['image']}' not found.",
            )
        return gallery, image

    def _apply(self, request: web.Request, kind: PublicationKind, fields: dict[str, Any]) -> None:
        info = request.match_info
        where = {
            "subscriptionId": info["subscription"],
            "resourceGroup": info["resource_group"],
            "gallery": info["gallery"],
            "image": info["image"],
            "name": info["version"],
        }
        self._state.publish(parse_publication(kind, {**where, **fields}))

    def _answer(self, request: web.Request, status: int) -> web.Response:
        """The version as just written (so it exists), with its capture's headers if one runs."""
        gallery, image = self._parent(request)
        name = request.match_info["version"]
        version = next(v for v in image.versions if v.name == name)
        answer = respond(version_body(gallery, image, version, replication=False), status)
        headers = (
            self._host.capture_headers(_version_id(request)) if self._host is not None else None
        )
        answer.headers.update(headers or {})
        return answer

    async def create_or_update(self, request: web.Request) -> web.Response:
        gallery, image = self._parent(request)
        name = request.match_info["version"]
        if parse_version(name) is None:
            raise ArmError(
                400,
                "InvalidParameter",
                f"The value '{name}' of parameter galleryImageVersionName is invalid: use "
                "Major.Minor.Patch, three decimal numbers that fit a 32-bit integer.",
                target="galleryImageVersionName",
            )
        body = await json_body(request, required=True)
        location = body.get("location")
        if not isinstance(location, str) or not location:
            raise ArmError(
                400, "LocationRequired", "The location property is required for this definition."
            )
        if normalize_location(location) != gallery.location:
            raise ArmError(
                400,
                "InvalidParameter",
                f"The gallery image version must be in the gallery's location "
                f"'{gallery.location}', not '{location}'.",
                target="location",
            )
        properties = body.get("properties") or {}
        fields = _publishing_fields(properties.get("publishingProfile") or {})
        fields.setdefault("targetRegions", [gallery.location])
        fields.setdefault("excludeFromLatest", False)
        tags = body.get("tags")
        if isinstance(tags, dict) and tags:
            fields["tags"] = {str(k): str(v) for k, v in tags.items()}
        source = (properties.get("storageProfile") or {}).get("source") or {}
        source_id = source.get("virtualMachineId") or source.get("id")
        existing = image.version(name)
        if existing is not None:
            _check_same_source(existing.source_id, source_id)
            self._apply(request, "galleryUpdate", fields)
            return self._answer(request, 200)
        host, vm = self._host, self._source_vm(source)
        if host is None or vm is None:
            self._apply(request, "gallery", {**fields, "sourceId": source_id})
            return self._answer(request, 201)
        _check_compatible(vm, image)
        replicating = [
            {**(r if isinstance(r, dict) else {"name": r}), "state": "Replicating"}
            for r in fields["targetRegions"]
        ]
        publication = {**fields, "targetRegions": replicating, "sourceId": vm.resource_id}
        self._apply(request, "gallery", {**publication, "provisioningState": "Creating"})
        host.start_capture(
            _version_id(request), _where(request), request.query.get("api-version", "")
        )
        return self._answer(request, 201)

    def _source_vm(self, source: JSON) -> SourceVm | None:
        """The VM a version is captured from, or None for other sources; 404 for a missing VM."""
        vm_id = source.get("virtualMachineId")
        if not isinstance(vm_id, str) or self._host is None:
            return None
        vm = self._host.source_vm(vm_id)
        if vm is None:
            raise ArmError(
                404,
                "NotFound",
                f"The resource with id '{vm_id}' was not found.",
                target="storageProfile.source.virtualMachineId",
            )
        return vm

    async def update(self, request: web.Request) -> web.Response:
        gallery, image = self._parent(request)
        if image.version(request.match_info["version"]) is None:
            name = f"{gallery.name}/images/{image.name}/versions/{request.match_info['version']}"
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.Compute/galleries/{name}' under resource group "
                f"'{gallery.resource_group}' was not found. For more details please go to "
                "https://aka.ms/ARMResourceNotFoundFix",
            )
        body = await json_body(request, required=True)
        publishing = (body.get("properties") or {}).get("publishingProfile") or {}
        fields = _publishing_fields(publishing)
        if isinstance(body.get("tags"), dict):
            # A PATCH that names the tags replaces them (the SDK's GalleryImageVersionUpdate).
            fields["tags"] = {str(k): str(v) for k, v in body["tags"].items()}
        self._apply(request, "galleryUpdate", fields)
        return self._answer(request, 200)

    async def delete(self, request: web.Request) -> web.Response:
        _, image = self._parent(request)
        if image.version(request.match_info["version"]) is None:
            return web.Response(status=204)
        if self._host is not None:
            self._host.cancel_capture(_version_id(request))
        self._apply(request, "galleryDelete", {})
        return web.Response(status=200)


def _where(request: web.Request) -> dict[str, str]:
    info = request.match_info
    return {
        "subscriptionId": info["subscription"],
        "resourceGroup": info["resource_group"],
        "gallery": info["gallery"],
        "image": info["image"],
        "name": info["version"],
    }


def _version_id(request: web.Request) -> str:
    info = request.match_info
    return (
        f"/subscriptions/{info['subscription']}/resourceGroups/{info['resource_group']}"
        f"/providers/Microsoft.Compute/galleries/{info['gallery']}/images/{info['image']}"
        f"/versions/{info['version']}"
    ).lower()


def _check_same_source(current: str | None, requested: str | None) -> None:
    """A version's source is fixed once created, as ARM refuses to change it."""
    if current is not None and requested is not None and current.lower() != requested.lower():
        raise ArmError(
            409,
            "PropertyChangeNotAllowed",
            "Changing property 'galleryImageVersion.properties.storageProfile.source.id' is "
            "not allowed.",
            target="galleryImageVersion.properties.storageProfile.source.id",
        )


def _check_compatible(vm: SourceVm, image: GalleryImage) -> None:
    """Azure's refusals of a VM source that does not fit its image definition.

    The OS state and Hyper-V generation wordings are Azure's (reported in Azure/azure-cli#24972
    and MicrosoftDocs/azure-docs#118774); the OS type and architecture ones follow them.
    """
    state = "Generalized" if vm.generalized else "Specialized"
    checks = [
        ("OS type", vm.os_type, image.os_type, 409, "Conflict"),
        ("Hypervisor generation", vm.hyper_v_generation, image.hyper_v_generation, 409, "Conflict"),
        ("architecture", vm.architecture, image.architecture, 409, "Conflict"),
        ("OS state", state, image.os_state, 400, "BadRequest"),
    ]
    for what, source, parent, status, code in checks:
        if source.lower() != parent.lower():
            raise ArmError(
                status,
                code,
                f"The resource with id '{vm.resource_id}' has a different {what} ['{source}'] "
                f"than the parent gallery image {what} ['{parent}'].",
            )


def _publishing_fields(publishing: JSON) -> dict[str, Any]:
    """The publishingProfile settings the emulator keeps, in catalog (camelCase) form."""
    fields: dict[str, Any] = {}
    if "excludeFromLatest" in publishing:
        fields["excludeFromLatest"] = publishing["excludeFromLatest"]
    if publishing.get("endOfLifeDate"):
        fields["endOfLifeDate"] = _end_of_life(publishing["endOfLifeDate"])
    regions = publishing.get("targetRegions")
    if isinstance(regions, list) and regions:
        fields["targetRegions"] = [
            {k: v for k, v in region.items() if k in _TARGET_REGION_FIELDS}
            if isinstance(region, dict)
            else region
            for region in regions
        ]
    return fields


def _end_of_life(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ArmError(
            400,
            "InvalidParameter",
            f"The value '{value}' of endOfLifeDate is not a valid date-time.",
            target="publishingProfile.endOfLifeDate",
        ) from None
