"""Which image a VM's `storageProfile.imageReference` names, or the error Azure answers instead.

The emulator's VM create and reimage ask here, so a VM gets exactly the version the image routes
advertise: marketplace `latest` is the numerically newest version offered in the VM's region
(a deprecated version is refused, and never `latest`);
gallery `latest` (an image id without `/versions/...`) is the newest version not excluded from
latest and replicated to that region; a managed image must be in the VM's region. Paid images
need the request's purchase plan and, for plans with terms, the subscription's acceptance.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from vmroll.emulator.arm_request import required_parameter
from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.entries import GalleryImageVersion, PurchasePlan
from vmroll.emulator.images.marketplace import version_id
from vmroll.emulator.images.purchase import check_purchase
from vmroll.emulator.images.regions import normalize_location
from vmroll.emulator.images.state import ImageState
from vmroll.emulator.images.versions import (
    GalleryCandidate,
    is_latest,
    newest,
    parse_version,
    select_gallery_latest,
)

_PROVIDER = (
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute"
)
_MANAGED_ID = re.compile(_PROVIDER + r"/images/(?P<name>[^/]+)/?$", re.IGNORECASE)
_GALLERY_ID = re.compile(
    _PROVIDER + r"/galleries/(?P<gallery>[^/]+)/images/(?P<image>[^/]+)"
    r"(?:/versions/(?P<version>[^/]+))?/?$",
    re.IGNORECASE,
)


class ImageSource(enum.Enum):
    MARKETPLACE = "marketplace"
    GALLERY = "gallery"
    MANAGED = "managed"


@dataclass(frozen=True)
class ResolvedImage:
    """The image a VM boots, as the VM reports and behaves.

    `image_reference` is what the VM's storageProfile.imageReference answers: the request's
    fields plus `exactVersion`. `exact_version` is empty for managed images, which have none.
    """

    source: ImageSource
    exact_version: str
    image_reference: dict[str, Any]
    image_id: str
    boots_unhealthy: bool
    os_type: str
    hyper_v_generation: str
    os_disk_size_gb: int
    plan: dict[str, str] | None


def resolve_vm_image(
    state: ImageState,
    subscription_id: str,
    location: str,
    image_reference: dict[str, Any],
    plan: dict[str, Any] | None,
    vm_id: str | None = None,
) -> ResolvedImage:
    reference = {k: v for k, v in image_reference.items() if v is not None}
    region = normalize_location(location)
    for unsupported in ("sharedGalleryImageId", "communityGalleryImageId"):
        if unsupported in reference:
            raise ArmError(
                400,
                "InvalidParameter",
                f"The emulator does not serve {unsupported} images; use a gallery image id.",
                target=f"imageReference.{unsupported}",
            )
    if "id" in reference:
        image_id = str(reference["id"])
        if (match := _MANAGED_ID.match(image_id)) is not None:
            return _managed(state, region, image_id, match)
        if (match := _GALLERY_ID.match(image_id)) is not None:
            resolved = _gallery(state, region, image_id, match)
            sold = PurchasePlan.model_validate(resolved.plan) if resolved.plan else None
            check_purchase(state, subscription_id, sold, plan, vm_id)
            return resolved
        raise ArmError(
            400,
            "InvalidParameter",
            "The value of parameter imageReference.id is invalid.",
            target="imageReference.id",
        )
    return _marketplace(state, subscription_id, region, reference, plan, vm_id)


def _managed(state: ImageState, region: str, image_id: str, match: re.Match[str]) -> ResolvedImage:
    image = state.catalog.managed_image(match["sub"], match["rg"], match["name"])
    if image is None or image.location != region:
        raise ArmError(
            404, "NotFound", f"The Image '{image_id}' cannot be found in '{region}' region."
        )
    return ResolvedImage(
        source=ImageSource.MANAGED,
        exact_version="",
        image_reference={"id": image_id},
        image_id=image_id,
        boots_unhealthy=image.boots_unhealthy,
        os_type=image.os_type,
        hyper_v_generation=image.hyper_v_generation,
        os_disk_size_gb=image.os_disk_size_gb,
        plan=None,
    )


def _gallery(state: ImageState, region: str, image_id: str, match: re.Match[str]) -> ResolvedImage:
    gallery = state.catalog.gallery(match["sub"], match["rg"], match["gallery"])
    image = gallery.image(match["image"]) if gallery is not None else None
    requested = match["version"]
    definition_id = image_id[: match.end("image")]

    def not_available(version_id: str) -> ArmError:
        return ArmError(
            404,
            "GalleryImageNotFound",
            f"The gallery image {version_id} is not available in {region} region. Please "
            "contact image owner to replicate to this region, or change your requested region.",
            target="imageReference",
        )

    if gallery is None or image is None:
        raise not_available(f"{definition_id}/versions/{requested or 'latest'}")
    if requested is None or is_latest(requested):
        candidates = [
            GalleryCandidate(
                name=v.name,
                exclude_from_latest=v.exclude_from_latest,
                replicated_regions=frozenset(
                    r.name for r in v.target_regions if r.state == "Completed"
                ),
                regions_excluded_from_latest=frozenset(
                    r.name for r in v.target_regions if r.exclude_from_latest
                ),
            )
            for v in image.versions
        ]
        name = select_gallery_latest(candidates, region)
        if name is None:
            raise ArmError(
                400,
                "InvalidParameter",
                f"In region {region}, the following list of Shared Image Gallery images "
                f"referenced from the deployment template were not found: {definition_id}"
                f"/versions/latest. Please check that at least one image has been replicated to "
                f"{region} or that the 'exclude from latest' flag is set to false.",
                target="imageReference",
            )
        chosen = _version(image.versions, name)
    else:
        found = image.version(requested)
        if found is None or not found.replicated_to(region):
            raise not_available(image_id)
        chosen = found
    return ResolvedImage(
        source=ImageSource.GALLERY,
        exact_version=chosen.name,
        image_reference={"id": image_id, "exactVersion": chosen.name},
        image_id=f"{definition_id}/versions/{chosen.name}",
        boots_unhealthy=chosen.boots_unhealthy,
        os_type=image.os_type,
        hyper_v_generation=image.hyper_v_generation,
        os_disk_size_gb=chosen.os_disk_size_gb,
        plan=None if image.purchase_plan is None else image.purchase_plan.model_dump(),
    )


def _version(versions: list[GalleryImageVersion], name: str) -> GalleryImageVersion:
    return next(v for v in versions if v.name == name)


def _marketplace(
    state: ImageState,
    subscription_id: str,
    region: str,
    reference: dict[str, Any],
    plan: dict[str, Any] | None,
    vm_id: str | None,
) -> ResolvedImage:
    publisher, offer, sku, version = (
        required_parameter(reference, "imageReference", f)
        for f in ("publisher", "offer", "sku", "version")
    )
    if not is_latest(version) and parse_version(version) is None:
        raise ArmError(
            400,
            "InvalidParameter",
            "The value of parameter imageReference.version is invalid.",
            target="imageReference.version",
        )
    image = state.catalog.marketplace_image(publisher, offer, sku)
    offered = [] if image is None else [v for v in image.versions if region in v.locations]
    if is_latest(version):
        chosen = newest(v.version for v in offered if v.deprecation.image_state != "Deprecated")
    else:
        chosen = version if version in [v.version for v in offered] else None
    if image is None or chosen is None:
        raise ArmError(
            404,
            "PlatformImageNotFound",
            f"The platform image '{publisher}:{offer}:{sku}:{version}' is not available. Verify "
            "that all fields in the storage profile are correct. For more details about storage "
            "profile information, please refer to https://aka.ms/storageprofile",
            target="imageReference",
        )
    check_purchase(state, subscription_id, image.plan, plan, vm_id)
    details = next(v for v in image.versions if v.version == chosen)
    if details.deprecation.image_state == "Deprecated":
        raise ArmError(
            404,
            "ImageVersionDeprecated",
            f"The platform image '{image.urn(chosen)}' is deprecated.",
            target="imageReference",
        )
    return ResolvedImage(
        source=ImageSource.MARKETPLACE,
        exact_version=chosen,
        image_reference={**reference, "exactVersion": chosen},
        image_id=version_id(subscription_id, region, image, chosen),
        boots_unhealthy=details.boots_unhealthy,
        os_type=image.os_type,
        hyper_v_generation=image.hyper_v_generation,
        os_disk_size_gb=details.os_disk_size_gb,
        plan=None if image.plan is None else image.plan.model_dump(),
    )
