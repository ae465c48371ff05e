"""Marketplace images through the real async ComputeManagementClient, per region, over HTTPS."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import admin_session

from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

UBUNTU = ("Canonical", "ubuntu-24_04-lts", "server")


async def publish(emulator: Emulator, kind: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
    """POST to the images admin API, as a test or demo publishes a version at run time."""
    async with admin_session(emulator) as session:
        response = await session.post(
            f"{emulator.base_url}/_emulator/images/{kind}/versions", json=body
        )
        await response.read()
        return response


async def latest(client: ComputeManagementClient, location: str, urn: tuple[str, ...]) -> str:
    """The operator's (and the Azure CLI's) way to resolve `latest`."""
    [top] = await client.virtual_machine_images.list(location, *urn, top=1, orderby="name desc")
    return str(top.name)


async def test_publishers_offers_and_skus_are_listed_per_region(
    compute_client: ComputeManagementClient,
) -> None:
    images = compute_client.virtual_machine_images
    publishers = await images.list_publishers("westeurope")
    offers = await images.list_offers("westeurope", "Canonical")
    skus = await images.list_skus("westeurope", "Canonical", "ubuntu-24_04-lts")

    assert {"Canonical", "bitnami"} <= {p.name for p in publishers}
    assert {o.name for o in offers} == {"ubuntu-22_04-lts", "ubuntu-24_04-lts"}
    assert {s.name for s in skus} == {"server", "server-arm64"}
    assert all(s.location == "westeurope" for s in skus)
    assert skus[0].id.startswith(
        f"/Subscriptions/{compute_client._config.subscription_id}/Providers/Microsoft.Compute"
        "/Locations/westeurope/Publishers/Canonical/ArtifactTypes/VMImage/Offers/ubuntu-24_04-lts"
    )


async def test_versions_list_is_ascending_and_honours_orderby_and_top(
    compute_client: ComputeManagementClient,
) -> None:
    images = compute_client.virtual_machine_images
    everything = await images.list("westeurope", *UBUNTU)
    newest_two = await images.list("westeurope", *UBUNTU, top=2, orderby="name desc")

    assert [v.name for v in everything] == [
        "24.04.202608110",
        "24.04.202609160",
        "24.04.202610220",
        "24.04.202611100",
    ]
    assert [v.name for v in newest_two] == ["24.04.202611100", "24.04.202610220"]


@pytest.mark.parametrize(
    ("location", "expected"),
    [("westeurope", "24.04.202611100"), ("eastus", "24.04.202610220")],
)
async def test_latest_resolves_per_region(
    compute_client: ComputeManagementClient, location: str, expected: str
) -> None:
    assert await latest(compute_client, location, UBUNTU) == expected


async def test_latest_compares_versions_as_numbers(
    compute_client: ComputeManagementClient,
) -> None:
    assert await latest(compute_client, "eastus", ("bitnami", "rabbitmq", "rabbitmq")) == "4.0.18"


async def test_get_version_reports_plan_generation_and_os(
    compute_client: ComputeManagementClient,
) -> None:
    images = compute_client.virtual_machine_images
    paid = await images.get("eastus", "bitnami", "rabbitmq", "rabbitmq", "4.0.9")
    free = await images.get("westeurope", *UBUNTU, "24.04.202608110")

    assert paid.plan is not None
    assert (paid.plan.publisher, paid.plan.product, paid.plan.name) == (
        "bitnami",
        "rabbitmq",
        "rabbitmq",
    )
    assert (paid.hyper_v_generation, paid.os_disk_image.operating_system) == ("V1", "Linux")
    assert free.plan is None
    assert free.image_deprecation_status.image_state == "ScheduledForDeprecation"
    assert free.architecture == "x64"


async def test_list_with_properties_returns_full_images(
    compute_client: ComputeManagementClient,
) -> None:
    full = await compute_client.virtual_machine_images.list_with_properties(
        "eastus", "bitnami", "rabbitmq", "rabbitmq", expand="Properties", top=1, orderby="name desc"
    )
    assert [(v.name, v.plan is not None) for v in full] == [("4.0.18", True)]


@pytest.mark.parametrize(
    "call",
    [
        lambda images: images.get("eastus", *UBUNTU, "24.04.202611100"),
        lambda images: images.get("westeurope", *UBUNTU, "24.04.209912310"),
        lambda images: images.list("northeurope", *UBUNTU),
        lambda images: images.list("eastus", "Canonical", "ubuntu-24_04-lts", "desktop"),
        lambda images: images.list_skus("eastus", "Canonical", "no-such-offer"),
        lambda images: images.list_offers("eastus", "NoSuchPublisher"),
    ],
    ids=[
        "version-offered-elsewhere",
        "unknown-version",
        "region-without-image",
        "unknown-sku",
        "unknown-offer",
        "unknown-publisher",
    ],
)
async def test_what_a_region_does_not_offer_is_not_found(
    compute_client: ComputeManagementClient, call: Any
) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        await call(compute_client.virtual_machine_images)
    assert caught.value.error is not None
    assert (caught.value.error.code, caught.value.error.message) == (
        "NotFound",
        "Artifact: VMImage was not found.",
    )


async def test_region_without_any_image_lists_no_publishers(
    compute_client: ComputeManagementClient,
) -> None:
    assert await compute_client.virtual_machine_images.list_publishers("northeurope") == []


@pytest.mark.parametrize(
    ("kwargs", "target"),
    [({"orderby": "location desc"}, "$orderby"), ({"top": -1}, "$top")],
)
async def test_bad_query_options_are_refused(
    compute_client: ComputeManagementClient, kwargs: dict[str, Any], target: str
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        await compute_client.virtual_machine_images.list("eastus", *UBUNTU, **kwargs)
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert (caught.value.error.code, caught.value.error.target) == ("InvalidParameter", target)


async def test_a_version_published_at_run_time_becomes_latest_where_offered(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    response = await publish(
        emulator,
        "marketplace",
        {
            "publisher": "Canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "version": "24.04.202611250",
            "locations": ["eastus"],
        },
    )

    assert response.status == 201
    assert await latest(compute_client, "eastus", UBUNTU) == "24.04.202611250"
    assert await latest(compute_client, "westeurope", UBUNTU) == "24.04.202611100"


async def test_a_new_sku_published_at_run_time_is_listed(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    for version in ("1.0.9", "1.0.18"):
        body = {"publisher": "vmroll", "offer": "demo", "sku": "base", "version": version}
        response = await publish(emulator, "marketplace", {**body, "locations": ["westeurope"]})
        assert response.status == 201

    skus = await compute_client.virtual_machine_images.list_skus("westeurope", "vmroll", "demo")
    assert [s.name for s in skus] == ["base"]
    assert await latest(compute_client, "westeurope", ("vmroll", "demo", "base")) == "1.0.18"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (
            {
                "publisher": "Canonical",
                "offer": "ubuntu-24_04-lts",
                "sku": "server",
                "version": "24.04.202611100",
                "locations": ["eastus"],
            },
            409,
        ),
        ({"publisher": "p", "offer": "o", "sku": "s", "version": "1.0", "locations": ["x"]}, 400),
        ({"publisher": "p", "offer": "o", "sku": "s", "version": "1.0.0"}, 400),
    ],
    ids=["existing-version", "bad-version", "no-locations"],
)
async def test_publishing_refuses_bad_requests(
    emulator: Emulator, body: dict[str, Any], status: int
) -> None:
    response = await publish(emulator, "marketplace", body)
    assert response.status == status


async def test_inventory_lists_catalog_and_run_time_publications(emulator: Emulator) -> None:
    body = {**dict(zip(("publisher", "offer", "sku"), UBUNTU, strict=True))}
    await publish(
        emulator, "marketplace", {**body, "version": "24.04.202611250", "locations": ["eastus"]}
    )
    async with (
        admin_session(emulator) as session,
        session.get(f"{emulator.base_url}/_emulator/images") as response,
    ):
        inventory = await response.json()

    ubuntu = next(i for i in inventory["marketplace"] if (i["offer"], i["sku"]) == UBUNTU[1:])
    assert "24.04.202611250" in [v["version"] for v in ubuntu["versions"]]
    assert [p["version"] for p in inventory["publications"]] == ["24.04.202611250"]
    assert {g["name"] for g in inventory["galleries"]} == {"vmrollGallery"}
    assert inventory["agreements"] == []


async def test_deprecated_versions_answer_get_but_are_not_listed(
    compute_client: ComputeManagementClient,
) -> None:
    images = compute_client.virtual_machine_images
    urn = ("Canonical", "ubuntu-22_04-lts", "server")
    listed = await images.list("eastus", *urn)
    deprecated = await images.get("eastus", *urn, "22.04.202601150")

    assert [v.name for v in listed] == ["22.04.202610150"]
    assert deprecated.image_deprecation_status.image_state == "Deprecated"
