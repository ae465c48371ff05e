"""Sizes offered per region and cores quotas, with Azure's codes and wording."""

from __future__ import annotations

import pytest

from vmroll.emulator.capacity import check_cores_quota, offered_size
from vmroll.emulator.catalog import Catalog, Quota, VmSize, load_catalog
from vmroll.emulator.errors import ArmError
from vmroll.emulator.vm_model import VmRecord

SUB = "00000000-0000-4000-8000-00000000a001"
D4 = VmSize(name="Standard_D4s_v5", vcpus=4, family="standardDSv5Family")
B2 = VmSize(name="Standard_B2s", vcpus=2, family="standardBSFamily")


def _catalog(quota: Quota) -> Catalog:
    catalog = load_catalog()
    subscription = catalog.subscriptions[0].model_copy(update={"quotas": {"westeurope": quota}})
    return catalog.model_copy(update={"subscriptions": [subscription]})


def _vm(vcpus: int, family: str, location: str = "westeurope") -> VmRecord:
    return VmRecord(
        subscription_id=SUB,
        resource_group="rg-vmroll",
        name="existing",
        location=location,
        body={},
        vcpus=vcpus,
        family=family,
        os_type="Linux",
        exact_version="1.0.0",
        boots_unhealthy=False,
    )


def test_a_size_is_found_case_insensitively() -> None:
    size = offered_size(load_catalog(), "/vm", SUB, "westeurope", "standard_d2s_V5")

    assert (size.name, size.vcpus) == ("Standard_D2s_v5", 2)


def test_a_size_the_region_does_not_offer_is_sku_not_available() -> None:
    with pytest.raises(ArmError) as raised:
        offered_size(load_catalog(), "/vm/id", SUB, "westeurope", "Standard_NC6s_v3", ["1"])

    assert (raised.value.status, raised.value.code) == (409, "SkuNotAvailable")
    assert raised.value.message.startswith(
        "The requested size for resource '/vm/id' is currently not available in location "
        f"'westeurope' zones '1' for subscription '{SUB}'."
    )


@pytest.mark.parametrize(
    ("quota", "existing", "size", "exceeded"),
    [
        (Quota(total_regional_cores=8), [], D4, None),
        (Quota(total_regional_cores=8), [_vm(4, "standardDSv5Family")], D4, None),
        (Quota(total_regional_cores=8), [_vm(6, "standardBSFamily")], D4, "Total Regional Cores"),
        (Quota(total_regional_cores=8), [_vm(8, "x", location="eastus")], D4, None),
        (
            Quota(total_regional_cores=100, families={"standardBSFamily": 2}),
            [_vm(2, "standardBSFamily")],
            B2,
            "standardBSFamily",
        ),
        (
            Quota(total_regional_cores=100, families={"standardBSFamily": 2}),
            [_vm(2, "standardBSFamily")],
            D4,
            None,
        ),
    ],
    ids=[
        "fits",
        "fills-exactly",
        "regional-exceeded",
        "other-regions-do-not-count",
        "family-exceeded",
        "other-families-do-not-count",
    ],
)
def test_cores_quota(
    quota: Quota, existing: list[VmRecord], size: VmSize, exceeded: str | None
) -> None:
    catalog = _catalog(quota)

    if exceeded is None:
        check_cores_quota(catalog, SUB, "westeurope", size, existing)
        return
    with pytest.raises(ArmError) as raised:
        check_cores_quota(catalog, SUB, "westeurope", size, existing)
    assert (raised.value.status, raised.value.code) == (409, "OperationNotAllowed")
    assert f"exceeding approved {exceeded} quota" in raised.value.message
