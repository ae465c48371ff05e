"""What changes while the emulator runs: versions published at run time, and accepted terms.

The catalog a run starts from stays as loaded; each publication derives a new catalog from the
current one and is remembered, so `--state` persistence can replay them on restart. Marketplace
terms are accepted or cancelled per subscription and plan, as MarketplaceOrdering records them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.catalog import ImageCatalog
from vmroll.emulator.images.entries import (
    Architecture,
    CatalogModel,
    Gallery,
    GalleryImage,
    GalleryImageVersion,
    HyperVGeneration,
    MarketplaceImage,
    MarketplaceVersion,
    OsType,
    PurchasePlan,
    TargetRegion,
    check_version,
)


class MarketplacePublication(CatalogModel):
    """A marketplace image version published at run time; the sku is created when new."""

    kind: Literal["marketplace"] = "marketplace"
    publisher: str
    offer: str
    sku: str
    version: str
    locations: list[str] = Field(min_length=1)
    boots_unhealthy: bool = False
    os_type: OsType = "Linux"
    hyper_v_generation: HyperVGeneration = "V2"
    architecture: Architecture = "x64"
    plan: PurchasePlan | None = None

    _version_valid = field_validator("version")(check_version)

    def apply(self, catalog: ImageCatalog) -> ImageCatalog:
        image = MarketplaceImage(
            publisher=self.publisher,
            offer=self.offer,
            sku=self.sku,
            os_type=self.os_type,
            hyper_v_generation=self.hyper_v_generation,
            architecture=self.architecture,
            plan=self.plan,
        )
        version = MarketplaceVersion(
            version=self.version, locations=self.locations, boots_unhealthy=self.boots_unhealthy
        )
        try:
            return catalog.with_marketplace_version(image, version)
        except ValueError as exc:
            raise ArmError(409, "Conflict", str(exc)) from None


class _GalleryVersionRef(CatalogModel):
    subscription_id: str
    resource_group: str
    gallery: str
    image: str
    name: str

    def _definition(self, catalog: ImageCatalog) -> tuple[Gallery, GalleryImage]:
        gallery = catalog.gallery(self.subscription_id, self.resource_group, self.gallery)
        image = gallery.image(self.image) if gallery is not None else None
        if gallery is None or image is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"Gallery image {self.gallery}/{self.image} does not exist in resource group "
                f"'{self.resource_group}' of subscription '{self.subscription_id}'; declare the "
                "image definition in the catalog first.",
            )
        return gallery, image


class GalleryPublication(_GalleryVersionRef):
    """A gallery image version published at run time into an existing image definition."""

    kind: Literal["gallery"] = "gallery"
    target_regions: list[TargetRegion] = Field(min_length=1)
    exclude_from_latest: bool = False
    boots_unhealthy: bool = False
    published_date: datetime | None = None
    end_of_life_date: datetime | None = None
    source_id: str | None = None
    provisioning_state: Literal["Creating", "Succeeded", "Failed"] = "Succeeded"
    tags: dict[str, str] = Field(default_factory=dict)

    _version_valid = field_validator("name")(check_version)

    def apply(self, catalog: ImageCatalog) -> ImageCatalog:
        gallery, image = self._definition(catalog)
        fields = self.model_dump(
            include={
                "name",
                "target_regions",
                "exclude_from_latest",
                "boots_unhealthy",
                "end_of_life_date",
                "source_id",
                "provisioning_state",
                "tags",
            }
        )
        version = GalleryImageVersion.model_validate(
            {**fields, "published_date": self.published_date}
        )
        try:
            return catalog.with_gallery_version(gallery, image, version)
        except ValueError as exc:
            raise ArmError(409, "Conflict", str(exc)) from None


class GalleryVersionUpdate(_GalleryVersionRef):
    """A change to a gallery image version: replication finished, excluded from latest..."""

    kind: Literal["galleryUpdate"] = "galleryUpdate"
    target_regions: list[TargetRegion] | None = Field(default=None, min_length=1)
    exclude_from_latest: bool | None = None
    boots_unhealthy: bool | None = None
    end_of_life_date: datetime | None = None
    provisioning_state: Literal["Creating", "Succeeded", "Failed"] | None = None
    tags: dict[str, str] | None = None

    def apply(self, catalog: ImageCatalog) -> ImageCatalog:
        gallery, image = self._definition(catalog)
        current = image.version(self.name)
        if current is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"Gallery image {self.gallery}/{self.image} has no version {self.name}.",
            )
        changes = self.model_dump(
            include={
                "target_regions",
                "exclude_from_latest",
                "boots_unhealthy",
                "end_of_life_date",
                "provisioning_state",
                "tags",
            },
            exclude_none=True,
        )
        if "target_regions" in changes:
            changes["target_regions"] = self.target_regions
        return catalog.with_gallery_version(
            gallery, image, current.model_copy(update=changes), replace=True
        )


class GalleryVersionDeletion(_GalleryVersionRef):
    """A gallery image version deleted (through ARM's DELETE)."""

    kind: Literal["galleryDelete"] = "galleryDelete"

    def apply(self, catalog: ImageCatalog) -> ImageCatalog:
        gallery, image = self._definition(catalog)
        return catalog.without_gallery_version(gallery, image, self.name)


Publication = (
    MarketplacePublication | GalleryPublication | GalleryVersionUpdate | GalleryVersionDeletion
)
PublicationKind = Literal["marketplace", "gallery", "galleryUpdate", "galleryDelete"]
_KINDS: dict[str, type[Publication]] = {
    "marketplace": MarketplacePublication,
    "gallery": GalleryPublication,
    "galleryUpdate": GalleryVersionUpdate,
    "galleryDelete": GalleryVersionDeletion,
}


def parse_publication(kind: PublicationKind, data: dict[str, Any]) -> Publication:
    """A publication from an admin request body, or a 400 that names the bad field."""
    try:
        return _KINDS[kind].model_validate({**data, "kind": kind})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        message = f"Invalid {kind} publication: {problems}"
        raise ArmError(400, "InvalidRequestContent", message) from None


@dataclass(frozen=True)
class Agreement:
    """One subscription's answer to one plan's terms."""

    accepted: bool
    changed_at: datetime


TermsKey = tuple[str, str, str, str]


def terms_key(subscription_id: str, publisher: str, product: str, plan: str) -> TermsKey:
    return (subscription_id.lower(), publisher.lower(), product.lower(), plan.lower())


class ImageState:
    """The current catalog, the publications that made it, and the terms agreements."""

    def __init__(self, catalog: ImageCatalog, clock: Callable[[], datetime]) -> None:
        self.base = catalog
        self.catalog = catalog
        self.clock = clock
        self.publications: list[Publication] = []
        self.agreements: dict[TermsKey, Agreement] = {}
        for terms in catalog.marketplace_terms:
            for subscription_id in terms.accepted_in:
                key = terms_key(subscription_id, terms.publisher, terms.product, terms.plan)
                self.agreements[key] = Agreement(accepted=True, changed_at=clock())

    def publish(self, publication: Publication) -> None:
        if isinstance(publication, GalleryPublication) and publication.published_date is None:
            publication = publication.model_copy(update={"published_date": self.clock()})
        self.catalog = publication.apply(self.catalog)
        self.publications.append(publication)

    def agreement(self, key: TermsKey) -> Agreement | None:
        return self.agreements.get(key)

    def set_agreement(self, key: TermsKey, accepted: bool) -> Agreement:
        agreement = Agreement(accepted=accepted, changed_at=self.clock())
        self.agreements[key] = agreement
        return agreement

    def snapshot(self) -> dict[str, Any]:
        return {
            "publications": [p.model_dump(mode="json", by_alias=True) for p in self.publications],
            "agreements": [
                {
                    "subscriptionId": key[0],
                    "publisher": key[1],
                    "product": key[2],
                    "plan": key[3],
                    "accepted": agreement.accepted,
                    "changedAt": agreement.changed_at.isoformat(),
                }
                for key, agreement in self.agreements.items()
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Back to the loaded catalog, then replay a `snapshot()`."""
        self.catalog = self.base
        self.publications = []
        self.agreements = {}
        for item in data.get("publications", []):
            self.publish(parse_publication(item["kind"], item))
        for item in data.get("agreements", []):
            key = terms_key(
                item["subscriptionId"], item["publisher"], item["product"], item["plan"]
            )
            self.agreements[key] = Agreement(
                accepted=bool(item["accepted"]),
                changed_at=datetime.fromisoformat(item["changedAt"]),
            )
