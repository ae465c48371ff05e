"""A write Azure accepted stands for the GET that would follow it (reconcile/following.py): the
VM `accepted_create` and `accepted_delete` make is the one the emulator shows by name while the
operation runs, for each kind of image a pool runs.
"""

from __future__ import annotations

import pytest
from conftest import ManualClock
from test_azure_gateway_images import gallery_image
from test_azure_gateway_vms import vm_spec

from vmroll.azure import (
    ComputeGateway,
    GalleryRef,
    ImageRef,
    MarketplaceRef,
    OperationRecord,
)
from vmroll.azure.vms import accepted_create, accepted_delete
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration


@pytest.fixture
def emulator_clock(manual_clock: ManualClock) -> ManualClock:
    """Operations stay in progress until the test moves the clock."""
    return manual_clock


@pytest.mark.parametrize("kind", ["marketplace", "gallery"])
async def test_an_accepted_create_and_delete_are_what_a_get_shows_meanwhile(
    emulator: Emulator, gateway: ComputeGateway, manual_clock: ManualClock, kind: str
) -> None:
    group = emulator.credentials.resource_group
    image: ImageRef = (
        MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server")
        if kind == "marketplace"
        else GalleryRef(gallery_image(emulator, "ubuntu-web"))
    )
    spec = await vm_spec(emulator, gateway, "web-0", image=image)

    record = await gateway.create_vm(group, spec)
    assert isinstance(record, OperationRecord)
    creating = await gateway.read_vm(group, "web-0")
    assert creating is not None
    assert creating.vm.provisioning_state == "Creating"
    assert accepted_create(spec, record.resource_id, group) == creating.vm

    manual_clock.advance(1)
    created = await gateway.read_vm(group, "web-0")
    assert created is not None
    assert created.vm.provisioning_state == "Succeeded"
    await gateway.delete_vm(created.vm, created.vm.pool_uid)
    deleting = await gateway.read_vm(group, "web-0")
    assert deleting is not None
    assert accepted_delete(created.vm) == deleting.vm
