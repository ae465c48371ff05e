"""`kubectl vmroll images`: what can be deployed in a region, seen through an AzureAccount.

Like `az vm image list-publishers / list-offers / list-skus / list --all`, and a gallery's image
versions, with what matters to a pool: the version `latest` resolves to (marked newest, decided
as the operator decides it), the purchase plan and whether the subscription accepted its terms,
and for gallery versions where they are replicated, whether they are excluded from latest and
when they reach end of life. Reads only: nothing is accepted, created or changed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vmroll.api.base import GROUP
from vmroll.azure import image_catalog as catalog
from vmroll.azure.clients import AzureClients
from vmroll.azure.errors import AzureAccessError, AzureGatewayError, TerminalAzureError
from vmroll.azure.images import PurchasePlan
from vmroll.azure.terms import terms_accepted
from vmroll.handlers.run_config import DEFAULT_CLUSTER_RESOURCE_NAMESPACE
from vmroll.kubectl import image_rows
from vmroll.kubectl.azure_account import AccountTarget, api_client_for, azure_clients
from vmroll.kubectl.cluster import PluginError, Target
from vmroll.kubectl.image_rows import Listing, Output, Row
from vmroll.plan.account_trust import (
    ALLOW_CUSTOM_ENDPOINTS_FLAG,
    CLUSTER_RESOURCE_NAMESPACE_FLAG,
    TrustPolicy,
)
from vmroll.plan.reasons import Reason
from vmroll.plan.versions import (
    GalleryVersion,
    normalize_location,
    resolve_gallery_latest,
    usable_in,
)

POLICY_KIND = "ImagePolicy"
CONCURRENT_READS = 8
_GALLERY_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute"
    r"/galleries/(?P<gallery>[^/]+)$",
    re.IGNORECASE,
)
T = TypeVar("T")


def add_parser(commands: Any, flags: argparse.ArgumentParser) -> None:
    """`images` and its flags, on the plugin's subcommands."""
    images = commands.add_parser(
        "images", parents=[flags],
        help="browse the images an AzureAccount can deploy in a region (marketplace, gallery)",
    )  # fmt: skip
    images.add_argument(
        "listing", nargs="?", choices=[str(item) for item in Listing if item != Listing.GALLERY],
        help="what to list (default: versions with --publisher, else publishers)",
    )  # fmt: skip
    images.add_argument("--account", required=True, help="the AzureAccount to read Azure as")
    images.add_argument("-l", "--location", required=True, help="the Azure region")
    images.add_argument("--publisher", help="marketplace publisher (needed below publishers)")
    images.add_argument("--offer", help="marketplace offer (needed for skus)")
    images.add_argument("--sku", help="marketplace sku")
    images.add_argument("--all", action="store_true",
                        help="every version, not only the newest of each sku")  # fmt: skip
    images.add_argument("--gallery", help="a gallery's resource ID, or its name with "
                                          "--resource-group: list its image versions")  # fmt: skip
    images.add_argument("--resource-group", "-g", help="the gallery's resource group")
    images.add_argument("--image", help="only this gallery image definition")
    images.add_argument("-o", "--output", choices=[str(item) for item in Output],
                        default=str(Output.TABLE))  # fmt: skip
    images.add_argument(
        ALLOW_CUSTOM_ENDPOINTS_FLAG, action="store_true",
        help="use the account's endpoints beyond the public, China and US Government clouds, "
        "and its CA bundle, as the operator does with the same flag",
    )  # fmt: skip
    images.add_argument(
        CLUSTER_RESOURCE_NAMESPACE_FLAG, metavar="NS", default=DEFAULT_CLUSTER_RESOURCE_NAMESPACE,
        help="the operator's namespace, where the account's Secrets are "
        f"(default {DEFAULT_CLUSTER_RESOURCE_NAMESPACE})",
    )  # fmt: skip


def listing_of(args: argparse.Namespace) -> Listing:
    if args.gallery:
        return Listing.GALLERY
    if args.listing:
        return Listing(args.listing)
    return Listing.VERSIONS if args.publisher else Listing.PUBLISHERS


def run(args: argparse.Namespace, target: Target) -> int:
    # azure-identity logs a failed token request as a warning; the error below says it once.
    logging.getLogger("azure").addHandler(logging.NullHandler())
    logging.getLogger("azure").propagate = False
    listing = listing_of(args)
    _check_flags(args, listing)
    api_client = api_client_for(target)
    trust = TrustPolicy(args.allow_custom_endpoints, args.cluster_resource_namespace)
    rows = asyncio.run(_collect(api_client, AccountTarget(args.account, trust), listing, args))
    if policy_served(api_client):
        print(f"note: {POLICY_KIND} is served, but this plugin does not evaluate it yet",
              file=sys.stderr)  # fmt: skip
        rows = image_rows.with_policy(rows)
    if not rows and args.output == Output.TABLE:
        # As kubectl says "No resources found": on stderr, and not an error.
        print(f"No {listing} found in {args.location}.", file=sys.stderr)
    print(image_rows.render(listing, rows, Output(args.output)), end="")
    return 0


def _check_flags(args: argparse.Namespace, listing: Listing) -> None:
    needed = {Listing.OFFERS: ("publisher",), Listing.SKUS: ("publisher", "offer"),
              Listing.VERSIONS: ("publisher",)}.get(listing, ())  # fmt: skip
    missing = [f"--{name}" for name in needed if not getattr(args, name)]
    if missing:
        raise PluginError(f"listing {listing} needs {' and '.join(missing)}")


def policy_served(api_client: Any) -> bool:
    """Whether the API server serves ImagePolicy in vmroll's group, in any version."""
    apis = client.ApisApi(api_client)
    try:
        groups = apis.get_api_versions().groups
    except ApiException as error:
        raise PluginError(f"API discovery failed: {error.status} {error.reason}") from None
    group = next((g for g in groups if g.name == GROUP), None)
    if group is None:
        return False
    custom = client.CustomObjectsApi(api_client)
    for version in group.versions:
        resources = custom.get_api_resources(GROUP, version.version).resources
        if any(resource.kind == POLICY_KIND for resource in resources):
            return True
    return False


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
        self._terms: dict[PurchasePlan, asyncio.Task[bool]] = {}

    async def _bounded(self, read: Callable[[], Awaitable[T]]) -> T:
        async with self._limit:
            return await read()

    async def _accepted(self, plan: PurchasePlan | None) -> bool | None:
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
                image.name, info.version.name, newest=info.version.name == newest,
                available=usable_in(info.version, self._location),
                regions=[region.name for region in info.version.regions],
                exclude_from_latest=_excluded_here(info.version, self._location),
                end_of_life=info.end_of_life or image.end_of_life, plan=image.plan,
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
