"""Compute galleries and managed images through the real async ComputeManagementClient."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import admin_session

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

GALLERY = "vmrollGallery"
PAGE_SIZE = 2


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """Small pages, so that listing the four ubuntu-web versions follows a nextLink."""
    return emulator_catalog.model_copy(update={"page_size": PAGE_SIZE})


async def publish_gallery_version(emulator: Emulator, body: dict[str, Any]) -> int:
    async with (
        admin_session(emulator) as session,
        session.post(
            f"{emulator.base_url}/_emulator/images/gallery/versions", json=body
        ) as response,
    ):
        return response.status


async def test_galleries_are_listed_by_group_and_subscription(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    by_group = [g async for g in compute_client.galleries.list_by_resource_group("rg-vmroll")]
    everywhere = [g async for g in compute_client.galleries.list()]
    elsewhere = [
        g async for g in compute_client.galleries.list_by_resource_group("rg-vmroll-eastus")
    ]
    gallery = await compute_client.galleries.get("rg-vmroll", GALLERY)

    assert [g.name for g in by_group] == [g.name for g in everywhere] == [GALLERY]
    assert elsewhere == []
    assert gallery.id == (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/rg-vmroll"
        f"/providers/Microsoft.Compute/galleries/{GALLERY}"
    )
    assert (gallery.location, gallery.provisioning_state) == ("westeurope", "Succeeded")


async def test_image_definitions_carry_their_identifier(
    compute_client: ComputeManagementClient,
) -> None:
    definitions = [
        i async for i in compute_client.gallery_images.list_by_gallery("rg-vmroll", GALLERY)
    ]
    web = await compute_client.gallery_images.get("rg-vmroll", GALLERY, "ubuntu-web")

    assert [i.name for i in definitions] == ["ubuntu-web", "ubuntu-canary", "rabbitmq-hardened"]
    assert (web.identifier.publisher, web.identifier.offer, web.identifier.sku) == (
        "vmroll",
        "ubuntu-web",
        "24_04",
    )
    assert (web.os_type, web.os_state, web.hyper_v_generation) == ("Linux", "Generalized", "V2")


async def test_versions_list_pages_and_reports_exclusion_and_targets(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    emulator.reset_counters()
    versions = [
        v
        async for v in compute_client.gallery_image_versions.list_by_gallery_image(
            "rg-vmroll", GALLERY, "ubuntu-web"
        )
    ]

    listed = emulator.request_counts()["operations"]["GalleryImageVersions_ListByGalleryImage"]
    assert listed["total"] == 2
    assert [v.name for v in versions] == ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    profile = {v.name: v.publishing_profile for v in versions}
    assert [n for n, p in profile.items() if p.exclude_from_latest] == ["1.2.0"]
    assert [r.name for r in profile["1.3.0"].target_regions] == ["West Europe"]
    assert [r.name for r in profile["1.1.0"].target_regions] == ["West Europe", "East US"]


async def test_get_version_expands_replication_status(
    compute_client: ComputeManagementClient,
) -> None:
    versions = compute_client.gallery_image_versions
    plain = await versions.get("rg-vmroll", GALLERY, "ubuntu-web", "1.3.0")
    expanded = await versions.get(
        "rg-vmroll", GALLERY, "ubuntu-web", "1.3.0", expand="ReplicationStatus"
    )

    assert plain.replication_status is None
    assert expanded.replication_status.aggregated_state == "Completed"
    assert [(s.region, s.state, s.progress) for s in expanded.replication_status.summary] == [
        ("West Europe", "Completed", 100)
    ]
    assert plain.storage_profile.os_disk_image.size_in_gb == 30


async def test_a_version_published_at_run_time_is_listed(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    status = await publish_gallery_version(
        emulator,
        {
            "subscriptionId": emulator.credentials.subscription_id,
            "resourceGroup": "rg-vmroll",
            "gallery": GALLERY,
            "image": "ubuntu-web",
            "name": "1.10.0",
            "targetRegions": ["westeurope", {"name": "eastus", "state": "Replicating"}],
        },
    )
    fetched = await compute_client.gallery_image_versions.get(
        "rg-vmroll", GALLERY, "ubuntu-web", "1.10.0", expand="ReplicationStatus"
    )

    assert status == 201
    assert fetched.replication_status.aggregated_state == "InProgress"
    assert fetched.publishing_profile.published_date is not None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"image": "no-such-image", "name": "1.0.0", "targetRegions": ["eastus"]}, 404),
        ({"image": "ubuntu-web", "name": "1.0.0", "targetRegions": ["eastus"]}, 409),
        ({"image": "ubuntu-web", "name": "1.0.0.0", "targetRegions": ["eastus"]}, 400),
        ({"image": "ubuntu-web", "name": "2.0.0", "targetRegions": []}, 400),
    ],
    ids=["unknown-definition", "existing-version", "bad-version", "no-target-regions"],
)
async def test_publishing_refuses_bad_requests(
    emulator: Emulator, body: dict[str, Any], status: int
) -> None:
    where = {
        "subscriptionId": emulator.credentials.subscription_id,
        "resourceGroup": "rg-vmroll",
        "gallery": GALLERY,
    }
    assert await publish_gallery_version(emulator, {**where, **body}) == status


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda c: c.galleries.get("rg-vmroll", "noGallery"),
            "The Resource 'Microsoft.Compute/galleries/noGallery' under resource group "
            "'rg-vmroll' was not found.",
        ),
        (
            lambda c: c.gallery_images.get("rg-vmroll", GALLERY, "nothing"),
            f"'Microsoft.Compute/galleries/{GALLERY}/images/nothing'",
        ),
        (
            lambda c: c.gallery_image_versions.get("rg-vmroll", GALLERY, "ubuntu-web", "9.9.9"),
            f"'Microsoft.Compute/galleries/{GALLERY}/images/ubuntu-web/versions/9.9.9'",
        ),
        (
            lambda c: c.images.get("rg-vmroll", "no-image"),
            "The Resource 'Microsoft.Compute/images/no-image' under resource group 'rg-vmroll'",
        ),
    ],
    ids=["gallery", "definition", "version", "managed-image"],
)
async def test_missing_resources_are_not_found(
    compute_client: ComputeManagementClient, call: Any, message: str
) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        await call(compute_client)
    assert caught.value.error is not None
    assert caught.value.error.code == "ResourceNotFound"
    assert message in caught.value.error.message


async def test_managed_images_are_read_and_listed(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    image = await compute_client.images.get("rg-vmroll", "golden-ubuntu-2404")
    in_group = [i async for i in compute_client.images.list_by_resource_group("rg-vmroll-eastus")]
    everywhere = [i async for i in compute_client.images.list()]

    assert (image.location, image.storage_profile.os_disk.os_type) == ("westeurope", "Linux")
    assert image.storage_profile.os_disk.os_state == "Generalized"
    assert image.source_virtual_machine.id.endswith("/virtualMachines/image-builder")
    assert [i.name for i in in_group] == ["golden-ubuntu-2404-eastus"]
    assert sorted(i.name for i in everywhere) == ["golden-ubuntu-2404", "golden-ubuntu-2404-eastus"]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.galleries.get("rg-nowhere", GALLERY),
        lambda c: c.gallery_image_versions.get("rg-nowhere", GALLERY, "ubuntu-web", "1.0.0"),
        lambda c: c.images.get("rg-nowhere", "golden-ubuntu-2404"),
        lambda c: anext(aiter(c.galleries.list_by_resource_group("rg-nowhere"))),
        lambda c: anext(aiter(c.images.list_by_resource_group("rg-nowhere"))),
    ],
    ids=["gallery", "gallery-version", "managed-image", "galleries-in-group", "images-in-group"],
)
async def test_an_unknown_resource_group_is_not_found(
    compute_client: ComputeManagementClient, call: Any
) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        await call(compute_client)
    assert caught.value.error is not None
    assert (caught.value.error.code, caught.value.error.message) == (
        "ResourceGroupNotFound",
        "Resource group 'rg-nowhere' could not be found.",
    )
