"""The image side's one entry point for the emulator core: routes, VM image resolution, state.

The core builds one `ImageService` from the catalog's `images:` section and a lookup of the
catalog's resource groups (the image side never imports the core), mounts its routes on the
application (its middleware covers them like every ARM route), asks `resolve_vm_image` on every
VM create and reimage, and persists `snapshot()` / `restore()` with `--state`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from vmroll.emulator.arm_request import ResourceGroups
from vmroll.emulator.images.admin import AdminRoutes
from vmroll.emulator.images.agreements import AgreementRoutes
from vmroll.emulator.images.catalog import ImageCatalog
from vmroll.emulator.images.entries import GalleryImageVersion
from vmroll.emulator.images.galleries import GalleryRoutes
from vmroll.emulator.images.gallery_writes import CaptureHost, GalleryWriteRoutes
from vmroll.emulator.images.managed import ManagedImageRoutes
from vmroll.emulator.images.marketplace import MarketplaceRoutes
from vmroll.emulator.images.resolve import ResolvedImage, resolve_vm_image
from vmroll.emulator.images.state import ImageState, Publication


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _nothing_due() -> None:
    """No capture runs without a host: gallery reads have nothing to settle."""


class ImageService:
    def __init__(
        self,
        catalog: ImageCatalog,
        *,
        resource_groups: ResourceGroups,
        page_size: int = 50,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._state = ImageState(catalog, clock)
        self._page_size = page_size
        self._groups = resource_groups

    def add_routes(self, router: web.UrlDispatcher, captures: CaptureHost | None = None) -> None:
        settle = captures.settle if captures is not None else _nothing_due
        MarketplaceRoutes(self._state).register(router)
        GalleryRoutes(self._state, self._page_size, self._groups, settle).register(router)
        GalleryWriteRoutes(self._state, self._groups, captures).register(router)
        ManagedImageRoutes(self._state, self._page_size, self._groups).register(router)
        AgreementRoutes(self._state).register(router)
        AdminRoutes(self._state).register(router)

    def resolve_vm_image(
        self,
        subscription_id: str,
        location: str,
        image_reference: dict[str, Any],
        plan: dict[str, Any] | None,
        vm_id: str | None = None,
    ) -> ResolvedImage:
        """The image a VM in `location` gets, or the ArmError Azure answers (see resolve.py).

        `vm_id`, when given, is quoted in the error for a missing purchase plan, as Azure does.
        """
        return resolve_vm_image(
            self._state, subscription_id, location, image_reference, plan, vm_id
        )

    def gallery_version(self, where: dict[str, str]) -> GalleryImageVersion | None:
        """The version named by `where` (subscriptionId, resourceGroup, gallery, image, name)."""
        gallery = self._state.catalog.gallery(
            where["subscriptionId"], where["resourceGroup"], where["gallery"]
        )
        image = gallery.image(where["image"]) if gallery is not None else None
        return image.version(where["name"]) if image is not None else None

    def publish(self, publication: Publication) -> None:
        """Add a marketplace or gallery version now, as the admin route does."""
        self._state.publish(publication)

    def snapshot(self) -> dict[str, Any]:
        """Run-time publications and terms agreements, as JSON-ready data."""
        return self._state.snapshot()

    def restore(self, data: dict[str, Any]) -> None:
        self._state.restore(data)
