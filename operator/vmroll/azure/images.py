"""Resolve what a pool asks for ("Canonical ubuntu latest", a gallery image at 1.2.3, a managed
image) into the exact image, version and purchase plan available in the pool's region.

"latest" is resolved here, once, and never sent to Azure: every VM of a revision is then created
from the same version, and a new version is a new revision that the planner rolls out. Marketplace
"latest" is asked of ARM the way the Azure CLI asks (`$top=1&$orderby=name desc`); gallery
"latest" follows the gallery rule of vmroll.plan.versions (highest Major.Minor.Patch among
versions replicated to the region and not excluded from latest). Anything missing in the region
raises `TerminalAzureError(ImageNotAvailable)` naming the image and the region.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.compute.models import GalleryImageVersion

from vmroll.azure.errors import TerminalAzureError, azure_errors
from vmroll.plan.ownership import captured_by
from vmroll.plan.reasons import Reason
from vmroll.plan.versions import (
    LATEST,
    GalleryRegion,
    GalleryVersion,
    is_latest,
    normalize_location,
    resolve_gallery_latest,
    usable_in,
)

_GALLERY_IMAGE_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute"
    r"/galleries/(?P<gallery>[^/]+)/images/(?P<image>[^/]+)$",
    re.IGNORECASE,
)
_MANAGED_IMAGE_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute"
    r"/images/(?P<image>[^/]+)$",
    re.IGNORECASE,
)


class AzureImageKind(StrEnum):
    """Where a resolved image comes from: the boundary's own counterpart of the API's
    `vmroll.api.image.ImageSourceKind`, same members and values (the boundary never imports the
    API models; a unit test keeps the two equal)."""

    MARKETPLACE = "Marketplace"
    GALLERY = "Gallery"
    MANAGED_IMAGE = "ManagedImage"


@dataclass(frozen=True)
class MarketplacePlan:
    """A marketplace image's plan: required on the VM, and the key of its terms. The boundary's
    hashable record of what the API's `vmroll.api.image.PurchasePlan` says
    (reconcile/spec_map.py maps one to the other)."""

    name: str
    publisher: str
    product: str


@dataclass(frozen=True)
class MarketplaceRef:
    """A marketplace image as the boundary takes it (reconcile/spec_map.py maps the API's
    `MarketplaceImage` to it)."""

    publisher: str
    offer: str
    sku: str
    version: str = LATEST
    plan: MarketplacePlan | None = None
    """Overrides the plan looked up from the image."""


@dataclass(frozen=True)
class GalleryRef:
    """A gallery image definition and version (mapped from the API's `GalleryImage`)."""

    image_id: str
    """The image definition: `/subscriptions/.../galleries/{g}/images/{i}`, without a version."""
    version: str = LATEST


@dataclass(frozen=True)
class ManagedImageRef:
    """A managed image (mapped from the API's `managedImageId`)."""

    image_id: str


ImageRef = MarketplaceRef | GalleryRef | ManagedImageRef


@dataclass(frozen=True)
class ResolvedImage:
    """An exact image: what VMs are created from, and what status reports."""

    source: AzureImageKind
    requested: str
    resolved_version: str | None
    """None for managed images, which have no versions."""
    image_id: str
    image_reference: Mapping[str, str] = field(hash=False)
    """The VM's `storageProfile.imageReference`, never with "latest" in it."""
    plan: MarketplacePlan | None = None
    captured_by: str | None = None
    """The ImageCapture (`<namespace>/<name>`) that created this gallery version, as its
    `vmroll.io_capture` tag says; None for any other image."""


def describe(ref: ImageRef) -> str:
    if isinstance(ref, MarketplaceRef):
        return f"{ref.publisher}:{ref.offer}:{ref.sku}:{ref.version}"
    if isinstance(ref, GalleryRef):
        return f"{ref.image_id} version {ref.version}"
    return ref.image_id


async def resolve_image(
    compute: ComputeManagementClient, subscription_id: str, location: str, ref: ImageRef
) -> ResolvedImage:
    """Resolve `ref` in `location` with the reads of one subscription."""
    if isinstance(ref, MarketplaceRef):
        return await _resolve_marketplace(compute, location, ref)
    if isinstance(ref, GalleryRef):
        return await _resolve_gallery(compute, subscription_id, location, ref)
    return await _resolve_managed(compute, subscription_id, location, ref)


def _not_available(ref: ImageRef, location: str, why: str) -> TerminalAzureError:
    return TerminalAzureError(
        Reason.IMAGE_NOT_AVAILABLE, f"image {describe(ref)} is not available in {location}: {why}"
    )


async def _resolve_marketplace(
    compute: ComputeManagementClient, location: str, ref: MarketplaceRef
) -> ResolvedImage:
    images = compute.virtual_machine_images
    version = ref.version
    action = f"resolve image {describe(ref)} in {location}"
    with azure_errors(action):
        try:
            if is_latest(version):
                newest = await images.list(
                    location, ref.publisher, ref.offer, ref.sku, top=1, orderby="name desc"
                )
                if not newest or not newest[0].name:
                    raise _not_available(ref, location, "no versions are published there")
                version = newest[0].name
            image = await images.get(location, ref.publisher, ref.offer, ref.sku, version)
        except ResourceNotFoundError as error:
            raise _not_available(ref, location, "Azure does not know it there") from error
    plan = ref.plan
    found = image.properties.plan if image.properties is not None else None
    if plan is None and found is not None and found.name and found.publisher and found.product:
        plan = MarketplacePlan(name=found.name, publisher=found.publisher, product=found.product)
    reference = {"publisher": ref.publisher, "offer": ref.offer, "sku": ref.sku, "version": version}
    return ResolvedImage(
        source=AzureImageKind.MARKETPLACE,
        requested=ref.version,
        resolved_version=version,
        image_id=image.id or "",
        image_reference=reference,
        plan=plan,
    )


async def _resolve_gallery(
    compute: ComputeManagementClient, subscription_id: str, location: str, ref: GalleryRef
) -> ResolvedImage:
    match = _GALLERY_IMAGE_ID.match(ref.image_id.rstrip("/"))
    if match is None:
        raise _not_available(ref, location, "not a gallery image definition id")
    if match["sub"].lower() != subscription_id.lower():
        raise _not_available(ref, location, "the gallery is in another subscription")
    versions = compute.gallery_image_versions
    with azure_errors(f"resolve image {describe(ref)} in {location}"):
        try:
            if is_latest(ref.version):
                listed = versions.list_by_gallery_image(
                    match["rg"], match["gallery"], match["image"]
                )
                every = {v.name or "": v async for v in listed}
                chosen = resolve_gallery_latest(
                    [to_gallery_version(v) for v in every.values()], location
                )
                found = every.get(chosen or "")
            else:
                found = await versions.get(
                    match["rg"], match["gallery"], match["image"], ref.version
                )
                chosen = ref.version if usable_in(to_gallery_version(found), location) else None
        except ResourceNotFoundError as error:
            raise _not_available(ref, location, "Azure does not know it") from error
    if chosen is None:
        raise _not_available(
            ref, location, "no version is replicated there (or all are excluded from latest)"
        )
    version_id = f"{ref.image_id.rstrip('/')}/versions/{chosen}"
    return ResolvedImage(
        source=AzureImageKind.GALLERY,
        requested=ref.version,
        resolved_version=chosen,
        image_id=version_id,
        image_reference={"id": version_id},
        captured_by=captured_by((found.tags if found is not None else None) or {}),
    )


def to_gallery_version(version: GalleryImageVersion) -> GalleryVersion:
    """What the gallery rule decides on. Azure lists the source region among the target
    regions; a version listing none is taken to live in its own location only.
    """
    props = version.properties
    profile = props.publishing_profile if props is not None else None
    listed = (profile.target_regions if profile is not None else None) or []
    regions = tuple(
        GalleryRegion(name=r.name or "", exclude_from_latest=bool(r.exclude_from_latest))
        for r in listed
    ) or (GalleryRegion(name=version.location or ""),)
    state = props.provisioning_state if props is not None else None
    return GalleryVersion(
        name=version.name or "",
        regions=regions,
        exclude_from_latest=bool(profile.exclude_from_latest) if profile is not None else False,
        provisioned=(state or "Succeeded") == "Succeeded",
    )


async def _resolve_managed(
    compute: ComputeManagementClient, subscription_id: str, location: str, ref: ManagedImageRef
) -> ResolvedImage:
    match = _MANAGED_IMAGE_ID.match(ref.image_id.rstrip("/"))
    if match is None:
        raise _not_available(ref, location, "not a managed image id")
    if match["sub"].lower() != subscription_id.lower():
        raise _not_available(ref, location, "the image is in another subscription")
    with azure_errors(f"resolve image {describe(ref)} in {location}"):
        try:
            image = await compute.images.get(match["rg"], match["image"])
        except ResourceNotFoundError as error:
            raise _not_available(ref, location, "Azure does not know it") from error
    if normalize_location(image.location or "") != normalize_location(location):
        raise _not_available(ref, location, f"it is in {image.location}")
    image_id = image.id or ref.image_id
    return ResolvedImage(
        source=AzureImageKind.MANAGED_IMAGE,
        requested=ref.image_id,
        resolved_version=None,
        image_id=image_id,
        image_reference={"id": image_id},
    )
