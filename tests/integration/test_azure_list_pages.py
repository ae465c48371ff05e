"""A resource group's list read through vmroll's gateway (azure/vms.py `list_group_vms`), against
the emulator over HTTPS with the real SDK: each page decoded from JSON once, and a page whose
connection drops retried by the SDK's pipeline.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.azure import ComputeGateway
from vmroll.emulator.catalog import Catalog, FaultRule, Faults
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

NAMES = ["web-0", "web-1", "web-2"]


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """Pages of 2: the 3 VMs are a list of two pages."""
    return emulator_catalog.model_copy(update={"page_size": 2})


@pytest.fixture
async def group(emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any) -> str:
    group = emulator.credentials.resource_group
    for name in NAMES:
        poller = await compute_client.virtual_machines.begin_create_or_update(
            group, name, vm_body()
        )
        await poller.result()
    return group


async def test_each_page_of_a_list_is_decoded_once(
    group: str, gateway: ComputeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    decode = json.JSONDecoder.decode
    pages: list[str] = []

    def counting(decoder: json.JSONDecoder, text: str, *args: Any, **kwargs: Any) -> Any:
        decoded = decode(decoder, text, *args, **kwargs)
        if isinstance(decoded, dict) and "value" in decoded:
            pages.append(text)
        return decoded

    monkeypatch.setattr(json.JSONDecoder, "decode", counting)

    listed = await gateway.list_group_vms(group)

    assert sorted(vm.name for vm in listed) == NAMES
    assert len(pages) == 2
    assert len(set(pages)) == 2


async def test_a_page_whose_connection_drops_is_retried_by_the_pipeline(
    emulator: Emulator, group: str, gateway: ComputeGateway
) -> None:
    emulator.set_faults(
        Faults(rules=[FaultRule(operation="VirtualMachines_List", kind="reset", remaining=1)])
    )

    listed = await gateway.list_group_vms(group)

    assert sorted(vm.name for vm in listed) == NAMES
    counts = emulator.request_counts()["operations"]["VirtualMachines_List"]["byStatus"]
    assert counts == {"0": 1, "200": 2}
