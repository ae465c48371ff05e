"""ARM requests are named by operation, never by URL: the requests vmroll sends get ARM's
operationId (as the emulator counts them), anything else a template without names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmroll.azure.operation_names import KNOWN, OTHER, arm_operation

BASE = "https://management.azure.com"
SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333"
RG = f"{SUB}/resourceGroups/rg-web/providers"
VM = f"{RG}/Microsoft.Compute/virtualMachines/web-7f3a-0"
IMAGES = (
    f"{SUB}/providers/Microsoft.Compute/locations/westeurope/publishers/Canonical/artifacttypes/"
    "vmimage/offers/ubuntu-24_04-lts/skus/server/versions"
)
GALLERY = f"{RG}/Microsoft.Compute/galleries/g1/images/base/versions"
TERMS = (
    f"{SUB}/providers/Microsoft.MarketplaceOrdering/offerTypes/virtualmachine/publishers/p/"
    "offers/o/plans/pl/agreements/current"
)


@pytest.mark.parametrize(
    ("method", "url", "operation"),
    [
        pytest.param("GET", f"{RG}/Microsoft.Compute/virtualMachines", "VirtualMachines_List",
                     id="list-in-group"),
        pytest.param("GET", f"{SUB}/providers/Microsoft.Compute/virtualMachines",
                     "VirtualMachines_ListAll", id="list-in-subscription"),
        pytest.param("PUT", VM, "VirtualMachines_CreateOrUpdate", id="create"),
        pytest.param("DELETE", f"{BASE}{VM}?api-version=2024-07-01&forceDeletion=true",
                     "VirtualMachines_Delete", id="delete-absolute-with-query"),
        pytest.param("get", VM, "VirtualMachines_Get", id="method-case"),
        pytest.param("PATCH", VM, "VirtualMachines_Update", id="update"),
        pytest.param("GET", f"{VM}/instanceView", "VirtualMachines_InstanceView",
                     id="instance-view"),
        pytest.param("POST", f"{VM}/reimage", "VirtualMachines_Reimage", id="reimage"),
        pytest.param("POST", f"{VM}/powerOff", "VirtualMachines_PowerOff", id="action"),
        pytest.param("GET", f"{BASE}{SUB}/providers/Microsoft.Compute/locations/westeurope/"
                     "operations/5c4b1e9a-0000?api-version=2024-07-01&p=1",
                     "ComputeOperations_GetStatus", id="lro-poll"),
        pytest.param("GET", IMAGES, "VirtualMachineImages_List", id="image-versions"),
        pytest.param("GET", f"{IMAGES}/24.04.202610220", "VirtualMachineImages_Get",
                     id="image-version"),
        pytest.param("GET", GALLERY, "GalleryImageVersions_ListByGalleryImage",
                     id="gallery-versions"),
        pytest.param("GET", f"{GALLERY}/1.0.0", "GalleryImageVersions_Get", id="gallery-version"),
        pytest.param("GET", f"{RG}/Microsoft.Compute/images/golden", "Images_Get",
                     id="managed-image"),
        pytest.param("GET", TERMS, "MarketplaceAgreements_Get", id="terms"),
        pytest.param("PUT", TERMS, "MarketplaceAgreements_Create", id="accept-terms"),
        pytest.param("GET", VM.upper(), "VirtualMachines_Get", id="arm-paths-ignore-case"),
    ],
)  # fmt: skip
def test_the_requests_vmroll_sends_get_arm_operation_ids(
    method: str, url: str, operation: str
) -> None:
    assert arm_operation(method, url) == operation


@pytest.mark.parametrize(
    ("method", "url", "operation"),
    [
        pytest.param("GET", f"{RG}/Microsoft.Network/networkInterfaces/web-nic",
                     "GET /subscriptions/{}/resourceGroups/{}/providers/"
                     "Microsoft.Network/networkInterfaces/{}", id="other-resource"),
        pytest.param("POST", f"{VM}/runCommand",
                     "POST /subscriptions/{}/resourceGroups/{}/providers/"
                     "Microsoft.Compute/virtualMachines/{}/runCommand", id="other-action"),
        pytest.param("GET", f"{SUB}/resourcegroups/rg-web",
                     "GET /subscriptions/{}/resourcegroups/{}", id="no-provider"),
        pytest.param("GET", "/providers/Microsoft.Compute/operations",
                     "GET /providers/Microsoft.Compute/operations", id="tenant-level"),
        pytest.param("PUT", VM, "VirtualMachines_CreateOrUpdate", id="known-wins"),
        pytest.param("GET", "https://login.example/tenant/oauth2/v2.0/token", OTHER,
                     id="not-arm"),
        pytest.param("GET", "", OTHER, id="empty"),
    ],
)  # fmt: skip
def test_other_requests_get_a_template_without_names(method: str, url: str, operation: str) -> None:
    assert arm_operation(method, url) == operation


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)


@given(st.lists(names, min_size=5, max_size=5), st.sampled_from(["GET", "PUT", "POST", "DELETE"]))
def test_no_name_ever_reaches_the_operation(parts: list[str], method: str) -> None:
    """Names sit where ARM's grammar puts names; every one of them is blanked."""
    sub, group, vm, extension, status = parts
    url = (
        f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/"
        f"virtualMachines/{vm}/extensions/{extension}/statuses/{status}"
    )
    assert arm_operation(method, url) == (
        f"{method} /subscriptions/{{}}/resourceGroups/{{}}/providers/Microsoft.Compute/"
        "virtualMachines/{}/extensions/{}/statuses/{}"
    )


def test_every_known_operation_is_one_template() -> None:
    assert len(set(KNOWN.values())) == len(KNOWN)
