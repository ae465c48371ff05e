"""The images catalog: the shipped default, what a bad catalog is refused for, derived catalogs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from vmroll.emulator.images.catalog import ImageCatalog, default_image_catalog
from vmroll.emulator.images.entries import (
    GalleryImageVersion,
    MarketplaceImage,
    MarketplaceVersion,
    TargetRegion,
)


def test_default_catalog_sets_up_the_documented_scenarios() -> None:
    catalog = default_image_catalog()
    ubuntu = catalog.marketplace_image("canonical", "UBUNTU-24_04-LTS", "server")
    assert ubuntu is not None
    only_westeurope = [v.version for v in ubuntu.versions if v.locations == ["westeurope"]]
    assert only_westeurope == ["24.04.202611100"]
    paid = [i for i in catalog.marketplace if i.plan is not None]
    assert paid
    assert all(catalog.terms(i.plan.publisher, i.plan.product, i.plan.name) for i in paid if i.plan)
    assert not any(t.accepted_in for t in catalog.marketplace_terms)
    gallery = catalog.gallery("00000000-0000-4000-8000-00000000A001", "RG-VMROLL", "vmrollgallery")
    assert gallery is not None
    web = gallery.image("ubuntu-web")
    assert web is not None
    assert [v.name for v in web.versions if v.exclude_from_latest] == ["1.2.0"]
    assert [v.name for v in web.versions if not v.replicated_to("eastus")] == ["1.3.0"]
    assert catalog.managed_images


def _catalog(**sections: Any) -> ImageCatalog:
    return ImageCatalog.model_validate(sections)


_SKU = {"publisher": "P", "offer": "O", "sku": "S"}


@pytest.mark.parametrize(
    ("sections", "complaint"),
    [
        (
            {"marketplace": [{**_SKU, "versions": [{"version": "1.0", "locations": ["x"]}]}]},
            r"Major\.Minor\.Build",
        ),
        ({"marketplace": [_SKU, {**_SKU, "publisher": "p"}]}, "declared twice"),
        (
            {
                "marketplace": [
                    {
                        **_SKU,
                        "versions": [
                            {"version": "1.0.0", "locations": ["x"]},
                            {"version": "1.0.0", "locations": ["y"]},
                        ],
                    }
                ]
            },
            "declared twice",
        ),
        ({"marketplace": [{**_SKU, "versions": [{"version": "1.0.0"}]}]}, "locations"),
        ({"marketplace": [{**_SKU, "osType": "Plan9"}]}, "osType"),
        ({"marketplace": [{**_SKU, "colour": "blue"}]}, "colour"),
        (
            {
                "galleries": [
                    {
                        "subscriptionId": "s",
                        "resourceGroup": "rg",
                        "name": "g",
                        "location": "westeurope",
                        "images": [
                            {
                                "name": "i",
                                "publisher": "p",
                                "offer": "o",
                                "sku": "s",
                                "versions": [{"name": "1.0.0", "targetRegions": []}],
                            }
                        ],
                    }
                ]
            },
            "targetRegions",
        ),
        (
            {
                "marketplaceTerms": [
                    {"publisher": "p", "product": "o", "plan": "x"},
                    {"publisher": "P", "product": "O", "plan": "X"},
                ]
            },
            "declared twice",
        ),
    ],
    ids=[
        "two-part-version",
        "duplicate-sku",
        "duplicate-version",
        "version-without-locations",
        "unknown-os",
        "unknown-key",
        "gallery-version-nowhere",
        "duplicate-terms",
    ],
)
def test_bad_catalogs_are_refused_with_the_reason(sections: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        _catalog(**sections)


def test_locations_and_target_regions_are_normalized() -> None:
    catalog = _catalog(
        marketplace=[{**_SKU, "versions": [{"version": "1.0.0", "locations": ["West Europe"]}]}],
        galleries=[
            {
                "subscriptionId": "s",
                "resourceGroup": "rg",
                "name": "g",
                "location": "East US",
                "images": [
                    {
                        "name": "i",
                        "publisher": "p",
                        "offer": "o",
                        "sku": "s",
                        "versions": [
                            {
                                "name": "1.0.0",
                                "targetRegions": [
                                    "West Europe",
                                    {"name": "East US", "state": "Replicating"},
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
    )
    assert catalog.marketplace[0].versions[0].locations == ["westeurope"]
    gallery = catalog.galleries[0]
    version = gallery.images[0].versions[0]
    assert gallery.location == "eastus"
    assert (version.replicated_to("westeurope"), version.replicated_to("eastus")) == (True, False)


def test_with_marketplace_version_adds_to_existing_or_new_sku_and_leaves_original() -> None:
    original = _catalog(
        marketplace=[{**_SKU, "versions": [{"version": "1.0.0", "locations": ["eastus"]}]}]
    )
    added = MarketplaceVersion(version="1.0.1", locations=["eastus"])
    existing = original.with_marketplace_version(
        MarketplaceImage(publisher="p", offer="o", sku="s"), added
    )
    new_sku = existing.with_marketplace_version(
        MarketplaceImage(publisher="p", offer="o", sku="t"), added
    )
    assert [v.version for v in original.marketplace[0].versions] == ["1.0.0"]
    sku = new_sku.marketplace_image("P", "O", "S")
    assert sku is not None
    assert [v.version for v in sku.versions] == ["1.0.0", "1.0.1"]
    assert new_sku.marketplace_image("p", "o", "t") is not None
    with pytest.raises(ValueError, match="already exists"):
        new_sku.with_marketplace_version(MarketplaceImage(**_SKU), added)


def test_with_gallery_version_refuses_a_duplicate() -> None:
    catalog = default_image_catalog()
    gallery = catalog.galleries[0]
    image = gallery.images[0]
    version = GalleryImageVersion(name="9.0.0", target_regions=[TargetRegion(name="eastus")])
    derived = catalog.with_gallery_version(gallery, image, version)
    derived_gallery = derived.gallery(gallery.subscription_id, gallery.resource_group, gallery.name)
    assert derived_gallery is not None
    derived_image = derived_gallery.image(image.name)
    assert derived_image is not None
    assert derived_image.version("9.0.0") is not None
    assert image.version("9.0.0") is None
    with pytest.raises(ValueError, match=r"has 9\.0\.0"):
        derived.with_gallery_version(derived_gallery, derived_image, version)


@pytest.mark.parametrize(
    ("publisher", "product", "plan", "known"),
    [
        ("bitnami", "rabbitmq", "rabbitmq", True),
        ("BITNAMI", "RabbitMQ", "RABBITMQ", True),
        ("bitnami", "rabbitmq", "other", False),
        ("canonical", "ubuntu-24_04-lts", "server", False),
    ],
)
def test_purchase_plan_lookup(publisher: str, product: str, plan: str, known: bool) -> None:
    found = default_image_catalog().purchase_plan(publisher, product, plan)
    assert (found is not None) == known
    if found is not None:
        assert (found.publisher, found.product, found.name) == ("bitnami", "rabbitmq", "rabbitmq")
