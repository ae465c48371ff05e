"""Managed images (Microsoft.Compute/images): one captured OS disk in one region, no versions.

A VM may use a managed image only in the image's own region; reads here let the operator check
the image before creating VMs from it.
"""

from __future__ import annotations

from aiohttp import web

from vmroll.emulator.arm_request import (
    COMPUTE,
    JSON,
    RESOURCE_GROUP,
    ResourceGroups,
    page,
    require_resource_group,
    respond,
)
from vmroll.emulator.arm_request import not_found as _not_found
from vmroll.emulator.images.entries import ManagedImage
from vmroll.emulator.images.state import ImageState

_IN_GROUP = RESOURCE_GROUP + "/providers/Microsoft.Compute/images"


def managed_image_id(image: ManagedImage) -> str:
    return (
        f"/subscriptions/{image.subscription_id}/resourceGroups/{image.resource_group}"
        f"/providers/Microsoft.Compute/images/{image.name}"
    )


def managed_image_body(image: ManagedImage) -> JSON:
    os_disk: JSON = {
        "osType": image.os_type,
        "osState": "Generalized",
        "managedDisk": {
            "id": (
                f"/subscriptions/{image.subscription_id}/resourceGroups/{image.resource_group}"
                f"/providers/Microsoft.Compute/disks/{image.name}-osdisk"
            )
        },
        "caching": "ReadWrite",
        "storageAccountType": "Premium_LRS",
        "diskSizeGB": image.os_disk_size_gb,
    }
    properties: JSON = {
        "storageProfile": {"osDisk": os_disk, "dataDisks": [], "zoneResilient": True},
        "provisioningState": "Succeeded",
        "hyperVGeneration": image.hyper_v_generation,
    }
    if image.source_virtual_machine_id is not None:
        properties["sourceVirtualMachine"] = {"id": image.source_virtual_machine_id}
    return {
        "id": managed_image_id(image),
        "name": image.name,
        "type": "Microsoft.Compute/images",
        "location": image.location,
        "properties": properties,
    }


class ManagedImageRoutes:
    """Images_Get, Images_ListByResourceGroup and Images_List."""

    def __init__(self, state: ImageState, page_size: int, groups: ResourceGroups) -> None:
        self._state = state
        self._page_size = page_size
        self._groups = groups

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get(COMPUTE + "/images", self.list_all, name="Images_List")
        router.add_get(_IN_GROUP, self.list_in_group, name="Images_ListByResourceGroup")
        router.add_get(_IN_GROUP + "/{image}", self.get, name="Images_Get")

    def _images(self, subscription: str, resource_group: str | None) -> list[JSON]:
        return [
            managed_image_body(i)
            for i in self._state.catalog.managed_images
            if i.subscription_id.lower() == subscription.lower()
            and (resource_group is None or i.resource_group.lower() == resource_group.lower())
        ]

    async def list_all(self, request: web.Request) -> web.Response:
        images = self._images(request.match_info["subscription"], None)
        return respond(page(request, images, self._page_size))

    async def list_in_group(self, request: web.Request) -> web.Response:
        require_resource_group(self._groups, request)
        info = request.match_info
        images = self._images(info["subscription"], info["resource_group"])
        return respond(page(request, images, self._page_size))

    async def get(self, request: web.Request) -> web.Response:
        require_resource_group(self._groups, request)
        info = request.match_info
        image = self._state.catalog.managed_image(
            info["subscription"], info["resource_group"], info["image"]
        )
        if image is None:
            raise _not_found("Microsoft.Compute/images", info["image"], info["resource_group"])
        return respond(managed_image_body(image))
