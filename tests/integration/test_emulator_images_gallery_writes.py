"""Publishing gallery image versions through ARM with the real SDK, as an image pipeline does.

The versions here copy a managed image, which the emulator replicates at once; captures from a
VM, which take time, are in test_emulator_captures.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

GALLERY = ("rg-vmroll", "vmrollGallery", "ubuntu-web")


def version(regions: list[str], *, exclude: bool = False) -> dict[str, Any]:
    return {
        "location": "westeurope",
        "properties": {
            "publishingProfile": {
                "targetRegions": [{"name": r, "regionalReplicaCount": 1} for r in regions],
                "excludeFromLatest": exclude,
            },
            "storageProfile": {
                "source": {
                    "id": "/subscriptions/00000000-0000-4000-8000-00000000a001/resourceGroups/"
                    "rg-vmroll/providers/Microsoft.Compute/images/golden-ubuntu-2404"
                }
            },
        },
    }


def eastus_latest(emulator: Emulator) -> str:
    """The version a VM in eastus gets from the ubuntu-web definition without a version."""
    image_id = (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/rg-vmroll"
        "/providers/Microsoft.Compute/galleries/vmrollGallery/images/ubuntu-web"
    )
    resolved = emulator.context.images.resolve_vm_image(
        emulator.credentials.subscription_id, "eastus", {"id": image_id}, None
    )
    return resolved.exact_version


async def test_create_update_and_delete_a_version(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    versions = compute_client.gallery_image_versions
    body = version(["West Europe", "East US"])
    created = await (await versions.begin_create_or_update(*GALLERY, "2.0.0", body)).result()
    latest_after_create = eastus_latest(emulator)
    updated = await (
        await versions.begin_update(
            *GALLERY, "2.0.0", {"properties": {"publishingProfile": {"excludeFromLatest": True}}}
        )
    ).result()
    latest_after_update = eastus_latest(emulator)
    await (await versions.begin_delete(*GALLERY, "2.0.0")).result()

    assert (created.name, created.provisioning_state) == ("2.0.0", "Succeeded")
    assert [r.name for r in created.publishing_profile.target_regions] == ["West Europe", "East US"]
    assert created.storage_profile.source.id.endswith("/images/golden-ubuntu-2404")
    assert updated.publishing_profile.exclude_from_latest
    assert (latest_after_create, latest_after_update) == ("2.0.0", "1.1.0")
    with pytest.raises(ResourceNotFoundError):
        await versions.get(*GALLERY, "2.0.0")


async def test_replacing_a_version_widens_its_regions(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    versions = compute_client.gallery_image_versions
    poller = await versions.begin_create_or_update(
        *GALLERY, "1.3.0", version(["westeurope", "eastus"])
    )
    replaced = await poller.result()

    assert [r.name for r in replaced.publishing_profile.target_regions] == [
        "West Europe",
        "East US",
    ]
    assert eastus_latest(emulator) == "1.3.0"


async def test_a_version_keeps_its_tags(compute_client: ComputeManagementClient) -> None:
    versions = compute_client.gallery_image_versions
    body = {**version(["West Europe"]), "tags": {"vmroll.io_capture": "team-a/golden"}}
    created = await (await versions.begin_create_or_update(*GALLERY, "2.0.0", body)).result()
    got = await versions.get(*GALLERY, "2.0.0")
    listed = [v async for v in versions.list_by_gallery_image(*GALLERY) if v.name == "2.0.0"]
    poller = await versions.begin_update(*GALLERY, "2.0.0", {"tags": {"team": "a"}})
    updated = await poller.result()
    untouched = await versions.get(*GALLERY, "1.0.0")

    assert created.tags == got.tags == listed[0].tags == {"vmroll.io_capture": "team-a/golden"}
    assert updated.tags == {"team": "a"}
    assert not untouched.tags


async def test_deleting_a_missing_version_succeeds(compute_client: ComputeManagementClient) -> None:
    poller = await compute_client.gallery_image_versions.begin_delete(*GALLERY, "9.9.9")
    await poller.result()


@pytest.mark.parametrize(
    ("where", "name", "body", "status", "code"),
    [
        (GALLERY, "2.0", version(["westeurope"]), 400, "InvalidParameter"),
        (GALLERY, "2.0.0", {**version(["eastus"]), "location": "eastus"}, 400, "InvalidParameter"),
        (GALLERY, "2.0.0", {"properties": {}}, 400, "LocationRequired"),
        (
            ("rg-vmroll", "vmrollGallery", "no-such-image"),
            "2.0.0",
            version(["westeurope"]),
            404,
            "ParentResourceNotFound",
        ),
    ],
    ids=["bad-version-name", "location-not-the-gallerys", "no-location", "no-definition"],
)
async def test_bad_writes_are_refused(
    compute_client: ComputeManagementClient,
    where: tuple[str, str, str],
    name: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    with pytest.raises(HttpResponseError) as caught:
        await compute_client.gallery_image_versions.begin_create_or_update(*where, name, body)
    assert caught.value.status_code == status
    assert caught.value.error is not None
    assert caught.value.error.code == code


async def test_a_reader_cannot_publish(client_for: Any) -> None:
    async with client_for("vmroll-reader") as client:
        readable = await client.gallery_image_versions.get(*GALLERY, "1.0.0")
        with pytest.raises(HttpResponseError) as caught:
            await client.gallery_image_versions.begin_create_or_update(
                *GALLERY, "2.0.0", version(["westeurope"])
            )

    assert readable.name == "1.0.0"
    assert caught.value.status_code == 403
