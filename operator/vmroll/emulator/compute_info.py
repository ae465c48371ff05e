"""Location-scoped Compute reads a client checks before it creates: quota usages and VM sizes.

`Usage_List` reports each cores quota of the catalog (Total Regional vCPUs and per family) with
the vCPUs the subscription's VMs hold there, so a client can see a quota refusal coming;
`VirtualMachineSizes_List` and `VirtualMachines_ListAvailableSizes` report the sizes a region
offers. Both read the same catalog and VMs the create checks use.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from vmroll.emulator.arm_request import not_found
from vmroll.emulator.catalog import Location
from vmroll.emulator.catalog_request import api_version, location_not_available, resource_group
from vmroll.emulator.context import CONTEXT, EmulatorContext
from vmroll.emulator.vm_routes import API_VERSIONS

JSON = dict[str, Any]
LOCATIONS = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}"
MAX_VIRTUAL_MACHINES = 25000


def _family_display(family: str) -> str:
    """`standardDSv5Family` -> `Standard DSv5 Family vCPUs`, as the portal names quotas."""
    words = re.sub(r"^standard", "Standard ", family).removesuffix("Family")
    return f"{words} Family vCPUs"


def _usage(value: str, display: str, current: int, limit: int) -> JSON:
    return {
        "unit": "Count",
        "currentValue": current,
        "limit": limit,
        "name": {"value": value, "localizedValue": display},
    }


def _location(context: EmulatorContext, request: web.Request, kind: str) -> Location:
    name = request.match_info["location"]
    region = context.catalog.location(name)
    if region is None:
        raise location_not_available(context.catalog, name, f"Microsoft.Compute/locations/{kind}")
    return region


async def list_usages(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    api_version(request, API_VERSIONS, "locations/usages")
    region = _location(context, request, "usages")
    subscription_id = request.match_info["subscriptionId"]
    records = [r for r in context.vms.listing(subscription_id) if r.location == region.name]
    subscription = context.catalog.subscription(subscription_id)
    quota = subscription.quotas.get(region.name) if subscription is not None else None
    regional_limit = quota.total_regional_cores if quota is not None else 0
    families = sorted({s.family for s in region.vm_sizes} | set(quota.families if quota else {}))
    usages = [
        _usage("cores", "Total Regional vCPUs", sum(r.vcpus for r in records), regional_limit),
        _usage("virtualMachines", "Virtual Machines", len(records), MAX_VIRTUAL_MACHINES),
    ]
    for family in families:
        limit = quota.families.get(family, regional_limit) if quota is not None else 0
        used = sum(r.vcpus for r in records if r.family == family)
        usages.append(_usage(family, _family_display(family), used, limit))
    return web.json_response({"value": usages})


def _sizes(region: Location) -> JSON:
    return {
        "value": [
            {
                "name": size.name,
                "numberOfCores": size.vcpus,
                "osDiskSizeInMB": 1047552,
                "resourceDiskSizeInMB": 0,
                "memoryInMB": int(size.memory_gb * 1024),
                "maxDataDiskCount": max(4, size.vcpus * 2),
            }
            for size in region.vm_sizes
        ]
    }


async def list_sizes(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    api_version(request, API_VERSIONS, "locations/vmSizes")
    return web.json_response(_sizes(_location(context, request, "vmSizes")))


async def list_available_sizes(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    api_version(request, API_VERSIONS, "virtualMachines")
    subscription_id, group = resource_group(request)
    name = request.match_info["vmName"]
    record = context.vms.get(subscription_id, group, name)
    region = context.catalog.location(record.location) if record is not None else None
    if record is None or region is None:
        raise not_found("Microsoft.Compute/virtualMachines", name, group)
    return web.json_response(_sizes(region))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(LOCATIONS + "/usages", list_usages, name="Usage_List")
    router.add_get(LOCATIONS + "/vmSizes", list_sizes, name="VirtualMachineSizes_List")
    router.add_get(
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/"
        "Microsoft.Compute/virtualMachines/{vmName}/vmSizes",
        list_available_sizes,
        name="VirtualMachines_ListAvailableSizes",
    )
