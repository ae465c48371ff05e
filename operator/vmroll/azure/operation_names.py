"""A bounded name for each ARM request: its operation, never its URL.

Metrics label Azure requests by operation. A raw URL carries VM names, resource groups and
operation ids, one new series per VM; the operation is what the request does. The requests vmroll
sends get ARM's operationId (`VirtualMachines_CreateOrUpdate`), the same names the Azure REST
specs and the emulator's counters use; any other path gets its template, the method and the path
with every name replaced by `{}`, which stays bounded because only resource types, provider
namespaces and action names are kept.
"""

from __future__ import annotations

from urllib.parse import urlsplit

OTHER = "Other"
"""A request outside ARM's resource paths (no subscription or provider in it)."""

_RG = "/subscriptions/{}/resourceGroups/{}/providers"
_SUB = "/subscriptions/{}/providers"
_VM = f"{_RG}/Microsoft.Compute/virtualMachines/{{}}"
_IMAGE_VERSIONS = (
    f"{_SUB}/Microsoft.Compute/locations/{{}}/publishers/{{}}/artifacttypes/vmimage/offers/{{}}"
    "/skus/{}/versions"
)
_GALLERY_VERSIONS = f"{_RG}/Microsoft.Compute/galleries/{{}}/images/{{}}/versions"
_TERMS = (
    f"{_SUB}/Microsoft.MarketplaceOrdering/offerTypes/{{}}/publishers/{{}}/offers/{{}}/plans/{{}}"
    "/agreements/current"
)
_VM_ACTIONS = ("start", "powerOff", "deallocate", "restart", "reimage", "redeploy")

KNOWN: dict[tuple[str, str], str] = {
    ("GET", f"{_RG}/Microsoft.Compute/virtualMachines"): "VirtualMachines_List",
    ("GET", f"{_SUB}/Microsoft.Compute/virtualMachines"): "VirtualMachines_ListAll",
    ("GET", _VM): "VirtualMachines_Get",
    ("PUT", _VM): "VirtualMachines_CreateOrUpdate",
    ("PATCH", _VM): "VirtualMachines_Update",
    ("DELETE", _VM): "VirtualMachines_Delete",
    ("GET", f"{_VM}/instanceView"): "VirtualMachines_InstanceView",
    **{
        ("POST", f"{_VM}/{action}"): f"VirtualMachines_{action[0].upper()}{action[1:]}"
        for action in _VM_ACTIONS
    },
    ("GET", f"{_SUB}/Microsoft.Compute/locations/{{}}/operations/{{}}"): (
        "ComputeOperations_GetStatus"
    ),
    ("GET", _IMAGE_VERSIONS): "VirtualMachineImages_List",
    ("GET", f"{_IMAGE_VERSIONS}/{{}}"): "VirtualMachineImages_Get",
    ("GET", _GALLERY_VERSIONS): "GalleryImageVersions_ListByGalleryImage",
    ("GET", f"{_GALLERY_VERSIONS}/{{}}"): "GalleryImageVersions_Get",
    ("GET", f"{_RG}/Microsoft.Compute/images/{{}}"): "Images_Get",
    ("GET", _TERMS): "MarketplaceAgreements_Get",
    ("PUT", _TERMS): "MarketplaceAgreements_Create",
}
"""(method, path template) -> ARM operationId, for every request vmroll sends."""

_BY_SHAPE = {
    (method, tuple(s.lower() for s in template.strip("/").split("/"))): name
    for (method, template), name in KNOWN.items()
}


def arm_operation(method: str, url: str) -> str:
    """The operation of a request to `url` (absolute or a path; its query is ignored)."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    method = method.upper()
    for (known_method, shape), name in _BY_SHAPE.items():
        if known_method == method and _fits(shape, segments):
            return name
    template = path_template(segments)
    return OTHER if template is None else f"{method} {template}"


def _fits(shape: tuple[str, ...], segments: list[str]) -> bool:
    return len(shape) == len(segments) and all(
        part == "{}" or part == segment.lower()
        for part, segment in zip(shape, segments, strict=True)
    )


def path_template(segments: list[str]) -> str | None:
    """ARM's path grammar with names blanked: `subscriptions/{}`, `resourceGroups/{}`,
    `providers/<Namespace>`, then resource type / name pairs (an odd last segment is a collection
    or an action). None when the path is not an ARM resource path."""
    if not segments or segments[0].lower() not in ("subscriptions", "providers"):
        return None
    kept: list[str] = []
    index = 0
    while index < len(segments) and segments[index].lower() != "providers":
        kept.append(segments[index])
        if index + 1 < len(segments):
            kept.append("{}")
        index += 2
    if index < len(segments):
        kept.append(segments[index])
        if index + 1 < len(segments):
            kept.append(segments[index + 1])
        for position, segment in enumerate(segments[index + 2 :]):
            kept.append(segment if position % 2 == 0 else "{}")
    return "/" + "/".join(kept)
