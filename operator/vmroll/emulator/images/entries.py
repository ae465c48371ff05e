"""The entries of the images catalog: one marketplace sku, gallery, managed image or terms each.

Each model reads the catalog YAML's camelCase keys, refuses unknown keys, normalizes region names
and checks version strings at load, so that a bad catalog fails with the field that is wrong.
`bootsUnhealthy` marks an image a VM boots from but never turns healthy on, so that rollback
paths can be exercised.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from vmroll.emulator.images.regions import normalize_location
from vmroll.emulator.images.versions import version_key

OsType = Literal["Linux", "Windows"]
HyperVGeneration = Literal["V1", "V2"]
Architecture = Literal["x64", "Arm64"]


class CatalogModel(BaseModel):
    """Catalog YAML conventions: camelCase keys, unknown keys refused, values frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def check_version(value: str) -> str:
    """A field validator: `value` unchanged when it is Major.Minor.Build, else why not."""
    version_key(value)
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
    locations: list[str] = Field(min_length=1, description="the regions offering this version")
    boots_unhealthy: bool = Field(
        default=False, description="VMs from it run but never report healthy"
    )
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
    plan: PurchasePlan | None = Field(default=None, description="set for paid images")
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
    state: Literal["Completed", "Replicating", "Failed"] = Field(
        default="Completed", description="only a Completed replica serves VMs in the region"
    )

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
    exclude_from_latest: bool = Field(
        default=False, description="VMs asking for the definition's latest never get it"
    )
    boots_unhealthy: bool = Field(
        default=False, description="VMs from it run but never report healthy"
    )
    published_date: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    end_of_life_date: datetime | None = None
    source_id: str | None = None
    provisioning_state: Literal["Creating", "Succeeded", "Failed"] = Field(
        default="Succeeded", description="Creating while a capture from a VM runs"
    )
    tags: dict[str, str] = Field(default_factory=dict, description="ARM tags of the version")
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
    purchase_plan: PurchasePlan | None = Field(
        default=None, description="set when the image was built from a paid marketplace image"
    )
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
