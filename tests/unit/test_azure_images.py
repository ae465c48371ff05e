"""Gallery versions as the SDK lists them, read into what the gallery "latest" rule decides on."""

from __future__ import annotations

from typing import Any

import pytest
from azure.mgmt.compute.models import GalleryImageVersion

from vmroll.api import image as api_image
from vmroll.azure import images
from vmroll.azure.images import (
    GalleryRef,
    ImageRef,
    MarketplaceRef,
    describe,
    to_gallery_version,
)
from vmroll.plan.versions import GalleryRegion, GalleryVersion, eligible_for_latest


def listed(
    regions: list[dict[str, Any]] | None,
    *,
    exclude: bool | None = None,
    state: str | None = "Succeeded",
) -> GalleryImageVersion:
    profile: dict[str, Any] = {}
    if regions is not None:
        profile["targetRegions"] = regions
    if exclude is not None:
        profile["excludeFromLatest"] = exclude
    properties: dict[str, Any] = {"publishingProfile": profile}
    if state is not None:
        properties["provisioningState"] = state
    return GalleryImageVersion(
        {"name": "1.2.0", "location": "westeurope", "properties": properties}
    )


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param(
            listed([{"name": "West Europe"}, {"name": "eastus", "excludeFromLatest": True}]),
            GalleryVersion(
                "1.2.0",
                (GalleryRegion("West Europe"), GalleryRegion("eastus", exclude_from_latest=True)),
            ),
            id="regions",
        ),
        pytest.param(
            listed([{"name": "eastus"}], exclude=True),
            GalleryVersion("1.2.0", (GalleryRegion("eastus"),), exclude_from_latest=True),
            id="excluded",
        ),
        pytest.param(
            listed([{"name": "eastus"}], state="Creating"),
            GalleryVersion("1.2.0", (GalleryRegion("eastus"),), provisioned=False),
            id="creating",
        ),
        pytest.param(
            listed(None, state=None),
            GalleryVersion("1.2.0", (GalleryRegion("westeurope"),)),
            id="no-target-regions-means-own-location",
        ),
    ],
)
def test_listed_version_read_for_the_gallery_rule(
    version: GalleryImageVersion, expected: GalleryVersion
) -> None:
    assert to_gallery_version(version) == expected


def test_region_spelling_does_not_matter_to_the_rule() -> None:
    version = to_gallery_version(listed([{"name": "West Europe"}]))
    assert eligible_for_latest(version, "westeurope")


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        (
            MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server"),
            "Canonical:ubuntu-24_04-lts:server:latest",
        ),
        (GalleryRef("/g/images/web", "1.2.0"), "/g/images/web version 1.2.0"),
    ],
)
def test_images_are_named_as_azure_names_them(ref: ImageRef, text: str) -> None:
    assert describe(ref) == text


def test_the_boundary_names_image_sources_as_the_api_does() -> None:
    """azure.images.AzureImageKind is the boundary's counterpart of the API's ImageSourceKind;
    they must agree."""
    assert [(k.name, k.value) for k in images.AzureImageKind] == [
        (k.name, k.value) for k in api_image.ImageSourceKind
    ]
