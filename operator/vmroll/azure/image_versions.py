"""The versions of a pool's image available in its region, with their publish dates: the facts
an ImagePolicy judges (how many versions behind, how old, which newer one complies).

One list per image: a marketplace SKU's versions (their build dates are in the version
strings), or a gallery image's versions usable in the region with their publishedDate. A
managed image has no versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.azure.errors import azure_errors
from vmroll.azure.images import GalleryRef, ImageRef, MarketplaceRef, describe
from vmroll.azure.images import to_gallery_version as gallery_version
from vmroll.plan.versions import usable_in


@dataclass(frozen=True)
class ImageVersionInfo:
    """One version available in the region; `published` when Azure says (galleries)."""

    version: str
    published: datetime | None = None


async def list_image_versions(
    compute: ComputeManagementClient, location: str, ref: ImageRef
) -> tuple[ImageVersionInfo, ...]:
    """Every version of `ref`'s image usable in `location`; none when Azure knows none."""
    with azure_errors(f"list the versions of image {describe(ref)} in {location}"):
        try:
            if isinstance(ref, MarketplaceRef):
                listed = await compute.virtual_machine_images.list(
                    location, ref.publisher, ref.offer, ref.sku
                )
                return tuple(ImageVersionInfo(item.name) for item in listed if item.name)
            if isinstance(ref, GalleryRef):
                return await _gallery_versions(compute, location, ref)
        except ResourceNotFoundError:
            return ()
    return ()


async def _gallery_versions(
    compute: ComputeManagementClient, location: str, ref: GalleryRef
) -> tuple[ImageVersionInfo, ...]:
    parts = ref.image_id.rstrip("/").split("/")
    resource_group, gallery, image = parts[4], parts[8], parts[10]
    found: list[ImageVersionInfo] = []
    listed = compute.gallery_image_versions.list_by_gallery_image(resource_group, gallery, image)
    async for version in listed:
        if not version.name or not usable_in(gallery_version(version), location):
            continue
        props = version.properties
        profile = props.publishing_profile if props is not None else None
        found.append(ImageVersionInfo(version.name, profile.published_date if profile else None))
    return tuple(found)
