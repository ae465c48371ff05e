"""Gallery image versions written through ARM: create or replace, update, delete.

An image pipeline publishes a version with `GalleryImageVersions_CreateOrUpdate`, then flips
`excludeFromLatest` or widens `targetRegions` with `_Update`; vmroll sees the result on its next
`latest` resolution. Replication here is immediate (every target region answers `Completed`), so
the long-running operations finish in their first answer: 201/200 with `provisioningState`
`Succeeded`, which the SDK's poller accepts without polling. Each write is recorded like an admin
publication, so `--state` replays it.
"""

from __future__ import annotations

from typing import Any

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


class GalleryWriteRoutes:
    def __init__(self, state: ImageState, groups: ResourceGroups) -> None:
        self._state = state
        self._groups = groups

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_put(
            VERSION_PATH, self.create_or_update, name="GalleryImageVersions_CreateOrUpdate"
        )
        router.add_patch(VERSION_PATH, self.update, name="GalleryImageVersions_Update")
        router.add_delete(VERSION_PATH, self.delete, name="GalleryImageVersions_Delete")

    def _parent(self, request: web.Request) -> tuple[Gallery, GalleryImage]:
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
        """The version as just written (so it exists)."""
        gallery, image = self._parent(request)
        name = request.match_info["version"]
        version = next(v for v in image.versions if v.name == name)
        return respond(version_body(gallery, image, version, replication=False), status)

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
        if image.version(name) is not None:
            self._apply(request, "galleryUpdate", fields)
            return self._answer(request, 200)
        source = (properties.get("storageProfile") or {}).get("source") or {}
        source_id = source.get("id") or source.get("virtualMachineId")
        self._apply(request, "gallery", {**fields, "sourceId": source_id})
        return self._answer(request, 201)

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
        self._apply(request, "galleryUpdate", _publishing_fields(publishing))
        return self._answer(request, 200)

    async def delete(self, request: web.Request) -> web.Response:
        _, image = self._parent(request)
        if image.version(request.match_info["version"]) is None:
            return web.Response(status=204)
        self._apply(request, "galleryDelete", {})
        return web.Response(status=200)


def _publishing_fields(publishing: JSON) -> dict[str, Any]:
    """The publishingProfile settings the emulator keeps, in catalog (camelCase) form."""
    fields: dict[str, Any] = {}
    if "excludeFromLatest" in publishing:
        fields["excludeFromLatest"] = publishing["excludeFromLatest"]
    regions = publishing.get("targetRegions")
    if isinstance(regions, list) and regions:
        fields["targetRegions"] = [
            {k: v for k, v in region.items() if k in _TARGET_REGION_FIELDS}
            if isinstance(region, dict)
            else region
            for region in regions
        ]
    return fields
