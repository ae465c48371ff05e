"""Image resolution and marketplace terms through vmroll's Azure boundary, against the emulator.

The gateway is built the way the operator builds it (client secret, custom authority, the
emulator's CA bundle), so these tests run vmroll's real credential, client and SDK code paths.
"""

from __future__ import annotations

import pytest
from emulator_clients import connection_of, refusing_gateways, until_woken

from vmroll.azure import (
    AzureImageKind,
    ComputeGateway,
    GalleryRef,
    ManagedImageRef,
    MarketplacePlan,
    MarketplaceRef,
    TerminalAzureError,
    VmSpec,
)
from vmroll.azure.budget import ArmBucket
from vmroll.azure.clients import ClientOptions, build_clients
from vmroll.azure.errors import WriteBudgetExhausted
from vmroll.emulator.server import Emulator
from vmroll.plan.ownership import PoolIdentity
from vmroll.plan.reasons import Reason

pytestmark = pytest.mark.integration

HOUR = 3600.0
UBUNTU = MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server")
RABBITMQ = MarketplaceRef("bitnami", "rabbitmq", "rabbitmq")
RABBITMQ_PLAN = MarketplacePlan(name="rabbitmq", publisher="bitnami", product="rabbitmq")
POOL = "uid-mq"
"""The pool accepting the terms: the queue the acceptance waits in in the write budget."""


def gallery_image(emulator: Emulator, name: str) -> str:
    creds = emulator.credentials
    return (
        f"/subscriptions/{creds.subscription_id}/resourceGroups/rg-vmroll/providers/"
        f"Microsoft.Compute/galleries/vmrollGallery/images/{name}"
    )


def managed_image(emulator: Emulator, group: str, name: str) -> str:
    return (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/{group}/providers/"
        f"Microsoft.Compute/images/{name}"
    )


@pytest.mark.parametrize(
    ("location", "version"),
    [("westeurope", "24.04.202611100"), ("eastus", "24.04.202610220")],
)
async def test_marketplace_latest_is_the_newest_version_in_the_region(
    gateway: ComputeGateway, location: str, version: str
) -> None:
    image = await gateway.resolve_image(location, UBUNTU, max_age=HOUR)
    assert image.source is AzureImageKind.MARKETPLACE
    assert (image.requested, image.resolved_version, image.plan) == ("latest", version, None)
    assert image.image_reference == {
        "publisher": "Canonical",
        "offer": "ubuntu-24_04-lts",
        "sku": "server",
        "version": version,
    }
    assert image.image_id.lower().endswith(f"/versions/{version}")


async def test_marketplace_latest_orders_versions_as_numbers_and_finds_the_plan(
    gateway: ComputeGateway,
) -> None:
    image = await gateway.resolve_image("westeurope", RABBITMQ, max_age=HOUR)
    assert image.resolved_version == "4.0.18"
    assert image.plan == RABBITMQ_PLAN


async def test_pinned_marketplace_version_is_checked_in_the_region(
    gateway: ComputeGateway,
) -> None:
    pinned = MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server", "24.04.202611100")
    assert (await gateway.resolve_image("westeurope", pinned, max_age=HOUR)).resolved_version == (
        "24.04.202611100"
    )
    with pytest.raises(TerminalAzureError) as raised:
        await gateway.resolve_image("eastus", pinned, max_age=HOUR)
    assert raised.value.reason == Reason.IMAGE_NOT_AVAILABLE
    assert "24.04.202611100" in raised.value.message
    assert "eastus" in raised.value.message


async def test_unknown_marketplace_image_is_not_available(gateway: ComputeGateway) -> None:
    with pytest.raises(TerminalAzureError) as raised:
        await gateway.resolve_image(
            "westeurope", MarketplaceRef("Canonical", "no-such-offer", "server"), max_age=HOUR
        )
    assert raised.value.reason == Reason.IMAGE_NOT_AVAILABLE
    assert "Canonical:no-such-offer:server:latest" in raised.value.message


async def test_latest_is_resolved_once_per_interval_for_all_pools(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    emulator.reset_counters()
    for _ in range(5):
        await gateway.resolve_image("West Europe", UBUNTU, max_age=HOUR)
    await gateway.resolve_image("westeurope", UBUNTU, max_age=0)
    operations = emulator.request_counts()["operations"]
    assert operations["VirtualMachineImages_List"]["total"] == 2


@pytest.mark.parametrize(("location", "version"), [("westeurope", "1.3.0"), ("eastus", "1.1.0")])
async def test_gallery_latest_skips_excluded_and_unreplicated_versions(
    emulator: Emulator, gateway: ComputeGateway, location: str, version: str
) -> None:
    definition = gallery_image(emulator, "ubuntu-web")
    image = await gateway.resolve_image(location, GalleryRef(definition), max_age=HOUR)
    assert image.source is AzureImageKind.GALLERY
    assert image.resolved_version == version
    assert image.image_reference == {"id": f"{definition}/versions/{version}"}


async def test_gallery_pinned_version_excluded_from_latest_is_still_usable(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    pinned = GalleryRef(gallery_image(emulator, "ubuntu-web"), "1.2.0")
    assert (await gateway.resolve_image("eastus", pinned, max_age=HOUR)).resolved_version == "1.2.0"


@pytest.mark.parametrize(
    ("name", "version", "location"),
    [
        pytest.param("ubuntu-web", "1.3.0", "eastus", id="pinned-not-replicated"),
        pytest.param("ubuntu-web", "9.9.9", "westeurope", id="pinned-unknown"),
        pytest.param("ubuntu-canary", "latest", "westeurope", id="nothing-eligible"),
        pytest.param("no-such-image", "latest", "westeurope", id="unknown-definition"),
    ],
)
async def test_gallery_image_not_available(
    emulator: Emulator, gateway: ComputeGateway, name: str, version: str, location: str
) -> None:
    image = GalleryRef(gallery_image(emulator, name), version)
    with pytest.raises(TerminalAzureError) as raised:
        await gateway.resolve_image(location, image, max_age=HOUR)
    assert raised.value.reason == Reason.IMAGE_NOT_AVAILABLE
    assert location in raised.value.message


async def test_managed_image_in_its_region(emulator: Emulator, gateway: ComputeGateway) -> None:
    image_id = managed_image(emulator, "rg-vmroll", "golden-ubuntu-2404")
    image = await gateway.resolve_image("westeurope", ManagedImageRef(image_id), max_age=HOUR)
    assert image.source is AzureImageKind.MANAGED_IMAGE
    assert image.resolved_version is None
    assert image.image_reference["id"].lower() == image_id.lower()


@pytest.mark.parametrize(
    ("group", "name"),
    [("rg-vmroll-eastus", "golden-ubuntu-2404-eastus"), ("rg-vmroll", "no-such-image")],
)
async def test_managed_image_elsewhere_or_unknown_is_not_available(
    emulator: Emulator, gateway: ComputeGateway, group: str, name: str
) -> None:
    image = ManagedImageRef(managed_image(emulator, group, name))
    with pytest.raises(TerminalAzureError) as raised:
        await gateway.resolve_image("westeurope", image, max_age=HOUR)
    assert raised.value.reason == Reason.IMAGE_NOT_AVAILABLE


async def test_terms_not_accepted_stop_a_pool_that_does_not_accept_them(
    gateway: ComputeGateway,
) -> None:
    with pytest.raises(TerminalAzureError) as raised:
        await gateway.ensure_terms(RABBITMQ_PLAN, accept=False, owner=POOL)
    assert raised.value.reason == Reason.TERMS_NOT_ACCEPTED
    assert "acceptTerms" in raised.value.message


async def test_terms_accepted_when_the_pool_says_so(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    await gateway.ensure_terms(RABBITMQ_PLAN, accept=True, owner=POOL)
    await gateway.ensure_terms(RABBITMQ_PLAN, accept=False, owner=POOL)
    agreements = emulator.context.images.snapshot()["agreements"]
    assert [(a["plan"], a["accepted"]) for a in agreements] == [("rabbitmq", True)]


async def test_a_refused_acceptance_wakes_its_pool_at_its_turn_and_takes_its_token(
    emulator: Emulator,
) -> None:
    woken: list[str] = []
    gateways = refusing_gateways(woken)
    creds = emulator.credentials
    try:
        async with gateways.borrow(connection_of(creds), location=creds.location) as gateway:
            budget = gateways.budgets.for_subscription(creds.subscription_id)
            budget.defer([("arm", ArmBucket.WRITES.value)], 0.2)
            with pytest.raises(WriteBudgetExhausted):
                await gateway.ensure_terms(RABBITMQ_PLAN, accept=True, owner=POOL)
            await until_woken(woken)
            assert woken == [POOL]
            assert budget.set_aside() == 1
            await gateway.ensure_terms(RABBITMQ_PLAN, accept=True, owner=POOL)
            assert budget.set_aside() == 0
    finally:
        await gateways.close()
    agreements = emulator.context.images.snapshot()["agreements"]
    assert [(a["plan"], a["accepted"]) for a in agreements] == [("rabbitmq", True)]


async def test_terms_revoked_after_acceptance_are_asked_again(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    await gateway.ensure_terms(RABBITMQ_PLAN, accept=True, owner=POOL)
    clients = build_clients(connection_of(emulator.credentials), ClientOptions())
    try:
        await clients.agreements.marketplace_agreements.cancel("bitnami", "rabbitmq", "rabbitmq")
    finally:
        await clients.close()
    creds = emulator.credentials
    spec = VmSpec(
        name="mq-0",
        location=creds.location,
        size="Standard_D2s_v5",
        image=await gateway.resolve_image(creds.location, RABBITMQ, max_age=HOUR),
        subnet_id=creds.subnet_id,
        admin_username="azureuser",
        owner=PoolIdentity(namespace="team", name="mq", uid=POOL),
        revision="r1",
        ssh_public_keys=("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIVmroll",),
    )
    with pytest.raises(TerminalAzureError) as revoked:
        await gateway.create_vm(creds.resource_group, spec)
    assert revoked.value.reason == Reason.TERMS_NOT_ACCEPTED
    with pytest.raises(TerminalAzureError):
        await gateway.ensure_terms(RABBITMQ_PLAN, accept=False, owner=POOL)


@pytest.mark.parametrize(
    ("location", "versions"),
    [
        (
            "westeurope",
            {"24.04.202608110", "24.04.202609160", "24.04.202610220", "24.04.202611100"},
        ),
        ("eastus", {"24.04.202608110", "24.04.202609160", "24.04.202610220"}),
    ],
)
async def test_marketplace_versions_in_the_region_for_policies(
    gateway: ComputeGateway, location: str, versions: set[str]
) -> None:
    found = await gateway.image_versions(location, UBUNTU, max_age=HOUR)
    assert {info.version for info in found} == versions
    assert {info.published for info in found} == {None}


async def test_gallery_versions_usable_in_the_region_carry_their_published_date(
    gateway: ComputeGateway, emulator: Emulator
) -> None:
    image = GalleryRef(gallery_image(emulator, "ubuntu-web"))
    listed_west = await gateway.image_versions("westeurope", image, max_age=HOUR)
    west = {info.version: info.published for info in listed_west}
    listed_east = await gateway.image_versions("eastus", image, max_age=HOUR)
    east = {info.version for info in listed_east}
    assert set(west) == {"1.0.0", "1.1.0", "1.2.0", "1.3.0"}
    assert east == {"1.0.0", "1.1.0", "1.2.0"}
    assert all(
        published is not None and published.tzinfo is not None for published in west.values()
    )


async def test_a_managed_image_has_no_versions(gateway: ComputeGateway, emulator: Emulator) -> None:
    image = ManagedImageRef(managed_image(emulator, "rg-vmroll", "golden"))
    assert await gateway.image_versions("westeurope", image, max_age=HOUR) == ()


async def test_version_lists_are_listed_once_per_interval_for_all_pools(
    gateway: ComputeGateway, emulator: Emulator
) -> None:
    emulator.reset_counters()
    first = await gateway.image_versions("West Europe", UBUNTU, max_age=HOUR)
    for _ in range(4):
        assert await gateway.image_versions("westeurope", UBUNTU, max_age=HOUR) == first
    await gateway.image_versions("westeurope", UBUNTU, max_age=0)
    operations = emulator.request_counts()["operations"]
    assert operations["VirtualMachineImages_List"]["total"] == 2
