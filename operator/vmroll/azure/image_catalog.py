"""Browse what a subscription can deploy in a region: the reads behind `kubectl vmroll images`.

Marketplace levels (publishers, offers, skus, versions) are listed the way `az vm image list
--all` lists them, one region at a time; the newest version is asked of ARM exactly as the
operator resolves `latest` (images.py: `$top=1&$orderby=name desc`), so what is marked newest here
is what a pool following latest would get. Gallery versions carry their target regions, so the
caller can apply the operator's own gallery rule (vmroll.plan.versions) per region.

Every read is classified at this boundary (errors.py): a 401/403 becomes `AzureAccessError`, an
unknown region or image `TerminalAzureError`, each naming what was being read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.compute.models import GalleryImage

from vmroll.azure.errors import azure_errors
from vmroll.azure.images import MarketplacePlan, to_gallery_version
from vmroll.plan.versions import GalleryVersion


@dataclass(frozen=True)
class GalleryVersionInfo:
    """A gallery image version as listed: the gallery rule's view, and its end of life."""

    version: GalleryVersion
    end_of_life: datetime | None
    published: datetime | None = None


@dataclass(frozen=True)
class GalleryImageInfo:
    """A gallery image definition: its name, identity, plan and end of life."""

    name: str
    image_id: str
    publisher: str
    offer: str
    sku: str
    plan: MarketplacePlan | None
    end_of_life: datetime | None


async def list_publishers(compute: ComputeManagementClient, location: str) -> list[str]:
    with azure_errors(f"list image publishers in {location}"):
        found = await compute.virtual_machine_images.list_publishers(location)
    return [item.name for item in found if item.name]


async def list_offers(compute: ComputeManagementClient, location: str, publisher: str) -> list[str]:
    with azure_errors(f"list offers of publisher {publisher} in {location}"):
        found = await compute.virtual_machine_images.list_offers(location, publisher)
    return [item.name for item in found if item.name]


async def list_skus(
    compute: ComputeManagementClient, location: str, publisher: str, offer: str
) -> list[str]:
    with azure_errors(f"list skus of {publisher}:{offer} in {location}"):
        found = await compute.virtual_machine_images.list_skus(location, publisher, offer)
    return [item.name for item in found if item.name]


async def list_versions(
    compute: ComputeManagementClient, location: str, publisher: str, offer: str, sku: str
) -> list[str]:
    with azure_errors(f"list versions of {publisher}:{offer}:{sku} in {location}"):
        found = await compute.virtual_machine_images.list(location, publisher, offer, sku)
    return [item.name for item in found if item.name]


async def newest_marketplace_version(
    compute: ComputeManagementClient, location: str, publisher: str, offer: str, sku: str
) -> str | None:
    """What `latest` resolves to, asked as the operator asks it."""
    with azure_errors(f"find the newest version of {publisher}:{offer}:{sku} in {location}"):
        newest = await compute.virtual_machine_images.list(
            location, publisher, offer, sku, top=1, orderby="name desc"
        )
    return newest[0].name if newest and newest[0].name else None


async def marketplace_plan(
    compute: ComputeManagementClient,
    location: str,
    publisher: str,
    offer: str,
    sku: str,
    version: str,
) -> MarketplacePlan | None:
    """The purchase plan a VM from this version must carry, or None for a free image."""
    with azure_errors(f"read image {publisher}:{offer}:{sku}:{version} in {location}"):
        image = await compute.virtual_machine_images.get(location, publisher, offer, sku, version)
    found = image.properties.plan if image.properties is not None else None
    if found is None or not (found.name and found.publisher and found.product):
        return None
    return MarketplacePlan(name=found.name, publisher=found.publisher, product=found.product)


async def list_gallery_images(
    compute: ComputeManagementClient, resource_group: str, gallery: str
) -> list[GalleryImageInfo]:
    with azure_errors(f"list the image definitions of gallery {resource_group}/{gallery}"):
        return [_image_info(image) async for image in
                compute.gallery_images.list_by_gallery(resource_group, gallery)]  # fmt: skip


async def list_gallery_versions(
    compute: ComputeManagementClient, resource_group: str, gallery: str, image: str
) -> list[GalleryVersionInfo]:
    listed = compute.gallery_image_versions.list_by_gallery_image(resource_group, gallery, image)
    found: list[GalleryVersionInfo] = []
    with azure_errors(f"list the versions of gallery image {resource_group}/{gallery}/{image}"):
        async for version in listed:
            props = version.properties
            profile = props.publishing_profile if props is not None else None
            end = profile.end_of_life_date if profile is not None else None
            published = profile.published_date if profile is not None else None
            found.append(GalleryVersionInfo(to_gallery_version(version), end, published))
    return found


def _image_info(image: GalleryImage) -> GalleryImageInfo:
    props = image.properties
    identifier = props.identifier if props is not None else None
    plan = props.purchase_plan if props is not None else None
    return GalleryImageInfo(
        name=image.name or "",
        image_id=image.id or "",
        publisher=(identifier.publisher if identifier is not None else None) or "",
        offer=(identifier.offer if identifier is not None else None) or "",
        sku=(identifier.sku if identifier is not None else None) or "",
        plan=(
            MarketplacePlan(
                name=plan.name, publisher=plan.publisher or "", product=plan.product or ""
            )
            if plan is not None and plan.name
            else None
        ),
        end_of_life=props.end_of_life_date if props is not None else None,
    )
