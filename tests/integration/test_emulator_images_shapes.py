"""Every image, gallery and agreement answer carries the fields of Microsoft's published example.

Each test drives the operation with the real SDK, captures the raw JSON body it received, and
checks that every key path of the x-ms-examples response is present with the same kind of value
(object, array or scalar); values are not compared. The examples are the verbatim copies in
`azure_examples/` beside this file (their sources are in its SOURCES.md). The few paths
left out are listed with the reason Azure itself omits them for the emulator's images.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core.pipeline import PipelineResponse
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.marketplaceordering.aio import MarketplaceOrderingAgreements

from vmroll.emulator.catalog import Catalog

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parent / "azure_examples"
UBUNTU = ("Canonical", "ubuntu-24_04-lts", "server")
RABBIT = ("bitnami", "rabbitmq", "rabbitmq")

# Paths Azure leaves out of these answers, and why.
EDGE_ZONE_ONLY = {"$.extendedLocation", "$[0].extendedLocation"}  # edge zones: not emulated
UNTAGGED = {"$.tags", "$[0].tags"}  # platform images answer `tags` only when they have some
NOT_SCHEDULED = {  # only versions scheduled for deprecation carry a date and alternative
    "$.properties.imageDeprecationStatus.scheduledDeprecationTime",
    "$.properties.imageDeprecationStatus.alternativeOption",
}
FREE = {"$.properties.plan"}  # only paid images have a purchase plan
UNENCRYPTED = {  # no disk encryption sets in the emulator's galleries
    "$.properties.publishingProfile.targetRegions[0].encryption",
    "$.value[0].properties.publishingProfile.targetRegions[0].encryption",
}
NO_POLICY_VIOLATION = {  # listed only for versions reported for a policy violation
    "$.properties.safetyProfile.policyViolations",
    "$.value[0].properties.safetyProfile.policyViolations",
}
FROM_MANAGED_DISK = {  # an image has one source; the emulator's come from managed disks
    "$.properties.storageProfile.osDisk.blobUri",
    "$.properties.storageProfile.osDisk.snapshot",
}


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """Pages of two, so the gallery versions list answers a `nextLink` as the example does."""
    return emulator_catalog.model_copy(update={"page_size": 2})


def example_body(name: str) -> Any:
    return json.loads((EXAMPLES / f"{name}.json").read_text())["responses"]["200"]["body"]


def missing_paths(expected: Any, actual: Any, path: str = "$") -> set[str]:
    """Key paths of `expected` absent from `actual` or holding another kind of value."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return {path}
        missing: set[str] = set()
        for key, value in expected.items():
            if key not in actual:
                missing.add(f"{path}.{key}")
            else:
                missing |= missing_paths(value, actual[key], f"{path}.{key}")
        return missing
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return {path}
        if not expected or not actual:
            return set()
        return missing_paths(expected[0], actual[0], f"{path}[0]")
    return {path} if isinstance(actual, dict | list) else set()


def test_missing_paths_sees_absent_keys_and_changed_kinds() -> None:
    expected = {"a": {"b": 1, "c": [{"d": 1}]}, "e": 1}
    assert missing_paths(expected, {"a": {"b": 2, "c": [{"d": 3}]}, "e": 5}) == set()
    assert missing_paths(expected, {"a": {"c": [{}]}, "e": {}}) == {"$.a.b", "$.a.c[0].d", "$.e"}


class Captured:
    """A raw_response_hook: keeps the JSON bodies of the responses the SDK received."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def __call__(self, response: PipelineResponse[Any, Any]) -> None:
        self.bodies.append(response.http_response.json())


async def captured_body(call: Callable[[Captured], Any]) -> Any:
    captured = Captured()
    result = call(captured)
    if hasattr(result, "__aiter__"):
        [item async for item in result]
    else:
        await result
    return captured.bodies[0]


COMPUTE_CASES: list[tuple[str, Callable[[ComputeManagementClient, Captured], Any], set[str]]] = [
    (
        "VirtualMachineImages_Get__VirtualMachineImage_Get_MaximumSet_Gen",
        lambda c, hook: c.virtual_machine_images.get(
            "westeurope", *RABBIT, "4.0.18", raw_response_hook=hook
        ),
        EDGE_ZONE_ONLY | UNTAGGED | NOT_SCHEDULED,
    ),
    (
        "VirtualMachineImages_Get__VirtualMachineImage_Get_MaximumSet_Gen",
        lambda c, hook: c.virtual_machine_images.get(
            "westeurope", *UBUNTU, "24.04.202608110", raw_response_hook=hook
        ),
        EDGE_ZONE_ONLY | UNTAGGED | FREE,
    ),
    (
        "VirtualMachineImages_List__VirtualMachineImage_List_MaximumSet_Gen",
        lambda c, hook: c.virtual_machine_images.list(
            "westeurope", *UBUNTU, top=18, orderby="name desc", raw_response_hook=hook
        ),
        EDGE_ZONE_ONLY | UNTAGGED,
    ),
    (
        "VirtualMachineImages_List__VirtualMachineImage_List_MinimumSet_Gen",
        lambda c, hook: c.virtual_machine_images.list("eastus", *UBUNTU, raw_response_hook=hook),
        set(),
    ),
    (
        "VirtualMachineImages_ListOffers__VirtualMachineImage_ListOffers_MinimumSet_Gen",
        lambda c, hook: c.virtual_machine_images.list_offers(
            "eastus", "Canonical", raw_response_hook=hook
        ),
        set(),
    ),
    (
        "VirtualMachineImages_ListPublishers__VirtualMachineImage_ListPublishers_MinimumSet_Gen",
        lambda c, hook: c.virtual_machine_images.list_publishers("eastus", raw_response_hook=hook),
        set(),
    ),
    (
        "VirtualMachineImages_ListSkus__VirtualMachineImage_ListSkus_MinimumSet_Gen",
        lambda c, hook: c.virtual_machine_images.list_skus(
            "eastus", "Canonical", "ubuntu-24_04-lts", raw_response_hook=hook
        ),
        set(),
    ),
    (
        "GalleryImageVersions_Get__GalleryImageVersion_Get",
        lambda c, hook: c.gallery_image_versions.get(
            "rg-vmroll", "vmrollGallery", "ubuntu-web", "1.0.0", raw_response_hook=hook
        ),
        UNENCRYPTED | NO_POLICY_VIOLATION,
    ),
    (
        "GalleryImageVersions_ListByGalleryImage__GalleryImageVersion_ListByGalleryImage",
        lambda c, hook: c.gallery_image_versions.list_by_gallery_image(
            "rg-vmroll", "vmrollGallery", "ubuntu-web", raw_response_hook=hook
        ),
        UNENCRYPTED | NO_POLICY_VIOLATION,
    ),
    (
        "Images_Get__Image_Get",
        lambda c, hook: c.images.get("rg-vmroll", "golden-ubuntu-2404", raw_response_hook=hook),
        FROM_MANAGED_DISK,
    ),
]


@pytest.mark.parametrize(
    ("example", "call", "omitted"),
    COMPUTE_CASES,
    ids=[
        "image-get-paid",
        "image-get-scheduled-for-deprecation",
        "image-list-max",
        "image-list-min",
        "offers",
        "publishers",
        "skus",
        "gallery-version-get",
        "gallery-version-list",
        "managed-image-get",
    ],
)
async def test_compute_answers_carry_the_example_fields(
    compute_client: ComputeManagementClient,
    example: str,
    call: Callable[[ComputeManagementClient, Captured], Any],
    omitted: set[str],
) -> None:
    body = await captured_body(lambda hook: call(compute_client, hook))
    missing = missing_paths(example_body(example), body)
    assert missing <= omitted, sorted(missing - omitted)


TERMS_CASES: list[tuple[str, Callable[[MarketplaceOrderingAgreements, Captured], Any]]] = [
    (
        "MarketplaceAgreements_Get__GetMarketplaceTerms",
        lambda c, hook: c.marketplace_agreements.get(
            "virtualmachine", *RABBIT, raw_response_hook=hook
        ),
    ),
    (
        "MarketplaceAgreements_Create__SetMarketplaceTerms",
        lambda c, hook: c.marketplace_agreements.create(
            "virtualmachine",
            *RABBIT,
            {"properties": {"accepted": True}},
            raw_response_hook=hook,
        ),
    ),
    (
        "MarketplaceAgreements_Sign__SignMarketplaceTerms",
        lambda c, hook: c.marketplace_agreements.sign(*RABBIT, raw_response_hook=hook),
    ),
]


@pytest.mark.parametrize(
    ("example", "call"), TERMS_CASES, ids=["get-terms", "create-terms", "sign"]
)
async def test_marketplace_ordering_answers_carry_the_example_fields(
    terms_client: MarketplaceOrderingAgreements,
    example: str,
    call: Callable[[MarketplaceOrderingAgreements, Captured], Any],
) -> None:
    body = await captured_body(lambda hook: call(terms_client, hook))
    assert missing_paths(example_body(example), body) == set()


async def test_get_agreement_carries_the_example_fields(
    terms_client: MarketplaceOrderingAgreements,
) -> None:
    await terms_client.marketplace_agreements.sign(*RABBIT)
    body = await captured_body(
        lambda hook: terms_client.marketplace_agreements.get_agreement(
            *RABBIT, raw_response_hook=hook
        )
    )
    example = "MarketplaceAgreements_GetAgreement__GetAgreementMarketplaceTerms"
    assert missing_paths(example_body(example), body) == set()
