"""VMs created from every image source, through the real async SDKs, as Azure resolves them.

Marketplace `latest` per region, a region without the image, a paid image before and after its
terms are accepted, gallery `latest` skipping excluded and not-yet-replicated versions, managed
images bound to their region, and versions published while the emulator runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachine
from azure.mgmt.marketplaceordering.aio import MarketplaceOrderingAgreements
from emulator_clients import (
    admin_session,
    make_compute_client,
    make_credential,
    make_terms_client,
)

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.server import Emulator, running_emulator

pytestmark = pytest.mark.integration

GROUPS = {"westeurope": ("rg-vmroll", "vnet-vmroll"), "eastus": ("rg-vmroll-eastus", "vnet-eastus")}
RABBIT_PLAN = {"name": "rabbitmq", "product": "rabbitmq", "publisher": "bitnami"}


def ubuntu(version: str = "latest") -> dict[str, Any]:
    return {
        "publisher": "Canonical",
        "offer": "ubuntu-24_04-lts",
        "sku": "server",
        "version": version,
    }


def rabbit() -> dict[str, Any]:
    return {"publisher": "bitnami", "offer": "rabbitmq", "sku": "rabbitmq", "version": "latest"}


def gallery_image(emulator: Emulator, name: str) -> str:
    return (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/rg-vmroll"
        f"/providers/Microsoft.Compute/galleries/vmrollGallery/images/{name}"
    )


async def create_vm(
    emulator: Emulator,
    client: ComputeManagementClient,
    name: str,
    location: str,
    reference: dict[str, Any],
    plan: dict[str, Any] | None = None,
) -> VirtualMachine:
    group, vnet = GROUPS[location]
    subnet = (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/{group}"
        f"/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/default"
    )
    body: dict[str, Any] = {
        "location": location,
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_B2s"},
            "storageProfile": {
                "imageReference": reference,
                "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"},
            },
            "osProfile": {"computerName": name, "adminUsername": "azureuser"},
            "networkProfile": {
                "networkApiVersion": "2020-11-01",
                "networkInterfaceConfigurations": [
                    {
                        "name": "nic",
                        "properties": {
                            "primary": True,
                            "ipConfigurations": [
                                {"name": "ip", "properties": {"subnet": {"id": subnet}}}
                            ],
                        },
                    }
                ],
            },
        },
    }
    if plan is not None:
        body["plan"] = plan
    poller = await client.virtual_machines.begin_create_or_update(group, name, body)
    return await poller.result()


async def refused(coroutine: Any) -> tuple[int, str, str | None, str]:
    with pytest.raises(HttpResponseError) as caught:
        await coroutine
    error = caught.value.error
    assert error is not None
    return caught.value.status_code or 0, str(error.code), error.target, str(error.message)


async def publish(emulator: Emulator, kind: str, body: dict[str, Any]) -> None:
    async with (
        admin_session(emulator) as session,
        session.post(
            f"{emulator.base_url}/_emulator/images/{kind}/versions", json=body
        ) as response,
    ):
        assert response.status == 201, await response.text()


@pytest.mark.parametrize(
    ("location", "exact"), [("westeurope", "24.04.202611100"), ("eastus", "24.04.202610220")]
)
async def test_marketplace_latest_is_the_newest_version_in_the_vms_region(
    emulator: Emulator, compute_client: ComputeManagementClient, location: str, exact: str
) -> None:
    latest = await compute_client.virtual_machine_images.list(
        location, "Canonical", "ubuntu-24_04-lts", "server", top=1, orderby="name desc"
    )
    vm = await create_vm(emulator, compute_client, "web-0", location, ubuntu())

    reference = vm.storage_profile.image_reference
    assert (reference.version, reference.exact_version) == ("latest", exact)
    assert latest[0].name == exact


async def test_a_version_the_region_does_not_offer_is_refused(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    answer = await refused(
        create_vm(emulator, compute_client, "web-0", "eastus", ubuntu("24.04.202611100"))
    )
    assert answer == (
        404,
        "PlatformImageNotFound",
        "imageReference",
        "The platform image 'Canonical:ubuntu-24_04-lts:server:24.04.202611100' is not "
        "available. Verify that all fields in the storage profile are correct. For more details "
        "about storage profile information, please refer to https://aka.ms/storageprofile",
    )


async def test_a_paid_image_needs_its_plan_and_accepted_terms(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    terms_client: MarketplaceOrderingAgreements,
) -> None:
    without_plan = await refused(create_vm(emulator, compute_client, "mq-0", "eastus", rabbit()))
    without_terms = await refused(
        create_vm(emulator, compute_client, "mq-0", "eastus", rabbit(), RABBIT_PLAN)
    )
    agreements = terms_client.marketplace_agreements
    terms = await agreements.get("virtualmachine", "bitnami", "rabbitmq", "rabbitmq")
    terms.accepted = True
    await agreements.create("virtualmachine", "bitnami", "rabbitmq", "rabbitmq", terms)
    vm = await create_vm(emulator, compute_client, "mq-0", "eastus", rabbit(), RABBIT_PLAN)

    assert without_plan[:2] == (400, "VMMarketplaceInvalidInput")
    assert without_plan[3].endswith(
        "requires Plan information in the request. VM: '/subscriptions/"
        f"{emulator.credentials.subscription_id}/resourceGroups/rg-vmroll-eastus/providers/"
        "Microsoft.Compute/virtualMachines/mq-0'."
    )
    assert without_terms[:2] == (400, "ResourcePurchaseValidationFailed")
    assert "You have not accepted the legal terms on this subscription" in without_terms[3]
    assert vm.storage_profile.image_reference.exact_version == "4.0.18"
    assert (vm.plan.publisher, vm.plan.product, vm.plan.name) == ("bitnami", "rabbitmq", "rabbitmq")


@pytest.mark.parametrize(
    ("location", "exact"),
    [("westeurope", "1.3.0"), ("eastus", "1.1.0")],
    ids=["newest-replicated-here", "skips-excluded-and-not-replicated"],
)
async def test_gallery_latest_skips_excluded_and_unreplicated_versions(
    emulator: Emulator, compute_client: ComputeManagementClient, location: str, exact: str
) -> None:
    image_id = gallery_image(emulator, "ubuntu-web")
    vm = await create_vm(emulator, compute_client, "web-0", location, {"id": image_id})

    reference = vm.storage_profile.image_reference
    assert (reference.id, reference.exact_version) == (image_id, exact)


async def test_gallery_version_pinned_outside_its_regions_is_refused(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    version_id = gallery_image(emulator, "ubuntu-web") + "/versions/1.3.0"
    answer = await refused(
        create_vm(emulator, compute_client, "web-0", "eastus", {"id": version_id})
    )
    assert answer == (
        404,
        "GalleryImageNotFound",
        "imageReference",
        f"The gallery image {version_id} is not available in eastus region. Please contact image "
        "owner to replicate to this region, or change your requested region.",
    )


async def test_gallery_latest_with_no_eligible_version_is_refused(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    image_id = gallery_image(emulator, "ubuntu-canary")
    status, code, _, message = await refused(
        create_vm(emulator, compute_client, "canary-0", "eastus", {"id": image_id})
    )
    assert (status, code) == (400, "InvalidParameter")
    assert message.startswith(
        "In region eastus, the following list of Shared Image Gallery images referenced from the "
        f"deployment template were not found: {image_id}/versions/latest."
    )


async def test_managed_image_works_only_in_its_region(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    image_id = (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/rg-vmroll"
        "/providers/Microsoft.Compute/images/golden-ubuntu-2404"
    )
    vm = await create_vm(emulator, compute_client, "golden-0", "westeurope", {"id": image_id})
    answer = await refused(
        create_vm(emulator, compute_client, "golden-1", "eastus", {"id": image_id})
    )

    assert vm.storage_profile.image_reference.id == image_id
    assert answer == (
        404,
        "NotFound",
        None,
        f"The Image '{image_id}' cannot be found in 'eastus' region.",
    )


async def test_versions_published_at_run_time_are_what_new_vms_get(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    subscription = emulator.credentials.subscription_id
    await publish(
        emulator,
        "marketplace",
        {**ubuntu("24.04.202611250"), "locations": ["eastus"], "bootsUnhealthy": True},
    )
    await publish(
        emulator,
        "gallery",
        {
            "subscriptionId": subscription,
            "resourceGroup": "rg-vmroll",
            "gallery": "vmrollGallery",
            "image": "ubuntu-web",
            "name": "1.10.0",
            "targetRegions": ["eastus"],
        },
    )
    marketplace_vm = await create_vm(emulator, compute_client, "web-0", "eastus", ubuntu())
    gallery_vm = await create_vm(
        emulator, compute_client, "web-1", "eastus", {"id": gallery_image(emulator, "ubuntu-web")}
    )

    assert marketplace_vm.storage_profile.image_reference.exact_version == "24.04.202611250"
    assert gallery_vm.storage_profile.image_reference.exact_version == "1.10.0"


async def test_published_versions_and_accepted_terms_survive_a_restart_with_state(
    tmp_path: Path, emulator_catalog: Catalog
) -> None:
    state_file = tmp_path / "state.json"
    async with running_emulator(
        tmp_path / "first", catalog=emulator_catalog, state_file=state_file
    ) as first:
        await publish(first, "marketplace", {**ubuntu("24.04.202611250"), "locations": ["eastus"]})
        async with (
            make_credential(first.credentials) as credential,
            make_terms_client(first.credentials, credential) as terms,
        ):
            await terms.marketplace_agreements.sign("bitnami", "rabbitmq", "rabbitmq")

    async with (
        running_emulator(
            tmp_path / "second", catalog=emulator_catalog, state_file=state_file
        ) as second,
        make_credential(second.credentials) as credential,
        make_compute_client(second.credentials, credential) as client,
    ):
        ubuntu_vm = await create_vm(second, client, "web-0", "eastus", ubuntu())
        paid_vm = await create_vm(second, client, "mq-0", "eastus", rabbit(), RABBIT_PLAN)

    assert ubuntu_vm.storage_profile.image_reference.exact_version == "24.04.202611250"
    assert paid_vm.storage_profile.image_reference.exact_version == "4.0.18"


async def test_replication_finishing_in_a_region_moves_gallery_latest_there(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    image_id = gallery_image(emulator, "ubuntu-web")
    before = await create_vm(emulator, compute_client, "web-0", "eastus", {"id": image_id})
    async with (
        admin_session(emulator) as session,
        session.patch(
            f"{emulator.base_url}/_emulator/images/gallery/versions",
            json={
                "subscriptionId": emulator.credentials.subscription_id,
                "resourceGroup": "rg-vmroll",
                "gallery": "vmrollGallery",
                "image": "ubuntu-web",
                "name": "1.3.0",
                "targetRegions": ["westeurope", "eastus"],
            },
        ) as response,
    ):
        assert response.status == 200, await response.text()
    after = await create_vm(emulator, compute_client, "web-1", "eastus", {"id": image_id})

    assert before.storage_profile.image_reference.exact_version == "1.1.0"
    assert after.storage_profile.image_reference.exact_version == "1.3.0"


async def test_a_deprecated_version_is_refused(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    reference = {
        "publisher": "Canonical",
        "offer": "ubuntu-22_04-lts",
        "sku": "server",
        "version": "22.04.202601150",
    }
    answer = await refused(create_vm(emulator, compute_client, "old-0", "eastus", reference))
    assert answer == (
        404,
        "ImageVersionDeprecated",
        "imageReference",
        "The platform image 'Canonical:ubuntu-22_04-lts:server:22.04.202601150' is deprecated.",
    )
