"""Azure Compute Galleries: galleries, image definitions and image versions, read-only.

Ids have the real ARM shape `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/
galleries/{g}/images/{i}/versions/{v}` (not the odd `locations/.../Galleries` ids in the spec's
examples). Versions report `publishingProfile.excludeFromLatest` and `targetRegions` with display
names, and their replication state with `$expand=ReplicationStatus`. Collections page with
`nextLink`. A capture in progress (captures.py in the core) moves on whenever they are read:
`settle` finishes what is due first.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from vmroll.emulator.arm_request import (
    COMPUTE,
    JSON,
    RESOURCE_GROUP,
    ResourceGroups,
    page,
    query,
    require_resource_group,
    respond,
)
from vmroll.emulator.arm_request import not_found as _not_found
from vmroll.emulator.images.entries import Gallery, GalleryImage, GalleryImageVersion
from vmroll.emulator.images.regions import display_name
from vmroll.emulator.images.state import ImageState

_IN_GROUP = RESOURCE_GROUP + "/providers/Microsoft.Compute/galleries"
_GALLERY = _IN_GROUP + "/{gallery}"
_IMAGES = _GALLERY + "/images"
_IMAGE = _IMAGES + "/{image}"
_VERSIONS = _IMAGE + "/versions"
VERSION_PATH = _VERSIONS + "/{version}"


def gallery_id(gallery: Gallery) -> str:
    return (
        f"/subscriptions/{gallery.subscription_id}/resourceGroups/{gallery.resource_group}"
        f"/providers/Microsoft.Compute/galleries/{gallery.name}"
    )


def image_id(gallery: Gallery, image: GalleryImage) -> str:
    return f"{gallery_id(gallery)}/images/{image.name}"


def gallery_body(gallery: Gallery) -> JSON:
    return {
        "id": gallery_id(gallery),
        "name": gallery.name,
        "type": "Microsoft.Compute/galleries",
        "location": gallery.location,
        "properties": {
            "description": gallery.description,
            "identifier": {"uniqueName": f"{gallery.subscription_id}-{gallery.name.upper()}"},
            "provisioningState": "Succeeded",
        },
    }


def image_body(gallery: Gallery, image: GalleryImage) -> JSON:
    body: JSON = {
        "id": image_id(gallery, image),
        "name": image.name,
        "type": "Microsoft.Compute/galleries/images",
        "location": gallery.location,
        "properties": {
            "description": image.description,
            "osType": image.os_type,
            "osState": image.os_state,
            "hyperVGeneration": image.hyper_v_generation,
            "architecture": image.architecture,
            "identifier": {"publisher": image.publisher, "offer": image.offer, "sku": image.sku},
            "recommended": {},
            "provisioningState": "Succeeded",
        },
    }
    if image.purchase_plan is not None:
        body["properties"]["purchasePlan"] = image.purchase_plan.model_dump()
    return body


def version_body(
    gallery: Gallery, image: GalleryImage, version: GalleryImageVersion, *, replication: bool
) -> JSON:
    publishing: JSON = {
        "targetRegions": [
            {
                "name": display_name(region.name),
                "regionalReplicaCount": region.regional_replica_count,
                "storageAccountType": region.storage_account_type,
                "excludeFromLatest": region.exclude_from_latest,
            }
            for region in version.target_regions
        ],
        "replicaCount": 1,
        "excludeFromLatest": version.exclude_from_latest,
        "publishedDate": version.published_date.isoformat().replace("+00:00", "Z"),
        "storageAccountType": "Standard_LRS",
    }
    if version.end_of_life_date is not None:
        publishing["endOfLifeDate"] = version.end_of_life_date.isoformat().replace("+00:00", "Z")
    storage: JSON = {
        "osDiskImage": {"sizeInGB": version.os_disk_size_gb, "hostCaching": "ReadWrite"},
        "dataDiskImages": [],
    }
    if version.source_id is not None:
        from_vm = "/providers/microsoft.compute/virtualmachines/" in version.source_id.lower()
        storage["source"] = {("virtualMachineId" if from_vm else "id"): version.source_id}
    properties: JSON = {
        "publishingProfile": publishing,
        "storageProfile": storage,
        "safetyProfile": {
            "allowDeletionOfReplicatedLocations": False,
            "reportedForPolicyViolation": False,
        },
        "provisioningState": version.provisioning_state,
    }
    if replication:
        properties["replicationStatus"] = replication_status(version)
    body: JSON = {
        "id": f"{image_id(gallery, image)}/versions/{version.name}",
        "name": version.name,
        "type": "Microsoft.Compute/galleries/images/versions",
        "location": gallery.location,
        "properties": properties,
    }
    if version.tags:
        body["tags"] = dict(version.tags)
    return body


def replication_status(version: GalleryImageVersion) -> JSON:
    states = [region.state for region in version.target_regions]
    aggregated = (
        "Completed"
        if all(s == "Completed" for s in states)
        else "Failed"
        if "Failed" in states
        else "InProgress"
    )
    return {
        "aggregatedState": aggregated,
        "summary": [
            {
                "region": display_name(region.name),
                "state": region.state,
                "details": "",
                "progress": 100 if region.state == "Completed" else 0,
            }
            for region in version.target_regions
        ],
    }


class GalleryRoutes:
    """Galleries_*, GalleryImages_* and GalleryImageVersions_* reads."""

    def __init__(
        self,
        state: ImageState,
        page_size: int,
        groups: ResourceGroups,
        settle: Callable[[], None] = lambda: None,
    ) -> None:
        self._state = state
        self._page_size = page_size
        self._groups = groups
        self._settle = settle

    def register(self, router: web.UrlDispatcher) -> None:
        for path, handler, operation in [
            (COMPUTE + "/galleries", self.list_all, "Galleries_List"),
            (_IN_GROUP, self.list_in_group, "Galleries_ListByResourceGroup"),
            (_GALLERY, self.get_gallery, "Galleries_Get"),
            (_IMAGES, self.list_images, "GalleryImages_ListByGallery"),
            (_IMAGE, self.get_image, "GalleryImages_Get"),
            (_VERSIONS, self.list_versions, "GalleryImageVersions_ListByGalleryImage"),
            (VERSION_PATH, self.get_version, "GalleryImageVersions_Get"),
        ]:
            router.add_get(path, handler, name=operation)

    def _gallery(self, request: web.Request) -> Gallery:
        self._settle()
        require_resource_group(self._groups, request)
        info = request.match_info
        gallery = self._state.catalog.gallery(
            info["subscription"], info["resource_group"], info["gallery"]
        )
        if gallery is None:
            raise _not_found("Microsoft.Compute/galleries", info["gallery"], info["resource_group"])
        return gallery

    def _image(self, request: web.Request) -> tuple[Gallery, GalleryImage]:
        gallery = self._gallery(request)
        image = gallery.image(request.match_info["image"])
        if image is None:
            name = f"{gallery.name}/images/{request.match_info['image']}"
            raise _not_found("Microsoft.Compute/galleries", name, gallery.resource_group)
        return gallery, image

    def _galleries(self, subscription: str, resource_group: str | None) -> list[Gallery]:
        return [
            g
            for g in self._state.catalog.galleries
            if g.subscription_id.lower() == subscription.lower()
            and (resource_group is None or g.resource_group.lower() == resource_group.lower())
        ]

    async def list_all(self, request: web.Request) -> web.Response:
        galleries = self._galleries(request.match_info["subscription"], None)
        return respond(page(request, [gallery_body(g) for g in galleries], self._page_size))

    async def list_in_group(self, request: web.Request) -> web.Response:
        require_resource_group(self._groups, request)
        info = request.match_info
        galleries = self._galleries(info["subscription"], info["resource_group"])
        return respond(page(request, [gallery_body(g) for g in galleries], self._page_size))

    async def get_gallery(self, request: web.Request) -> web.Response:
        return respond(gallery_body(self._gallery(request)))

    async def list_images(self, request: web.Request) -> web.Response:
        gallery = self._gallery(request)
        bodies = [image_body(gallery, image) for image in gallery.images]
        return respond(page(request, bodies, self._page_size))

    async def get_image(self, request: web.Request) -> web.Response:
        return respond(image_body(*self._image(request)))

    async def list_versions(self, request: web.Request) -> web.Response:
        gallery, image = self._image(request)
        bodies = [
            version_body(gallery, image, version, replication=False) for version in image.versions
        ]
        return respond(page(request, bodies, self._page_size))

    async def get_version(self, request: web.Request) -> web.Response:
        gallery, image = self._image(request)
        version = image.version(request.match_info["version"])
        if version is None:
            name = f"{gallery.name}/images/{image.name}/versions/{request.match_info['version']}"
            raise _not_found("Microsoft.Compute/galleries", name, gallery.resource_group)
        expand = (query(request, "$expand") or "").lower()
        body = version_body(gallery, image, version, replication=expand == "replicationstatus")
        return respond(body)
