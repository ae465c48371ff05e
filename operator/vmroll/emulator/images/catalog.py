"""The `images:` section of the emulator catalog: what images exist, where, and on what terms.

Marketplace images (offered per region, optionally with a purchase plan), Azure Compute
Galleries (image definitions and versions with replication targets and `excludeFromLatest`),
managed images, and which purchase plans need their marketplace terms accepted; the entries are
in `entries.py`. The catalog is frozen: run-time publishing derives a new one with `with_*`.
"""

from __future__ import annotations

from importlib import resources

import yaml
from pydantic import Field, model_validator

from vmroll.emulator.images.entries import (
    CatalogModel,
    Gallery,
    GalleryImage,
    GalleryImageVersion,
    ManagedImage,
    MarketplaceImage,
    MarketplaceTerms,
    MarketplaceVersion,
    PurchasePlan,
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
        """A plan that exists (it has terms or an image sells it), as the catalog spells it."""
        terms = self.terms(publisher, product, plan)
        if terms is not None:
            return PurchasePlan(name=terms.plan, product=terms.product, publisher=terms.publisher)
        wanted = PurchasePlan(name=plan, product=product, publisher=publisher)
        sold = [i.plan for i in self.marketplace] + [
            i.purchase_plan for g in self.galleries for i in g.images
        ]
        return next((p for p in sold if p is not None and p.matches(wanted)), None)

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
        self,
        gallery: Gallery,
        image: GalleryImage,
        version: GalleryImageVersion,
        *,
        replace: bool = False,
    ) -> ImageCatalog:
        """This catalog with `version` added to a gallery image definition, or replacing the
        version of that name when `replace` is set."""
        if (image.version(version.name) is not None) != replace:
            state = "has" if not replace else "has no"
            raise ValueError(f"gallery image {gallery.name}/{image.name} {state} {version.name}")
        kept = [v for v in image.versions if v.name != version.name]
        new_image = image.model_copy(update={"versions": [*kept, version]})
        new_gallery = gallery.model_copy(
            update={"images": [new_image if i is image else i for i in gallery.images]}
        )
        return self.model_copy(
            update={"galleries": [new_gallery if g is gallery else g for g in self.galleries]}
        )

    def without_gallery_version(
        self, gallery: Gallery, image: GalleryImage, name: str
    ) -> ImageCatalog:
        """This catalog with gallery image version `name` deleted."""
        new_image = image.model_copy(
            update={"versions": [v for v in image.versions if v.name != name]}
        )
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
