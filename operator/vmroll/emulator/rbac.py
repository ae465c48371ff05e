"""Role-based access control as ARM applies it: an action on a scope, covered by a role assignment.

The action is derived from the request as Azure names it (`Microsoft.Compute/virtualMachines/write`,
`.../start/action`), and a principal may perform it when one of its assignments' scopes contains
the request's path and the role's action patterns match. Pure functions over the catalog.
"""

from __future__ import annotations

import fnmatch

from vmroll.emulator.catalog import Catalog, Principal
from vmroll.emulator.errors import ArmError

ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "Owner": ("*",),
    "Contributor": ("*",),
    "Reader": ("*/read",),
    "Virtual Machine Contributor": (
        "*/read",
        "Microsoft.Compute/virtualMachines/*",
        "Microsoft.Compute/disks/*",
        "Microsoft.Network/networkInterfaces/*",
        "Microsoft.Network/virtualNetworks/subnets/join/action",
    ),
}


def arm_action(method: str, path: str) -> str:
    """The RBAC action of an ARM request, e.g. POST .../virtualMachines/vm/start."""
    segments = [s for s in path.split("/") if s]
    lowered = [s.lower() for s in segments]
    if "providers" in lowered:
        rest = segments[lowered.index("providers") + 1 :]
        namespace, rest = (rest[0], rest[1:]) if rest else ("Microsoft.Resources", [])
    elif "resourcegroups" in lowered:
        namespace, rest = "Microsoft.Resources", ["resourceGroups", *segments[3:]]
    else:
        namespace, rest = "Microsoft.Resources", ["subscriptions"]
    types = rest[0::2]
    if method == "POST" and len(rest) % 2 == 1 and len(rest) > 1:
        return "/".join([namespace, *types[:-1], types[-1], "action"])
    verb = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(method, "write")
    return "/".join([namespace, *types, verb])


def _contains(scope: str, path: str) -> bool:
    scope = scope.rstrip("/").lower()
    path = path.rstrip("/").lower()
    return path == scope or path.startswith(scope + "/")


def authorize(catalog: Catalog, principal: Principal, method: str, path: str) -> None:
    """Raise ARM's 403 AuthorizationFailed unless an assignment covers this request."""
    action = arm_action(method, path)
    for assignment in catalog.role_assignments:
        if assignment.principal not in (principal.name, principal.client_id):
            continue
        if not _contains(assignment.scope, path):
            continue
        patterns = ROLE_ACTIONS[assignment.role]
        if any(fnmatch.fnmatch(action.lower(), p.lower()) for p in patterns):
            return
    raise ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{principal.client_id}' with object id '{principal.object_id}' does not "
        f"have authorization to perform action '{action}' over scope '{path.rstrip('/')}' or the "
        "scope is invalid. If access was recently granted, please refresh your credentials.",
    )
