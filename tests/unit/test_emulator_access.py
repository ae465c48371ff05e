"""RBAC actions derived from requests, role scopes, and the AuthorizationFailed message."""

from __future__ import annotations

import pytest

from vmroll.emulator.catalog import RoleAssignment, load_catalog
from vmroll.emulator.errors import ArmError
from vmroll.emulator.rbac import arm_action, authorize

SUB = "/subscriptions/00000000-0000-4000-8000-00000000a001"
VM = f"{SUB}/resourceGroups/rg-vmroll/providers/Microsoft.Compute/virtualMachines/web-0"


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("GET", VM, "Microsoft.Compute/virtualMachines/read"),
        ("PUT", VM, "Microsoft.Compute/virtualMachines/write"),
        ("PATCH", VM, "Microsoft.Compute/virtualMachines/write"),
        ("DELETE", VM, "Microsoft.Compute/virtualMachines/delete"),
        ("POST", f"{VM}/start", "Microsoft.Compute/virtualMachines/start/action"),
        ("POST", f"{VM}/reimage", "Microsoft.Compute/virtualMachines/reimage/action"),
        ("GET", f"{VM}/instanceView", "Microsoft.Compute/virtualMachines/instanceView/read"),
        (
            "GET",
            f"{SUB}/providers/Microsoft.Compute/locations/westeurope/operations/op",
            "Microsoft.Compute/locations/operations/read",
        ),
        ("GET", f"{SUB}/resourceGroups/rg-vmroll", "Microsoft.Resources/resourceGroups/read"),
        ("GET", SUB, "Microsoft.Resources/subscriptions/read"),
    ],
)
def test_actions_are_named_as_azure_names_them(method: str, path: str, action: str) -> None:
    assert arm_action(method, path) == action


def _catalog_with(*assignments: RoleAssignment):  # type: ignore[no-untyped-def]
    return load_catalog().model_copy(update={"role_assignments": list(assignments)})


@pytest.mark.parametrize(
    ("role", "scope", "method", "allowed"),
    [
        ("Contributor", SUB, "PUT", True),
        ("Reader", SUB, "GET", True),
        ("Reader", SUB, "PUT", False),
        ("Reader", f"{SUB}/resourceGroups/rg-other", "GET", False),
        ("Reader", f"{SUB}/resourceGroups/RG-VMROLL", "GET", True),
        ("Virtual Machine Contributor", f"{SUB}/resourceGroups/rg-vmroll", "DELETE", True),
        ("Owner", f"{SUB}/resourceGroups/rg-vmroll-eastus", "GET", False),
    ],
    ids=[
        "contributor",
        "reader-reads",
        "reader-cannot-write",
        "other-group",
        "case-insensitive-scope",
        "vm-contributor",
        "prefix-is-not-a-parent",
    ],
)
def test_assignments_cover_requests(role: str, scope: str, method: str, allowed: bool) -> None:
    catalog = _catalog_with(RoleAssignment(principal="vmroll-reader", role=role, scope=scope))
    principal = next(p for p in catalog.principals if p.name == "vmroll-reader")

    if allowed:
        authorize(catalog, principal, method, VM)
        return
    with pytest.raises(ArmError) as raised:
        authorize(catalog, principal, method, VM)
    assert raised.value.status == 403
    assert raised.value.code == "AuthorizationFailed"
    assert raised.value.message.startswith(
        f"The client '{principal.client_id}' with object id '{principal.object_id}' does not "
        f"have authorization to perform action '{arm_action(method, VM)}' over scope '{VM}'"
    )
