"""Image helpers that need no server: version order, regions, the gallery "latest" rule."""

from __future__ import annotations

from typing import Any

import pytest
from azure.mgmt.compute.models import GalleryImageVersion

from vmroll.azure.images import (
    eligible_for_latest,
    normalize_location,
    usable_in,
    version_key,
)


def gallery_version(
    name: str,
    regions: list[dict[str, Any]],
    *,
    exclude: bool = False,
    state: str = "Succeeded",
    location: str = "westeurope",
) -> GalleryImageVersion:
    return GalleryImageVersion(
        {
            "name": name,
            "location": location,
            "properties": {
                "provisioningState": state,
                "publishingProfile": {"excludeFromLatest": exclude, "targetRegions": regions},
            },
        }
    )


WEU = {"name": "West Europe"}


def test_versions_order_numerically_per_component() -> None:
    versions = ["1.0.9", "1.0.18", "22.04.202403080", "22.04.202405010", "1.10.0"]
    assert sorted(versions, key=version_key) == [
        "1.0.9",
        "1.0.18",
        "1.10.0",
        "22.04.202403080",
        "22.04.202405010",
    ]


def test_location_spelling() -> None:
    assert normalize_location("West Europe") == normalize_location("westeurope")


@pytest.mark.parametrize(
    ("version", "eligible"),
    [
        pytest.param(gallery_version("1.0.0", [WEU]), True, id="replicated"),
        pytest.param(gallery_version("1.0.0", [{"name": "eastus"}]), False, id="not-replicated"),
        pytest.param(gallery_version("1.0.0", [WEU], exclude=True), False, id="excluded"),
        pytest.param(
            gallery_version("1.0.0", [{"name": "westeurope", "excludeFromLatest": True}]),
            False,
            id="excluded-in-region",
        ),
        pytest.param(
            gallery_version(
                "1.0.0", [{"name": "westeurope"}, {"name": "eastus", "excludeFromLatest": True}]
            ),
            True,
            id="excluded-elsewhere",
        ),
        pytest.param(gallery_version("1.0.0", [WEU], state="Creating"), False, id="creating"),
        pytest.param(gallery_version("1.0.0", []), True, id="source-region-only"),
    ],
)
def test_gallery_latest_rule(version: GalleryImageVersion, eligible: bool) -> None:
    assert eligible_for_latest(version, "westeurope") is eligible


def test_a_pinned_version_ignores_exclude_from_latest() -> None:
    assert usable_in(gallery_version("1.0.0", [WEU], exclude=True), "westeurope")
