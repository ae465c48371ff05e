"""Virtual machine operations through the real async SDK against the emulator over HTTPS."""

from __future__ import annotations

import pytest
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration


async def test_create_reports_the_resolved_version_and_tags(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body
) -> None:
    group = emulator.credentials.resource_group
    poller = await compute_client.virtual_machines.begin_create_or_update(
        group, "web-0", vm_body(tags={"vmroll.io_pool-uid": "abc"})
    )
    vm = await poller.result()

    assert vm.provisioning_state == "Succeeded"
    assert vm.tags == {"vmroll.io_pool-uid": "abc"}
    reference = vm.storage_profile.image_reference
    assert (reference.version, reference.exact_version) == ("latest", "24.04.202611100")
