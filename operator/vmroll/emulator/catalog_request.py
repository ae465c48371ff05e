"""What the core's ARM routes read from the catalog: the api-versions a type serves (ARM's
refusal lists the catalog's locations), the resource group a path names, and ARM's refusal of
a location the catalog does not have.

The catalog is the core's; `resource_groups` turns it into the plain lookup that the shared
wire helpers (arm_request.py) and the image side are given, so that neither imports the core.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from vmroll.emulator.arm_request import ResourceGroups, existing_resource_group
from vmroll.emulator.catalog import Catalog
from vmroll.emulator.context import CONTEXT
from vmroll.emulator.errors import ArmError


def resource_groups(catalog: Catalog) -> ResourceGroups:
    """The catalog's resource groups as a lookup (names compare case-insensitively)."""

    def lookup(subscription_id: str, name: str) -> str | None:
        subscription = catalog.subscription(subscription_id)
        group = subscription.resource_group(name) if subscription is not None else None
        return group.name if group is not None else None

    return lookup


def location_not_available(catalog: Catalog, name: str, resource_type: str) -> ArmError:
    """ARM's 400 for a location the catalog does not have, listing the ones it has."""
    available = ",".join(loc.name for loc in catalog.locations)
    return ArmError(
        400,
        "LocationNotAvailableForResourceType",
        f"The provided location '{name}' is not available for resource type "
        f"'{resource_type}'. List of available regions for the resource type is '{available}'.",
    )


def api_version(request: web.Request, supported: Sequence[str], resource_type: str) -> str:
    """The request's api-version (the middleware made sure there is one), if this type serves it."""
    version = request.query["api-version"]
    if version not in supported:
        locations = ", ".join(loc.name for loc in request.app[CONTEXT].catalog.locations)
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for API version '{version}' and type "
            f"'{resource_type}'. The supported api-versions are "
            f"'{', '.join(supported)}'. The supported locations are '{locations}'.",
        )
    return version


def resource_group(request: web.Request) -> tuple[str, str]:
    """(subscription id, resource group name as the catalog spells it) of the request's path."""
    subscription_id = request.match_info["subscriptionId"]
    groups = resource_groups(request.app[CONTEXT].catalog)
    name = existing_resource_group(groups, subscription_id, request.match_info["resourceGroupName"])
    return subscription_id, name
