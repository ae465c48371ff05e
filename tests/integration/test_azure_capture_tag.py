"""The capture tag, from the capture to the pools, with the real SDK against the emulator.

A version created through the capture gateway with the capture's tags (what the capture pass
sends: `vmroll.io_capture`, `vmroll.io_capture-namespace`, `vmroll.io_capture-uid`) keeps them,
and a pool's image resolution (the compute gateway, `latest` or pinned) reads them back as
`ResolvedImage.captured_by` (`<namespace>/<name>`), which the pool's rollout event names. A
version no capture made names none.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import connection_of

from vmroll.api.types import ObjectMeta
from vmroll.azure import AzureGateways, ComputeGateway, GalleryRef
from vmroll.azure.capture_gateway import CaptureGateway, borrow_captures
from vmroll.azure.captures import TargetRegionSpec, VersionRequest
from vmroll.azure.lro import OperationRecord, OperationState
from vmroll.emulator.server import Emulator
from vmroll.reconcile.capture_retention import capture_tags

pytestmark = pytest.mark.integration

GROUP = "rg-vmroll"
CAPTURE = "uid-capture"
"""The capture the writes are for: the queue they wait in in the write budget."""


async def until_done(gateway: CaptureGateway, record: OperationRecord) -> None:
    for _ in range(100):
        # Long enough for a poll the Retry-After and the Get Operation budget allow.
        if await gateway.wait_operation(record, max_wait=2.0) is OperationState.SUCCEEDED:
            return
    raise AssertionError(f"{record.resource_id} did not finish")


async def test_the_version_names_its_capture_to_the_pools_that_resolve_it(
    emulator: Emulator,
    gateways: AzureGateways,
    gateway: ComputeGateway,
    compute_client: ComputeManagementClient,
    vm_body: Any,
) -> None:
    poller = await compute_client.virtual_machines.begin_create_or_update(
        GROUP, "configured", vm_body()
    )
    vm_id = str((await poller.result()).id)
    image_id = (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/{GROUP}"
        "/providers/Microsoft.Compute/galleries/vmrollGallery/images/ubuntu-web"
    )
    request = VersionRequest(
        source_vm_id=vm_id,
        regions=(
            TargetRegionSpec("westeurope", 1, "Standard_LRS"),
            TargetRegionSpec("eastus", 1, "Standard_LRS"),
        ),
        exclude_from_latest=False,
        end_of_life=None,
        tags=capture_tags(ObjectMeta(namespace="team-a", name="golden-2026-11-29", uid="u-1")),
    )
    async with borrow_captures(
        gateways, connection_of(emulator.credentials), location="", owner=CAPTURE
    ) as captures:
        await until_done(captures, await captures.deallocate(vm_id))
        await captures.generalize(vm_id)
        await until_done(
            captures, await captures.create_version(image_id, "1.3.1", "westeurope", request)
        )
    latest = await gateway.resolve_image("westeurope", GalleryRef(image_id), max_age=0)
    pinned = await gateway.resolve_image("eastus", GalleryRef(image_id, "1.3.1"), max_age=0)
    older = await gateway.resolve_image("westeurope", GalleryRef(image_id, "1.3.0"), max_age=0)

    assert (latest.resolved_version, latest.captured_by) == ("1.3.1", "team-a/golden-2026-11-29")
    assert pinned.captured_by == "team-a/golden-2026-11-29"
    assert older.captured_by is None
