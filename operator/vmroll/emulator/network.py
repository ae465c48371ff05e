"""The resources a VM create implies: network interfaces in catalog subnets, and managed disks.

A VM with `networkInterfaceConfigurations` gets its NICs created by Compute; each names a subnet
that must exist (in the catalog) in the VM's region. The OS disk and empty data disks become disk
resources. Each implied resource carries the `deleteOption` it was created with, so deleting the
VM deletes (Delete) or detaches (Detach) it, as Azure does. They can be read back with GET.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.errors import ArmError
from vmroll.emulator.lro import iso
from vmroll.emulator.vm_model import VmRecord

JSON = dict[str, Any]


def subnet_exists(catalog: Catalog, subnet_id: str, location: str) -> bool:
    parts = subnet_id.strip("/").split("/")
    if len(parts) != 10 or [p.lower() for p in parts[::2]] != [
        "subscriptions",
        "resourcegroups",
        "providers",
        "virtualnetworks",
        "subnets",
    ]:
        return False
    if parts[5].lower() != "microsoft.network":
        return False
    subscription = catalog.subscription(parts[1])
    group = subscription.resource_group(parts[3]) if subscription else None
    if group is None:
        return False
    return any(
        vnet.name.lower() == parts[7].lower()
        and vnet.location.lower() == location.lower()
        and parts[9].lower() in (s.lower() for s in vnet.subnets)
        for vnet in group.virtual_networks
    )


def nic_id(record: VmRecord, config_name: str) -> str:
    return (
        f"/subscriptions/{record.subscription_id}/resourceGroups/{record.resource_group}"
        f"/providers/Microsoft.Network/networkInterfaces/{record.name}-{config_name}"
    )


def implied_nics(catalog: Catalog, record: VmRecord, network_profile: JSON) -> list[JSON]:
    """The NICs Compute creates for `networkInterfaceConfigurations`; subnets are checked."""
    nics = []
    for config in network_profile.get("networkInterfaceConfigurations") or []:
        name = str(config.get("name", "nic"))
        properties = config.get("properties") or {}
        identifier = nic_id(record, name)
        ip_configurations = []
        for ip in properties.get("ipConfigurations") or []:
            subnet = ((ip.get("properties") or {}).get("subnet") or {}).get("id", "")
            if not subnet_exists(catalog, subnet, record.location):
                raise ArmError(
                    400,
                    "InvalidResourceReference",
                    f"Resource {subnet or '(no subnet id)'} referenced by resource {identifier} "
                    "was not found. Please make sure that the referenced resource exists, and "
                    "that both resources are in the same region.",
                    details=[],
                )
            ip_configurations.append(
                {
                    "name": ip.get("name", "ipconfig1"),
                    "id": f"{identifier}/ipConfigurations/{ip.get('name', 'ipconfig1')}",
                    "properties": {
                        "subnet": {"id": subnet},
                        "privateIPAllocationMethod": "Dynamic",
                        "primary": bool((ip.get("properties") or {}).get("primary", True)),
                        "provisioningState": "Succeeded",
                    },
                }
            )
        nics.append(
            {
                "name": f"{record.name}-{name}",
                "id": identifier,
                "type": "Microsoft.Network/networkInterfaces",
                "location": record.location,
                "properties": {
                    "provisioningState": "Succeeded",
                    "ipConfigurations": ip_configurations,
                    "primary": bool(properties.get("primary", True)),
                    "virtualMachine": {"id": record.resource_id},
                    "deleteOption": properties.get("deleteOption", "Detach"),
                },
            }
        )
    return nics


def implied_disks(record: VmRecord, now: float) -> list[JSON]:
    storage = record.properties["storageProfile"]
    disks = [(storage["osDisk"], True)] + [
        (d, False) for d in storage.get("dataDisks", []) if d.get("createOption") == "Empty"
    ]
    answers = []
    for disk, is_os in disks:
        properties: JSON = {
            "diskSizeGB": disk.get("diskSizeGB", 30),
            "diskState": "Attached",
            "provisioningState": "Succeeded",
            "timeCreated": iso(now),
            "creationData": {"createOption": disk.get("createOption", "Empty")},
            "deleteOption": disk.get("deleteOption", "Detach"),
        }
        if is_os:
            properties["osType"] = record.os_type
            properties["creationData"]["imageReference"] = copy.deepcopy(storage["imageReference"])
        answers.append(
            {
                "name": disk["name"],
                "id": disk["managedDisk"]["id"],
                "type": "Microsoft.Compute/disks",
                "location": record.location,
                "managedBy": record.resource_id,
                "sku": {"name": disk["managedDisk"].get("storageAccountType", "Premium_LRS")},
                "properties": properties,
            }
        )
    return answers


def detach(resource: JSON) -> None:
    resource.pop("managedBy", None)
    properties = resource["properties"]
    properties.pop("virtualMachine", None)
    if "diskState" in properties:
        properties["diskState"] = "Unattached"


def add_routes(router: web.UrlDispatcher, resources: dict[str, JSON]) -> None:
    """GET routes for implied disks and NICs (read-only in the emulator)."""

    async def get(request: web.Request) -> web.Response:
        found = resources.get(request.path.lower())
        if found is None:
            kind = request.match_info["kind"]
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{kind}/{request.match_info['name']}' under resource group "
                f"'{request.match_info['resourceGroup']}' was not found. For more details please "
                "go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return web.json_response(found)

    base = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/"
    router.add_get(base + "{kind:Microsoft.Compute/disks}/{name}", get, name="Disks_Get")
    router.add_get(
        base + "{kind:Microsoft.Network/networkInterfaces}/{name}",
        get,
        name="NetworkInterfaces_Get",
    )
