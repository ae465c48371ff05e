"""Admin routes under `/_emulator/images`: see what images exist, publish new versions at run time.

Tests and demos publish a marketplace or gallery version while the operator runs, to watch it
roll a pool forward (or back, with `bootsUnhealthy`), and change a gallery version (replication
finishing in a region, `excludeFromLatest` set) with PATCH. These routes are the emulator's own, not
ARM's, so ARM's middleware does not render their errors: they answer them in ARM's shape here.
"""

from __future__ import annotations

from aiohttp import web

from vmroll.emulator.errors import ArmError
from vmroll.emulator.images.arm import read_json, respond
from vmroll.emulator.images.state import ImageState, PublicationKind, parse_publication

ADMIN_PREFIX = "/_emulator/images"


class AdminRoutes:
    def __init__(self, state: ImageState) -> None:
        self._state = state

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_get(ADMIN_PREFIX, self.inventory, name="Emulator_Images_Inventory")
        router.add_post(
            ADMIN_PREFIX + "/marketplace/versions",
            self.publish_marketplace,
            name="Emulator_Images_PublishMarketplaceVersion",
        )
        router.add_post(
            ADMIN_PREFIX + "/gallery/versions",
            self.publish_gallery,
            name="Emulator_Images_PublishGalleryVersion",
        )
        router.add_patch(
            ADMIN_PREFIX + "/gallery/versions",
            self.update_gallery,
            name="Emulator_Images_UpdateGalleryVersion",
        )

    async def inventory(self, request: web.Request) -> web.Response:
        return respond(
            {
                **self._state.catalog.model_dump(mode="json", by_alias=True),
                **self._state.snapshot(),
            }
        )

    async def publish_marketplace(self, request: web.Request) -> web.Response:
        return await self._publish(request, "marketplace")

    async def publish_gallery(self, request: web.Request) -> web.Response:
        return await self._publish(request, "gallery")

    async def update_gallery(self, request: web.Request) -> web.Response:
        return await self._publish(request, "galleryUpdate", status=200)

    async def _publish(
        self, request: web.Request, kind: PublicationKind, status: int = 201
    ) -> web.Response:
        try:
            publication = parse_publication(kind, await read_json(request, f"{kind} publication"))
            self._state.publish(publication)
        except ArmError as error:
            return respond(error.body(), error.status)
        return respond(self._state.publications[-1].model_dump(mode="json", by_alias=True), status)
