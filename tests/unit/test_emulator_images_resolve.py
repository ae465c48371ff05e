"""What image a VM's imageReference resolves to, and Azure's error for each way it cannot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.catalog import ImageCatalog, default_image_catalog
from vmroll.emulator.images.resolve import ImageSource
from vmroll.emulator.images.service import ImageService

SUB = "00000000-0000-4000-8000-00000000a001"
GROUP = f"/subscriptions/{SUB}/resourceGroups/rg-vmroll/providers/Microsoft.Compute"
WEB = f"{GROUP}/galleries/vmrollGallery/images/ubuntu-web"
CANARY = f"{GROUP}/galleries/vmrollGallery/images/ubuntu-canary"
GOLDEN = f"{GROUP}/images/golden-ubuntu-2404"
RABBIT_PLAN = {"name": "rabbitmq", "product": "rabbitmq", "publisher": "bitnami"}
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def any_group(subscription_id: str, name: str) -> str:
    """These tests serve no route: every resource group exists."""
    return name


def _service() -> ImageService:
    return ImageService(default_image_catalog(), resource_groups=any_group, clock=lambda: NOW)


def _ubuntu(version: str, sku: str = "server") -> dict[str, Any]:
    return {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": sku, "version": version}


def _rabbit(version: str = "latest") -> dict[str, Any]:
    return {"publisher": "bitnami", "offer": "rabbitmq", "sku": "rabbitmq", "version": version}


@pytest.mark.parametrize(
    ("location", "reference", "exact"),
    [
        ("westeurope", _ubuntu("latest"), "24.04.202611100"),
        ("West Europe", _ubuntu("Latest"), "24.04.202611100"),
        ("eastus", _ubuntu("latest"), "24.04.202610220"),
        ("eastus", _ubuntu("24.04.202608110"), "24.04.202608110"),
        ("eastus", {**_ubuntu("latest"), "publisher": "canonical"}, "24.04.202610220"),
        ("westeurope", {"id": WEB}, "1.3.0"),
        ("eastus", {"id": WEB}, "1.1.0"),
        ("eastus", {"id": f"{WEB}/versions/latest"}, "1.1.0"),
        ("eastus", {"id": f"{WEB}/versions/1.2.0"}, "1.2.0"),
        ("westeurope", {"id": f"{WEB}/versions/1.3.0"}, "1.3.0"),
        ("westeurope", {"id": GOLDEN.lower()}, ""),
    ],
    ids=[
        "marketplace-latest-westeurope",
        "marketplace-latest-display-location",
        "marketplace-latest-eastus",
        "marketplace-pinned",
        "marketplace-case-insensitive",
        "gallery-latest-westeurope",
        "gallery-latest-eastus",
        "gallery-versions-latest",
        "gallery-pinned-excluded-from-latest",
        "gallery-pinned",
        "managed",
    ],
)
def test_resolves(location: str, reference: dict[str, Any], exact: str) -> None:
    resolved = _service().resolve_vm_image(SUB, location, reference, None)
    assert resolved.exact_version == exact
    expected_reference = {**reference, "exactVersion": exact} if exact else reference
    assert resolved.image_reference == expected_reference


def test_resolved_image_carries_what_the_vm_needs() -> None:
    service = _service()
    marketplace = service.resolve_vm_image(SUB, "eastus", _ubuntu("latest"), None)
    assert (marketplace.source, marketplace.os_type, marketplace.plan) == (
        ImageSource.MARKETPLACE,
        "Linux",
        None,
    )
    assert marketplace.image_id.endswith("/Skus/server/Versions/24.04.202610220")
    canary = service.resolve_vm_image(SUB, "eastus", {"id": f"{WEB}/versions/1.2.0"}, None)
    assert (canary.source, canary.boots_unhealthy) == (ImageSource.GALLERY, True)
    assert canary.image_id == f"{WEB}/versions/1.2.0"
    managed = service.resolve_vm_image(SUB, "westeurope", {"id": GOLDEN}, None)
    assert (managed.source, managed.boots_unhealthy, managed.image_id) == (
        ImageSource.MANAGED,
        False,
        GOLDEN,
    )


@pytest.mark.parametrize(
    ("location", "reference", "plan", "status", "code", "target", "message"),
    [
        (
            "eastus",
            _ubuntu("24.04.202611100"),
            None,
            404,
            "PlatformImageNotFound",
            "imageReference",
            "The platform image 'Canonical:ubuntu-24_04-lts:server:24.04.202611100' is not "
            "available. Verify that all fields in the storage profile are correct.",
        ),
        (
            "northeurope",
            _ubuntu("latest"),
            None,
            404,
            "PlatformImageNotFound",
            "imageReference",
            "'Canonical:ubuntu-24_04-lts:server:latest' is not available",
        ),
        (
            "eastus",
            _ubuntu("latest", sku="desktop"),
            None,
            404,
            "PlatformImageNotFound",
            "imageReference",
            "'Canonical:ubuntu-24_04-lts:desktop:latest'",
        ),
        (
            "eastus",
            _ubuntu("24.04"),
            None,
            400,
            "InvalidParameter",
            "imageReference.version",
            "The value of parameter imageReference.version is invalid.",
        ),
        (
            "eastus",
            {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "version": "latest"},
            None,
            400,
            "InvalidParameter",
            "imageReference.sku",
            "Required parameter 'imageReference.sku' is missing (null).",
        ),
        (
            "eastus",
            {"id": f"{WEB}/versions/1.3.0"},
            None,
            404,
            "GalleryImageNotFound",
            "imageReference",
            f"The gallery image {WEB}/versions/1.3.0 is not available in eastus region.",
        ),
        (
            "eastus",
            {"id": f"{WEB}/versions/7.0.0"},
            None,
            404,
            "GalleryImageNotFound",
            "imageReference",
            f"The gallery image {WEB}/versions/7.0.0 is not available",
        ),
        (
            "eastus",
            {"id": f"{GROUP}/galleries/vmrollGallery/images/nothing"},
            None,
            404,
            "GalleryImageNotFound",
            "imageReference",
            "images/nothing/versions/latest is not available in eastus region",
        ),
        (
            "eastus",
            {"id": CANARY},
            None,
            400,
            "InvalidParameter",
            "imageReference",
            f"In region eastus, the following list of Shared Image Gallery images referenced "
            f"from the deployment template were not found: {CANARY}/versions/latest. Please "
            "check that at least one image has been replicated to eastus or that the 'exclude "
            "from latest' flag is set to false.",
        ),
        (
            "eastus",
            {"id": GOLDEN},
            None,
            404,
            "NotFound",
            None,
            f"The Image '{GOLDEN}' cannot be found in 'eastus' region.",
        ),
        (
            "westeurope",
            {"id": f"{GROUP}/images/nothing"},
            None,
            404,
            "NotFound",
            None,
            "cannot be found in 'westeurope' region",
        ),
        (
            "westeurope",
            {"id": f"{GROUP}/disks/d"},
            None,
            400,
            "InvalidParameter",
            "imageReference.id",
            "The value of parameter imageReference.id is invalid.",
        ),
        (
            "westeurope",
            {"sharedGalleryImageId": "/SharedGalleries/x/Images/y/Versions/1.0.0"},
            None,
            400,
            "InvalidParameter",
            "imageReference.sharedGalleryImageId",
            "sharedGalleryImageId",
        ),
        (
            "eastus",
            _rabbit(),
            None,
            400,
            "VMMarketplaceInvalidInput",
            None,
            "Creating a virtual machine from Marketplace image or a custom image sourced from a "
            "Marketplace image requires Plan information in the request. VM: '/vm'.",
        ),
        (
            "eastus",
            _rabbit(),
            RABBIT_PLAN,
            400,
            "ResourcePurchaseValidationFailed",
            None,
            "User failed validation to purchase resources. Error message: 'You have not accepted "
            f"the legal terms on this subscription: '{SUB}' for this plan.",
        ),
        (
            "eastus",
            _rabbit(),
            {**RABBIT_PLAN, "name": "enterprise"},
            400,
            "ResourcePurchaseValidationFailed",
            None,
            "Offer with PublisherId: bitnami and OfferId: rabbitmq not found.",
        ),
        (
            "eastus",
            _ubuntu("latest"),
            RABBIT_PLAN,
            400,
            "InvalidParameter",
            "plan",
            "does not match the image's purchase plan (none)",
        ),
        (
            "eastus",
            _rabbit(),
            {"name": "rabbitmq", "product": "rabbitmq"},
            400,
            "InvalidParameter",
            "plan.publisher",
            "Required parameter 'plan.publisher' is missing (null).",
        ),
    ],
    ids=[
        "marketplace-version-not-in-region",
        "marketplace-region-without-image",
        "marketplace-unknown-sku",
        "marketplace-bad-version",
        "marketplace-missing-sku",
        "gallery-version-not-replicated-here",
        "gallery-unknown-version",
        "gallery-unknown-definition",
        "gallery-latest-none-eligible",
        "managed-other-region",
        "managed-unknown",
        "id-of-something-else",
        "shared-gallery",
        "plan-image-without-plan",
        "terms-not-accepted",
        "unknown-plan",
        "plan-for-free-image",
        "plan-incomplete",
    ],
)
def test_refuses_as_azure_does(
    location: str,
    reference: dict[str, Any],
    plan: dict[str, Any] | None,
    status: int,
    code: str,
    target: str | None,
    message: str,
) -> None:
    with pytest.raises(ArmError) as caught:
        _service().resolve_vm_image(SUB, location, reference, plan, vm_id="/vm")
    error = caught.value
    assert (error.status, error.code, error.target) == (status, code, target)
    assert message in error.message


HARDENED = f"{GROUP}/galleries/vmrollGallery/images/rabbitmq-hardened"


def _accept_rabbit_terms(service: ImageService) -> None:
    service.restore(
        {
            "agreements": [
                {
                    "subscriptionId": SUB,
                    "publisher": "bitnami",
                    "product": "rabbitmq",
                    "plan": "rabbitmq",
                    "accepted": True,
                    "changedAt": NOW.isoformat(),
                }
            ]
        }
    )


@pytest.mark.parametrize(
    ("plan", "accepted", "code"),
    [
        (None, True, "VMMarketplaceInvalidInput"),
        (RABBIT_PLAN, False, "ResourcePurchaseValidationFailed"),
        (RABBIT_PLAN, True, None),
    ],
    ids=["no-plan", "terms-not-accepted", "plan-and-terms"],
)
def test_gallery_image_built_from_a_paid_image_needs_plan_and_terms(
    plan: dict[str, str] | None, accepted: bool, code: str | None
) -> None:
    service = _service()
    if accepted:
        _accept_rabbit_terms(service)
    if code is None:
        resolved = service.resolve_vm_image(SUB, "eastus", {"id": HARDENED}, plan)
        assert (resolved.exact_version, resolved.plan) == ("4.0.18", RABBIT_PLAN)
    else:
        with pytest.raises(ArmError) as caught:
            service.resolve_vm_image(SUB, "eastus", {"id": HARDENED}, plan)
        assert (caught.value.status, caught.value.code) == (400, code)


def test_terms_accepted_in_one_subscription_only_let_that_one_use_the_plan() -> None:
    service = _service()
    _accept_rabbit_terms(service)
    resolved = service.resolve_vm_image(SUB, "eastus", _rabbit(), RABBIT_PLAN)
    assert (resolved.exact_version, resolved.plan) == ("4.0.18", RABBIT_PLAN)
    with pytest.raises(ArmError, match="not accepted the legal terms"):
        service.resolve_vm_image("another-subscription", "eastus", _rabbit(), RABBIT_PLAN)


def test_a_deprecated_version_is_refused_and_never_latest() -> None:
    catalog = ImageCatalog.model_validate(
        {
            "marketplace": [
                {
                    "publisher": "p",
                    "offer": "o",
                    "sku": "s",
                    "versions": [
                        {"version": "1.0.0", "locations": ["eastus"]},
                        {
                            "version": "1.1.0",
                            "locations": ["eastus"],
                            "deprecation": {"imageState": "Deprecated"},
                        },
                    ],
                }
            ]
        }
    )
    service = ImageService(catalog, resource_groups=any_group)
    reference = {"publisher": "p", "offer": "o", "sku": "s"}

    latest = service.resolve_vm_image(SUB, "eastus", {**reference, "version": "latest"}, None)
    with pytest.raises(ArmError) as caught:
        service.resolve_vm_image(SUB, "eastus", {**reference, "version": "1.1.0"}, None)

    assert latest.exact_version == "1.0.0"
    assert (caught.value.status, caught.value.code, caught.value.target) == (
        404,
        "ImageVersionDeprecated",
        "imageReference",
    )
    assert caught.value.message == "The platform image 'p:o:s:1.1.0' is deprecated."
