"""Where a pool's OS image comes from: a marketplace image, a gallery image or a managed image.

Exactly one source is set; the rule lives both here (Python) and in the CRD (CEL), so that the
API server refuses an ambiguous pool before vmroll ever sees it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from vmroll.api.base import ApiModel, cel, validations

LATEST = "latest"
VERSION_PATTERN = r"^(latest|[0-9]+\.[0-9]+\.[0-9]+)$"
MAX_VERSION_PART = 2**31 - 1
"""Azure stores each part of Major.Minor.Build as a 32-bit signed integer."""
SUBSCRIPTION_SEGMENT = r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
ARM_NAME_SEGMENT = r"[^/\s]+"
"""A resource ID's name segment: Azure names never hold a slash or whitespace."""
ARM_PREFIX = (
    rf"(?i)^/subscriptions/{SUBSCRIPTION_SEGMENT}/resourceGroups/{ARM_NAME_SEGMENT}/providers/"
)
GALLERY_IMAGE_ID_PATTERN = (
    ARM_PREFIX + rf"Microsoft\.Compute/galleries/{ARM_NAME_SEGMENT}/images/{ARM_NAME_SEGMENT}$"
)
MANAGED_IMAGE_ID_PATTERN = ARM_PREFIX + rf"Microsoft\.Compute/images/{ARM_NAME_SEGMENT}$"
_IMAGE_NAME_PATTERN = r"^[A-Za-z0-9][-A-Za-z0-9_.]*$"


def check_version_range(text: str) -> str:
    """What the schema's pattern cannot say: each number fits Azure's 32-bit range."""
    if text != LATEST and any(int(part) > MAX_VERSION_PART for part in text.split(".")):
        raise ValueError(
            f"version {text!r}: each of Major.Minor.Build must be at most {MAX_VERSION_PART}"
        )
    return text


ImageVersionText = Annotated[
    str,
    Field(
        max_length=64,
        pattern=VERSION_PATTERN,
        description=(
            "Version to run: `latest` (the newest available, per updatePolicy.track) or "
            "Major.Minor.Build in decimal numbers, such as 22.04.202405140."
        ),
    ),
    AfterValidator(check_version_range),
]
ImageNamePart = Annotated[str, Field(min_length=1, max_length=128, pattern=_IMAGE_NAME_PATTERN)]


class ImageSourceKind(StrEnum):
    """Which of the three image sources a pool uses."""

    MARKETPLACE = "Marketplace"
    GALLERY = "Gallery"
    MANAGED_IMAGE = "ManagedImage"


class MarketplaceImage(ApiModel):
    """A platform or marketplace image, named by publisher, offer and SKU."""

    publisher: ImageNamePart = Field(description="Image publisher, such as Canonical.")
    offer: ImageNamePart = Field(description="Image offer, such as ubuntu-24_04-lts.")
    sku: ImageNamePart = Field(description="Image SKU, such as server.")
    version: ImageVersionText = LATEST


class GalleryImage(ApiModel):
    """An image definition in an Azure Compute Gallery."""

    image_id: str = Field(
        max_length=1024,
        pattern=GALLERY_IMAGE_ID_PATTERN,
        description=(
            "Resource ID of the gallery image definition, without /versions: "
            "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{g}"
            "/images/{image}."
        ),
    )
    version: ImageVersionText = LATEST


class PurchasePlan(ApiModel):
    """The marketplace purchase plan of a paid image."""

    name: str = Field(min_length=1, max_length=256, description="Plan ID.")
    product: str = Field(
        min_length=1, max_length=256, description="Product: the same value as the image offer."
    )
    publisher: str = Field(min_length=1, max_length=256, description="Publisher of the plan.")


class ImageSource(ApiModel):
    """The OS image of every VM in the pool. Set exactly one of marketplace, gallery or
    managedImageId."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "[has(self.marketplace), has(self.gallery), has(self.managedImageId)]"
                ".filter(x, x).size() == 1",
                "set exactly one of marketplace, gallery or managedImageId",
            )
        )
    )

    marketplace: MarketplaceImage | None = Field(
        default=None, description="A marketplace image: publisher, offer, sku and version."
    )
    gallery: GalleryImage | None = Field(
        default=None, description="An Azure Compute Gallery image definition and version."
    )
    managed_image_id: str | None = Field(
        default=None,
        max_length=1024,
        pattern=MANAGED_IMAGE_ID_PATTERN,
        description=(
            "Resource ID of a managed image: /subscriptions/{s}/resourceGroups/{rg}/providers/"
            "Microsoft.Compute/images/{name}. Managed images have no versions."
        ),
    )
    plan: PurchasePlan | None = Field(
        default=None,
        description="Purchase plan of a paid image; looked up from the image when omitted.",
    )
    accept_terms: bool = Field(
        default=False,
        description=(
            "Accept the marketplace terms of a paid image on the subscription. Without it a "
            "paid image whose terms are not accepted stalls the pool with TermsNotAccepted."
        ),
    )

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ImageSource:
        chosen = [s for s in (self.marketplace, self.gallery, self.managed_image_id) if s]
        if len(chosen) != 1:
            raise ValueError("set exactly one of marketplace, gallery or managedImageId")
        return self

    @property
    def kind(self) -> ImageSourceKind:
        """Which source is set."""
        if self.marketplace is not None:
            return ImageSourceKind.MARKETPLACE
        if self.gallery is not None:
            return ImageSourceKind.GALLERY
        return ImageSourceKind.MANAGED_IMAGE

    @property
    def requested_version(self) -> str | None:
        """The version the spec asks for (`latest` or a number); None for a managed image."""
        if self.marketplace is not None:
            return self.marketplace.version
        if self.gallery is not None:
            return self.gallery.version
        return None
