"""A VM list's pages through the real SDK over HTTPS: each page continues after the last VM the
previous one showed, so VMs created or deleted between two pages shift nothing (an offset in
`$skiptoken` showed a VM twice after a create and skipped one after a delete), and a token the
emulator did not make is refused naming `$skiptoken`."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute.aio import ComputeManagementClient
from conftest import ManualClock

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration
NAMES = ["web-0", "web-1", "web-2", "web-3", "web-4"]
DONE = 5.0
"""Seconds that end any operation the test catalog starts (its latencies are scaled down)."""


@pytest.fixture
def emulator_clock(manual_clock: ManualClock) -> ManualClock:
    return manual_clock


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """Pages of 2: the five VMs are a list of three pages."""
    return emulator_catalog.model_copy(update={"page_size": 2})


@pytest.fixture
async def group(
    emulator: Emulator,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    manual_clock: ManualClock,
) -> str:
    group = emulator.credentials.resource_group
    for name in NAMES:
        await compute_client.virtual_machines.begin_create_or_update(group, name, vm_body())
    manual_clock.advance(DONE)
    return group


async def test_writes_between_pages_neither_repeat_nor_skip_a_vm(
    group: str,
    compute_client: ComputeManagementClient,
    vm_body: Any,
    manual_clock: ManualClock,
) -> None:
    vms = compute_client.virtual_machines
    pages = vms.list(group).by_page()
    first = [vm.name async for vm in await anext(pages)]
    # Sorts between the two VMs already shown: an offset would show web-1 again.
    await vms.begin_create_or_update(group, "web-00", vm_body())
    second = [vm.name async for vm in await anext(pages)]
    # Ahead of the next page: an offset would skip web-4.
    await vms.begin_delete(group, "web-0")
    manual_clock.advance(DONE)
    third = [vm.name async for vm in await anext(pages)]

    assert (first, second, third) == (["web-0", "web-1"], ["web-2", "web-3"], ["web-4"])
    with pytest.raises(StopAsyncIteration):
        await anext(pages)


async def test_a_skiptoken_the_emulator_did_not_make_is_refused(
    group: str, compute_client: ComputeManagementClient, emulator: Emulator
) -> None:
    creds = emulator.credentials
    next_link = (
        f"{creds.resource_manager_endpoint}/subscriptions/{creds.subscription_id}/resourceGroups/"
        f"{group}/providers/Microsoft.Compute/virtualMachines?api-version=2026-04-01"
        "&$skiptoken=2"
    )
    pages = compute_client.virtual_machines.list(group).by_page(continuation_token=next_link)

    with pytest.raises(HttpResponseError) as refused:
        await anext(pages)

    assert refused.value.status_code == 400
    assert refused.value.error is not None
    assert refused.value.error.code == "InvalidParameter"
    assert "$skiptoken" in str(refused.value.message)
