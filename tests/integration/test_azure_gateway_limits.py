"""Limits of the emulated subscription through vmroll's Azure boundary: quota, failed
operations, and paged listings (this module's emulator has a tight quota and one item a page).
"""

from __future__ import annotations

import pytest

from vmroll.azure import (
    ComputeGateway,
    GalleryRef,
    MarketplaceRef,
    OperationState,
    TerminalAzureError,
    TransientAzureError,
    VmSpec,
)
from vmroll.azure.errors import ALLOCATION_RETRY_SECONDS
from vmroll.emulator.catalog import Catalog, FaultRule, Faults, Quota, load_catalog
from vmroll.emulator.server import Emulator
from vmroll.plan.ownership import PoolIdentity
from vmroll.plan.reasons import Reason

pytestmark = pytest.mark.integration

HOUR = 3600.0
WEB = PoolIdentity(namespace="team", name="web", uid="uid-web")


@pytest.fixture
def emulator_catalog() -> Catalog:
    """Room for one Standard_D2s_v5 in westeurope; every listing one item a page."""
    catalog = load_catalog()
    subscription = catalog.subscriptions[0]
    tight = Quota(total_regional_cores=100, families={"standardDSv5Family": 2})
    return catalog.model_copy(
        update={
            "time_scale": 0.001,
            "lro_retry_after_seconds": 0,
            "page_size": 1,
            "subscriptions": [
                subscription.model_copy(
                    update={"quotas": {**subscription.quotas, "westeurope": tight}}
                )
            ],
        }
    )


async def create(emulator: Emulator, gateway: ComputeGateway, name: str) -> OperationState:
    creds = emulator.credentials
    image = await gateway.resolve_image(
        creds.location, MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server"), max_age=HOUR
    )
    spec = VmSpec(
        name=name,
        location=creds.location,
        size="Standard_D2s_v5",
        image=image,
        subnet_id=creds.subnet_id,
        admin_username="azureuser",
        owner=WEB,
        revision="r1",
        ssh_public_keys=("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIVmroll",),
    )
    record = await gateway.create_vm(creds.resource_group, spec)
    return await gateway.wait_operation(record, max_wait=30)


async def test_quota_exceeded_is_terminal(emulator: Emulator, gateway: ComputeGateway) -> None:
    assert await create(emulator, gateway, "web-0") is OperationState.SUCCEEDED
    with pytest.raises(TerminalAzureError) as raised:
        await create(emulator, gateway, "web-1")
    assert raised.value.reason == Reason.QUOTA_EXCEEDED
    assert "quota" in raised.value.message


async def test_allocation_failure_is_transient_and_not_soon(
    emulator: Emulator, gateway: ComputeGateway
) -> None:
    emulator.set_faults(
        Faults(rules=[FaultRule(operation="VirtualMachines_Create*", kind="lroFailed")])
    )
    with pytest.raises(TransientAzureError) as raised:
        await create(emulator, gateway, "web-0")
    assert raised.value.code == "AllocationFailed"
    assert raised.value.retry_after == ALLOCATION_RETRY_SECONDS


async def test_gallery_latest_reads_every_page(emulator: Emulator, gateway: ComputeGateway) -> None:
    creds = emulator.credentials
    definition = (
        f"/subscriptions/{creds.subscription_id}/resourceGroups/rg-vmroll/providers/"
        "Microsoft.Compute/galleries/vmrollGallery/images/ubuntu-web"
    )
    emulator.reset_counters()
    image = await gateway.resolve_image("westeurope", GalleryRef(definition), max_age=HOUR)
    assert image.resolved_version == "1.3.0"
    pages = emulator.request_counts()["operations"]["GalleryImageVersions_ListByGalleryImage"]
    assert pages["total"] == 4
