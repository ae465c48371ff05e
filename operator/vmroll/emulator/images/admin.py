"""Admin routes under `/_emulator/images`: see what images exist, publish new versions at run time.

Tests and demos change the image world while the operator runs, to watch it roll a pool forward
(or back, with `bootsUnhealthy`):

- `GET /_emulator/images`: the current catalog, run-time publications and terms agreements.
- `POST /_emulator/images/marketplace/versions` `{publisher, offer, sku, version, locations,
  bootsUnhealthy?, osType?, hyperVGeneration?, architecture?, plan?}`: 201; the sku is created
  when new.
- `POST /_emulator/images/gallery/versions` `{subscriptionId, resourceGroup, gallery, image,
  name, targetRegions, excludeFromLatest?, bootsUnhealthy?, publishedDate?, sourceId?}`: 201,
  into an image definition the catalog declares. A target region is a name or `{name, state:
  Completed|Replicating|Failed, excludeFromLatest?}`.
- `PATCH /_emulator/images/gallery/versions` with the same keys, `targetRegions`,
  `excludeFromLatest` and `bootsUnhealthy` optional: 200 (replication finished, excluded...).

These routes are the emulator's own, not ARM's, so ARM's middleware does not render their
errors: they answer them in ARM's shape here (400 bad body, 404 unknown definition, 409 version
exists).
"""

from __future__ import annotations

from aiohttp import web

from vmroll.emulator.arm_request import json_body, respond
from vmroll.emulator.errors import ArmError
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
            publication = parse_publication(kind, await json_body(request, required=True))
            self._state.publish(publication)
        except ArmError as error:
            return respond(error.body(), error.status)
        return respond(self._state.publications[-1].model_dump(mode="json", by_alias=True), status)
