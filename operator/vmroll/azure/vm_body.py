"""What a pool's VM looks like on the wire: the create body and the ownership tags.

Pure data in, the JSON body of `VirtualMachines_CreateOrUpdate` out, so that the shape Azure
receives is reviewed and tested without a server. (azure-mgmt-compute's TypedDicts in `types`
declare the keys of derived types such as `VirtualMachine` and `ImageReference` as required,
so a partial body cannot be typed with them.) Choices made here:
- the NIC is declared inline (`networkInterfaceConfigurations`, which needs `networkApiVersion`)
  with `deleteOption: Delete`, and so is the OS disk, so deleting the VM leaves nothing behind;
- ssh keys only, password authentication off;
- the tags are vmroll.plan.ownership's `vm_tags`: the user's, then the ownership tags, whose
  `vmroll.io_` prefix a user's `template.tags` may not use; a VM that is not a pool's (an image
  capture's builder) brings its whole tag set instead (`VmSpec.all_tags`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vmroll.azure.images import ResolvedImage
from vmroll.plan.naming import computer_name
from vmroll.plan.ownership import CAPTURE_UID_TAG, POOL_UID_TAG, REVISION_TAG, PoolIdentity, vm_tags

NETWORK_API_VERSION = "2020-11-01"

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class OsDiskSpec:
    ephemeral: bool = False
    size_gb: int | None = None
    storage_account_type: str | None = None


@dataclass(frozen=True)
class VmSpec:
    """One VM to create for a pool at a revision."""

    name: str
    location: str
    size: str
    image: ResolvedImage
    subnet_id: str
    admin_username: str
    owner: PoolIdentity
    revision: str
    ssh_public_keys: tuple[str, ...] = ()
    zone: str | None = None
    os_disk: OsDiskSpec = field(default_factory=OsDiskSpec)
    custom_data: bytes | None = field(default=None, repr=False)
    """Cloud-init may hold secrets: never shown in a repr."""
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)
    restart: str | None = None
    """The pool's restart stamp, tagged on the VM (`vmroll.io_restarted-at`)."""
    all_tags: Mapping[str, str] | None = field(default=None, hash=False)
    """The whole tag set of a VM that is not a pool's, in place of the pool's tags."""


_IDENTITY_TAGS = (POOL_UID_TAG, REVISION_TAG, CAPTURE_UID_TAG)


def spec_tags(spec: VmSpec) -> dict[str, str]:
    """The tags the create writes; `ValueError` when the user's use vmroll's prefix or are too
    many."""
    if spec.all_tags is not None:
        return dict(spec.all_tags)
    return vm_tags(spec.tags, spec.owner, spec.revision, spec.image.resolved_version, spec.restart)


def made_by(spec: VmSpec, tags: Mapping[str, str]) -> bool:
    """Whether a VM with `tags` is what this create makes: it carries the create's identity tags
    (pool UID and revision, or capture UID), so a create refused because the VM exists was an
    earlier send of this same create (its answer lost), not a name held by another VM."""
    wanted = {name: value for name, value in spec_tags(spec).items() if name in _IDENTITY_TAGS}
    return bool(wanted) and all(tags.get(name) == value for name, value in wanted.items())


def build_vm_body(spec: VmSpec) -> JsonObject:
    """The create body; `ValueError` when the user's tags use vmroll's prefix or are too many."""
    properties: JsonObject = {
        "hardwareProfile": {"vmSize": spec.size},
        "storageProfile": {
            "imageReference": _image_reference(spec.image),
            "osDisk": _os_disk(spec.os_disk),
        },
        "osProfile": _os_profile(spec),
        "networkProfile": _network_profile(spec),
    }
    body: JsonObject = {
        "location": spec.location,
        "tags": spec_tags(spec),
        "properties": properties,
    }
    if spec.zone is not None:
        body["zones"] = [spec.zone]
    plan = spec.image.plan
    if plan is not None:
        body["plan"] = {"name": plan.name, "publisher": plan.publisher, "product": plan.product}
    return body


def _image_reference(image: ResolvedImage) -> JsonObject:
    return dict(image.image_reference)


def _os_disk(disk: OsDiskSpec) -> JsonObject:
    os_disk: JsonObject = {"createOption": "FromImage", "deleteOption": "Delete"}
    if disk.ephemeral:
        # Ephemeral OS disks live in the VM's cache and must be read-only cached.
        os_disk["caching"] = "ReadOnly"
        os_disk["diffDiskSettings"] = {"option": "Local", "placement": "ResourceDisk"}
    else:
        os_disk["caching"] = "ReadWrite"
    if disk.size_gb is not None:
        os_disk["diskSizeGB"] = disk.size_gb
    if disk.storage_account_type is not None:
        os_disk["managedDisk"] = {"storageAccountType": disk.storage_account_type}
    return os_disk


def _os_profile(spec: VmSpec) -> JsonObject:
    keys: list[JsonObject] = [
        {"path": f"/home/{spec.admin_username}/.ssh/authorized_keys", "keyData": key}
        for key in spec.ssh_public_keys
    ]
    profile: JsonObject = {
        "computerName": computer_name(spec.name),
        "adminUsername": spec.admin_username,
        "linuxConfiguration": {
            "disablePasswordAuthentication": True,
            "ssh": {"publicKeys": keys},
        },
    }
    if spec.custom_data is not None:
        profile["customData"] = base64.b64encode(spec.custom_data).decode("ascii")
    return profile


def _network_profile(spec: VmSpec) -> JsonObject:
    return {
        "networkApiVersion": NETWORK_API_VERSION,
        "networkInterfaceConfigurations": [
            {
                "name": f"{spec.name}-nic",
                "properties": {
                    "primary": True,
                    "deleteOption": "Delete",
                    "ipConfigurations": [
                        {
                            "name": "ipconfig1",
                            "properties": {"primary": True, "subnet": {"id": spec.subnet_id}},
                        }
                    ],
                },
            }
        ],
    }
