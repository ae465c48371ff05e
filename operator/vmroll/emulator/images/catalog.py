"""The `images:` section of the emulator catalog: what images exist, where, and on what terms.

Marketplace images (offered per region, optionally with a purchase plan), Azure Compute
Galleries (image definitions and versions with replication targets and `excludeFromLatest`),
managed images, and which purchase plans need their marketplace terms accepted. `bootsUnhealthy`
marks an image a VM boots from but never turns healthy on, so rollback paths can be exercised.
The models are frozen: run-time publishing derives a new catalog with the `with_*` methods.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from vmroll.emulator.images.regions import normalize_location
from vmroll.emulator.images.versions import parse_version

OsType = Literal["Linux", "Windows"]
HyperVGeneration = Literal["V1", "V2"]
Architecture = Literal["x64", "Arm64"]


class CatalogModel(BaseModel):
    """Catalog YAML conventions: camelCase keys, unknown keys refused, values frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def check_version(value: str) -> str:
    if parse_version(value) is None:
        raise ValueError(
            f"{value!r} is not an image version: use Major.Minor.Build, three decimal numbers"
        )
    return value


def _normalize_locations(values: list[str]) -> list[str]:
    return [normalize_location(v) for v in values]


class PurchasePlan(CatalogModel):
    name: str
    product: str
    publisher: str

    def matches(self, other: PurchasePlan) -> bool:
        return (self.name.lower(), self.product.lower(), self.publisher.lower()) == (
            other.name.lower(),
            other.product.lower(),
            other.publisher.lower(),
        )


class AlternativeOption(CatalogModel):
    type: Literal["None", "Offer", "Plan"]
    value: str = ""


class Deprecation(CatalogModel):
    """imageDeprecationStatus of a marketplace image version."""

    image_state: Literal["Active", "ScheduledForDeprecation", "Deprecated"] = "Active"
    scheduled_deprecation_time: datetime | None = None
    alternative_option: AlternativeOption | None = None


class MarketplaceVersion(CatalogModel):
    version: str
    locations: list[str] = Field(min_length=1)
    boots_unhealthy: bool = False
    os_disk_size_gb: int = Field(default=30, gt=0, alias="osDiskSizeGB")
    deprecation: Deprecation = Deprecation()

    _version_valid = field_validator("version")(check_version)
    _locations_normal = field_validator("locations")(_normalize_locations)


class MarketplaceImage(CatalogModel):
    """One publisher:offer:sku with its versions."""

    publisher: str
    offer: str
    sku: str
    os_type: OsType = "Linux"
    hyper_v_generation: HyperVGeneration = "V2"
    architecture: Architecture = "x64"
    plan: PurchasePlan | None = None
    versions: list[MarketplaceVersion] = Field(default_factory=list)

    def matches(self, publisher: str, offer: str, sku: str) -> bool:
        return (self.publisher.lower(), self.offer.lower(), self.sku.lower()) == (
            publisher.lower(),
            offer.lower(),
            sku.lower(),
        )

    def version(self, name: str) -> MarketplaceVersion | None:
        return next((v for v in self.versions if v.version == name), None)

    def urn(self, version: str) -> str:
        return f"{self.publisher}:{self.offer}:{self.sku}:{version}"


class TargetRegion(CatalogModel):
    """A region a gallery image version is replicated to (or still replicating to)."""

    name: str
    regional_replica_count: int = Field(default=1, gt=0)
    storage_account_type: str = "Standard_LRS"
    exclude_from_latest: bool = False
    state: Literal["Completed", "Replicating", "Failed"] = "Completed"

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @field_validator("name")
    @classmethod
    def _normal(cls, value: str) -> str:
        return normalize_location(value)


class GalleryImageVersion(CatalogModel):
    name: str
    target_regions: list[TargetRegion] = Field(min_length=1)
    exclude_from_latest: bool = False
    boots_unhealthy: bool = False
    published_date: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    end_of_life_date: datetime | None = None
    source_id: str | None = None
    os_disk_size_gb: int = Field(default=30, gt=0, alias="osDiskSizeGB")

    _version_valid = field_validator("name")(check_version)

    def replicated_to(self, location: str) -> bool:
        return any(r.name == location and r.state == "Completed" for r in self.target_regions)


class GalleryImage(CatalogModel):
    """A gallery image definition: the identifier and OS shape its versions share."""

    name: str
    publisher: str
    offer: str
    sku: str
    os_type: OsType = "Linux"
    os_state: Literal["Generalized", "Specialized"] = "Generalized"
    hyper_v_generation: HyperVGeneration = "V2"
    architecture: Architecture = "x64"
    description: str = ""
    versions: list[GalleryImageVersion] = Field(default_factory=list)

    def version(self, name: str) -> GalleryImageVersion | None:
        return next((v for v in self.versions if v.name == name), None)


class Gallery(CatalogModel):
    subscription_id: str
    resource_group: str
    name: str
    location: str
    description: str = ""
    images: list[GalleryImage] = Field(default_factory=list)

    _location_normal = field_validator("location")(normalize_location)

    def image(self, name: str) -> GalleryImage | None:
        return next((i for i in self.images if i.name.lower() == name.lower()), None)


class ManagedImage(CatalogModel):
    subscription_id: str
    resource_group: str
    name: str
    location: str
    os_type: OsType = "Linux"
    hyper_v_generation: HyperVGeneration = "V2"
    os_disk_size_gb: int = Field(default=30, gt=0, alias="osDiskSizeGB")
    source_virtual_machine_id: str | None = None
    boots_unhealthy: bool = False

    _location_normal = field_validator("location")(normalize_location)


class MarketplaceTerms(CatalogModel):
    """A purchase plan whose legal terms must be accepted per subscription before VMs use it."""

    publisher: str
    product: str
    plan: str
    license_text_link: str = ""
    privacy_policy_link: str = ""
    marketplace_terms_link: str = ""
    accepted_in: list[str] = Field(
        default_factory=list, description="subscriptions that have accepted at start"
    )

    def matches(self, publisher: str, product: str, plan: str) -> bool:
        return (self.publisher.lower(), self.product.lower(), self.plan.lower()) == (
            publisher.lower(),
            product.lower(),
            plan.lower(),
        )


class ImageCatalog(CatalogModel):
    marketplace: list[MarketplaceImage] = Field(default_factory=list)
    galleries: list[Gallery] = Field(default_factory=list)
    managed_images: list[ManagedImage] = Field(default_factory=list)
    marketplace_terms: list[MarketplaceTerms] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ImageCatalog:
        _no_duplicates(
            "marketplace image", [(i.publisher, i.offer, i.sku) for i in self.marketplace]
        )
        for offered in self.marketplace:
            _no_duplicates(
                f"version of {offered.urn('*')}", [(v.version,) for v in offered.versions]
            )
        _no_duplicates(
            "gallery", [(g.subscription_id, g.resource_group, g.name) for g in self.galleries]
        )
        for gallery in self.galleries:
            _no_duplicates(f"image of gallery {gallery.name}", [(i.name,) for i in gallery.images])
            for image in gallery.images:
                _no_duplicates(
                    f"version of gallery image {gallery.name}/{image.name}",
                    [(v.name,) for v in image.versions],
                )
        _no_duplicates(
            "managed image",
            [(m.subscription_id, m.resource_group, m.name) for m in self.managed_images],
        )
        _no_duplicates(
            "marketplace terms", [(t.publisher, t.product, t.plan) for t in self.marketplace_terms]
        )
        return self

    def marketplace_image(self, publisher: str, offer: str, sku: str) -> MarketplaceImage | None:
        return next((i for i in self.marketplace if i.matches(publisher, offer, sku)), None)

    def gallery(self, subscription_id: str, resource_group: str, name: str) -> Gallery | None:
        wanted = (subscription_id.lower(), resource_group.lower(), name.lower())
        return next(
            (
                g
                for g in self.galleries
                if (g.subscription_id.lower(), g.resource_group.lower(), g.name.lower()) == wanted
            ),
            None,
        )

    def managed_image(
        self, subscription_id: str, resource_group: str, name: str
    ) -> ManagedImage | None:
        wanted = (subscription_id.lower(), resource_group.lower(), name.lower())
        return next(
            (
                m
                for m in self.managed_images
                if (m.subscription_id.lower(), m.resource_group.lower(), m.name.lower()) == wanted
            ),
            None,
        )

    def terms(self, publisher: str, product: str, plan: str) -> MarketplaceTerms | None:
        found = (t for t in self.marketplace_terms if t.matches(publisher, product, plan))
        return next(found, None)

    def purchase_plan(self, publisher: str, product: str, plan: str) -> PurchasePlan | None:
        """A plan that exists (it has terms or a marketplace image sells it), as spelled here."""
        terms = self.terms(publisher, product, plan)
        if terms is not None:
            return PurchasePlan(name=terms.plan, product=terms.product, publisher=terms.publisher)
        wanted = PurchasePlan(name=plan, product=product, publisher=publisher)
        sold = (i.plan for i in self.marketplace if i.plan is not None and i.plan.matches(wanted))
        return next(sold, None)

    def with_marketplace_version(
        self, image: MarketplaceImage, version: MarketplaceVersion
    ) -> ImageCatalog:
        """This catalog with `version` added to `image` (which is added when it is new)."""
        existing = self.marketplace_image(image.publisher, image.offer, image.sku)
        base = existing or image.model_copy(update={"versions": []})
        if base.version(version.version) is not None:
            raise ValueError(f"{base.urn(version.version)} already exists")
        updated = base.model_copy(update={"versions": [*base.versions, version]})
        others = [i for i in self.marketplace if i is not existing]
        return self.model_copy(update={"marketplace": [*others, updated]})

    def with_gallery_version(
        self, gallery: Gallery, image: GalleryImage, version: GalleryImageVersion
    ) -> ImageCatalog:
        """This catalog with `version` added to an existing gallery image definition."""
        if image.version(version.name) is not None:
            raise ValueError(f"gallery image {gallery.name}/{image.name} has {version.name}")
        new_image = image.model_copy(update={"versions": [*image.versions, version]})
        new_gallery = gallery.model_copy(
            update={"images": [new_image if i is image else i for i in gallery.images]}
        )
        return self.model_copy(
            update={"galleries": [new_gallery if g is gallery else g for g in self.galleries]}
        )


def _no_duplicates(what: str, keys: list[tuple[str, ...]]) -> None:
    seen: set[tuple[str, ...]] = set()
    for key in keys:
        folded = tuple(k.lower() for k in key)
        if folded in seen:
            raise ValueError(f"{what} {'/'.join(key)} is declared twice")
        seen.add(folded)


def default_image_catalog() -> ImageCatalog:
    """The images that ship with the emulator (`default.yaml` beside this module)."""
    text = resources.files("vmroll.emulator.images").joinpath("default.yaml").read_text()
    return ImageCatalog.model_validate(yaml.safe_load(text)["images"])
