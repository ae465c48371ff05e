"""The request checks Azure makes before accepting a VM write, with Azure's codes and wording.

Pure functions that raise `ArmError`: resource names, tag names and values, and required fields.
Capacity checks (sizes, quotas, subnets) need the catalog and live in `vms`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from vmroll.emulator.errors import ArmError

_VM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_FORBIDDEN_TAG_CHARACTERS = "<>%&\\?/"
MAX_TAGS = 50
MAX_TAG_NAME = 512
MAX_TAG_VALUE = 256


def vm_name_problem(name: str, os_type: str = "Linux") -> str | None:
    """Why Azure would refuse this VM name, or None when it is acceptable."""
    limit = 15 if os_type == "Windows" else 64
    if not 1 <= len(name) <= limit:
        return f"the name must be 1 to {limit} characters long for a {os_type} VM"
    if not _VM_NAME.match(name):
        return (
            "the name may contain only letters, digits, hyphens, periods and underscores, "
            "and must start with a letter or digit"
        )
    if name.endswith((".", "-")):
        return "the name must not end with a period or a hyphen"
    if os_type == "Windows" and "." in name:
        return "a Windows VM name must not contain a period"
    return None


def check_vm_name(name: str, os_type: str = "Linux") -> None:
    problem = vm_name_problem(name, os_type)
    if problem is not None:
        raise ArmError(
            400,
            "InvalidParameter",
            f"The value '{name}' of parameter 'vmName' is invalid: {problem}.",
            target="vmName",
        )


def check_tags(tags: Any) -> None:
    """ARM's tag rules: at most 50, names up to 512 and values up to 256 characters."""
    if tags is None:
        return
    if not isinstance(tags, Mapping) or not all(isinstance(v, str) for v in tags.values()):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: "
            "'tags' must be an object of string values.",
        )
    if len(tags) > MAX_TAGS:
        raise ArmError(
            400,
            "InvalidTagCount",
            f"The tag count '{len(tags)}' exceeds the maximum of '{MAX_TAGS}' tags per resource.",
        )
    bad = [n for n in tags if any(c in _FORBIDDEN_TAG_CHARACTERS or ord(c) < 32 for c in n)]
    if bad:
        raise ArmError(
            400,
            "InvalidTagNameCharacters",
            f"The tag names '{','.join(bad)}' have reserved characters '<,>,%,&,\\,?,/' or "
            "control characters.",
        )
    for name, value in tags.items():
        if len(name) > MAX_TAG_NAME:
            raise ArmError(
                400,
                "InvalidTagNameLength",
                f"The tag name '{name}' exceeds the maximum length of '{MAX_TAG_NAME}' characters.",
            )
        if len(value) > MAX_TAG_VALUE:
            raise ArmError(
                400,
                "InvalidTagValueLength",
                f"The tag value '{value}' exceeds the maximum length of '{MAX_TAG_VALUE}' "
                "characters.",
            )


def lookup(body: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a JSON object, or None when any step is missing."""
    node: Any = body
    for step in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(step)
    return node


def require(properties: Mapping[str, Any], path: str) -> Any:
    """Compute's answer to a missing required property of the VM's `properties`."""
    value = lookup(properties, path)
    if value is None or value == "":
        raise ArmError(
            400,
            "InvalidParameter",
            f"Required parameter '{path}' is missing (null).",
            target=path,
        )
    return value


def check_create_request(body: Mapping[str, Any]) -> None:
    """Fields a new VM must carry, in the order Compute reports them."""
    if not isinstance(body.get("location"), str) or not body["location"]:
        raise ArmError(
            400, "LocationRequired", "The location property is required for this definition."
        )
    properties = body.get("properties")
    if not isinstance(properties, Mapping):
        raise ArmError(
            400,
            "InvalidParameter",
            "Required parameter 'properties' is missing (null).",
            target="properties",
        )
    require(properties, "hardwareProfile.vmSize")
    attach = lookup(properties, "storageProfile.osDisk.createOption") == "Attach"
    if not attach:
        require(properties, "storageProfile.imageReference")
        require(properties, "osProfile.adminUsername")
    network = require(properties, "networkProfile")
    if not network.get("networkInterfaces") and not network.get("networkInterfaceConfigurations"):
        raise ArmError(
            400,
            "InvalidParameter",
            "Required parameter 'networkProfile.networkInterfaces' is missing (null).",
            target="networkProfile.networkInterfaces",
        )
    if network.get("networkInterfaceConfigurations"):
        require(properties, "networkProfile.networkApiVersion")


IMMUTABLE_PROPERTIES = (
    "storageProfile.imageReference",
    "osProfile.adminUsername",
    "osProfile.computerName",
)


def _comparable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _comparable(v) for k, v in value.items() if k != "exactVersion"}
    return value.lower() if isinstance(value, str) else value


def check_unchanged(current: Mapping[str, Any], requested: Mapping[str, Any], group: str) -> None:
    """What a PUT on an existing VM may not change: its region, image, admin and computer name."""
    location = requested.get("location")
    if isinstance(location, str) and location.replace(" ", "").lower() != current["location"]:
        raise ArmError(
            409,
            "InvalidResourceLocation",
            f"The resource '{current['name']}' already exists in location "
            f"'{current['location']}' in resource group '{group}'. A resource with the same "
            f"name cannot be created in location '{location}'. Please select a new resource name.",
        )
    wanted_properties = requested.get("properties") or {}
    for path in IMMUTABLE_PROPERTIES:
        wanted = lookup(wanted_properties, path)
        if wanted is not None and _comparable(wanted) != _comparable(
            lookup(current["properties"], path)
        ):
            raise ArmError(
                409,
                "PropertyChangeNotAllowed",
                f"Changing property '{path}' is not allowed.",
                target=path,
            )
