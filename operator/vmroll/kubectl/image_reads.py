"""The Azure side of `kubectl vmroll images`: one listing's reads, a few at a time.

Every read goes through the AzureAccount's clients (azure_account.py) and is classified at the
Azure boundary; a classified error becomes a `PluginError` that says what to change.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from vmroll.azure import image_catalog as catalog
from vmroll.azure.clients import AzureClients
from vmroll.azure.errors import AzureAccessError, AzureGatewayError, TerminalAzureError
from vmroll.azure.images import MarketplacePlan
from vmroll.azure.terms import terms_accepted
from vmroll.kubectl import image_rows
from vmroll.kubectl.azure_account import AccountTarget, azure_clients
from vmroll.kubectl.cluster import PluginError
from vmroll.kubectl.image_rows import Listing, Row
from vmroll.plan.account_trust import TrustPolicy
from vmroll.plan.reasons import Reason
from vmroll.plan.versions import (
    GalleryVersion,
    normalize_location,
    resolve_gallery_latest,
    usable_in,
)

CONCURRENT_READS = 8
_GALLERY_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute"
    r"/galleries/(?P<gallery>[^/]+)$",
    re.IGNORECASE,
)
T = TypeVar("T")


def read_rows(
    api_client: Any, account: str, trust: TrustPolicy, listing: Listing, args: argparse.Namespace
) -> list[Row]:
    return asyncio.run(_collect(api_client, AccountTarget(account, trust), listing, args))


async def _collect(
    api_client: Any, account: AccountTarget, listing: Listing, args: argparse.Namespace
) -> list[Row]:
    async with azure_clients(api_client, account) as clients:
        reads = _Reads(clients, args.location)
        try:
            if listing is Listing.GALLERY:
                return await reads.gallery(*_gallery_of(args, clients), args.image)
            return await reads.marketplace(listing, args.publisher, args.offer, args.sku, args.all)
        except AzureGatewayError as error:
            raise PluginError(_explain(error, args.account)) from None


def _gallery_of(args: argparse.Namespace, clients: AzureClients) -> tuple[str, str]:
    match = _GALLERY_ID.match(args.gallery.rstrip("/"))
    if match is None:
        if not args.resource_group:
            raise PluginError("--gallery is a gallery's resource ID, or its name with "
                              "--resource-group")  # fmt: skip
        return args.resource_group, args.gallery
    subscription = clients.connection.subscription_id
    if match["sub"].lower() != subscription.lower():
        raise PluginError(f"gallery {args.gallery} is in subscription {match['sub']}, but "
                          f"AzureAccount {args.account} is for {subscription}: use an account "
                          f"of that subscription")  # fmt: skip
    return match["rg"], match["gallery"]


def _explain(error: AzureGatewayError, account: str) -> str:
    if isinstance(error, AzureAccessError):
        return (
            f"Azure refused AzureAccount {account}: {error.message}: check the account's "
            "client ID and Secret, and that its identity has a role on the subscription that "
            "may read images (Reader is enough)"
        )
    if isinstance(error, TerminalAzureError) and error.reason == Reason.IMAGE_NOT_AVAILABLE:
        return (
            f"{error.message}: check --location and the names given (list what exists with "
            "`kubectl vmroll images publishers|offers|skus`)"
        )
    if isinstance(error, TerminalAzureError):
        return f"Azure refused: {error.message}"
    return f"Azure did not answer: {error}; try again"


class _Reads:
    """The reads of one listing, a few at a time, with each plan's terms read once."""

    def __init__(self, clients: AzureClients, location: str) -> None:
        self._clients = clients
        self._compute = clients.compute
        self._location = location
        self._limit = asyncio.Semaphore(CONCURRENT_READS)
        self._terms: dict[MarketplacePlan, asyncio.Task[bool]] = {}

    async def _bounded(self, read: Callable[[], Awaitable[T]]) -> T:
        async with self._limit:
            return await read()

    async def _accepted(self, plan: MarketplacePlan | None) -> bool | None:
        if plan is None:
            return None
        if plan not in self._terms:
            agreements = self._clients.agreements
            self._terms[plan] = asyncio.ensure_future(
                self._bounded(lambda: terms_accepted(agreements, plan))
            )
        return await self._terms[plan]

    async def marketplace(
        self, listing: Listing, publisher: str | None, offer: str | None, sku: str | None,
        every_version: bool,
    ) -> list[Row]:  # fmt: skip
        where, compute = self._location, self._compute
        if listing is Listing.PUBLISHERS:
            return [{"publisher": name} for name in await catalog.list_publishers(compute, where)]
        assert publisher is not None  # _check_flags
        offers = [offer] if offer else await catalog.list_offers(compute, where, publisher)
        if listing is Listing.OFFERS:
            return [{"publisher": publisher, "offer": name} for name in offers]
        skus = await asyncio.gather(*(self._skus(publisher, name, sku) for name in offers))
        pairs = [(name, found) for name, names in zip(offers, skus, strict=True)
                 for found in names]  # fmt: skip
        if listing is Listing.SKUS:
            return [{"publisher": publisher, "offer": o, "sku": s} for o, s in pairs]
        found = await asyncio.gather(
            *(self._versions(publisher, o, s, every_version) for o, s in pairs)
        )
        return [row for rows in found for row in rows]

    async def _skus(self, publisher: str, offer: str, sku: str | None) -> list[str]:
        if sku:
            return [sku]
        return await self._bounded(
            lambda: catalog.list_skus(self._compute, self._location, publisher, offer)
        )

    async def _versions(self, publisher: str, offer: str, sku: str, every: bool) -> list[Row]:
        where, compute = self._location, self._compute
        newest = await self._bounded(
            lambda: catalog.newest_marketplace_version(compute, where, publisher, offer, sku)
        )
        if every:
            names = await self._bounded(
                lambda: catalog.list_versions(compute, where, publisher, offer, sku)
            )
        else:
            names = [newest] if newest else []
        return list(await asyncio.gather(*(self._version_row(publisher, offer, sku, name, newest)
                                           for name in names)))  # fmt: skip

    async def _version_row(
        self, publisher: str, offer: str, sku: str, version: str, newest: str | None
    ) -> Row:
        plan = await self._bounded(lambda: catalog.marketplace_plan(
            self._compute, self._location, publisher, offer, sku, version))  # fmt: skip
        return image_rows.version_row(
            publisher, offer, sku, version, newest=version == newest, plan=plan,
            terms_accepted=await self._accepted(plan),
        )  # fmt: skip

    async def gallery(self, resource_group: str, gallery: str, only: str | None) -> list[Row]:
        images = await catalog.list_gallery_images(self._compute, resource_group, gallery)
        chosen = [image for image in images if only is None or image.name.lower() == only.lower()]
        if only is not None and not chosen:
            raise PluginError(f"gallery {resource_group}/{gallery} has no image definition {only}")
        found = await asyncio.gather(*(self._gallery_rows(resource_group, gallery, image)
                                       for image in chosen))  # fmt: skip
        return [row for rows in found for row in rows]

    async def _gallery_rows(
        self, resource_group: str, gallery: str, image: catalog.GalleryImageInfo
    ) -> list[Row]:
        versions = await self._bounded(lambda: catalog.list_gallery_versions(
            self._compute, resource_group, gallery, image.name))  # fmt: skip
        newest = resolve_gallery_latest((v.version for v in versions), self._location)
        accepted = await self._accepted(image.plan)
        return [
            image_rows.gallery_row(
                image.name, image.image_id, info.version.name, newest=info.version.name == newest,
                available=usable_in(info.version, self._location),
                regions=[region.name for region in info.version.regions],
                exclude_from_latest=_excluded_here(info.version, self._location),
                end_of_life=info.end_of_life or image.end_of_life, published=info.published,
                plan=image.plan,
                terms_accepted=accepted,
            )
            for info in versions
        ]  # fmt: skip


def _excluded_here(version: GalleryVersion, location: str) -> bool:
    """Excluded from latest as a whole, or for this region's replica."""
    here = normalize_location(location)
    return version.exclude_from_latest or any(
        region.exclude_from_latest
        for region in version.regions
        if normalize_location(region.name) == here
    )
