"""Fault injection and the admin API: errors, dropped connections, failed LROs, counters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import admin_session, ssl_context

from vmroll.emulator.catalog import Catalog, FaultRule, Faults
from vmroll.emulator.server import Emulator, running_emulator

pytestmark = pytest.mark.integration


async def test_injected_503s_are_retried_by_the_sdk(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    emulator.set_faults(
        Faults(rules=[FaultRule(operation="VirtualMachines_Get", status=503, remaining=2)])
    )

    with pytest.raises(ResourceNotFoundError):
        await compute_client.virtual_machines.get(emulator.credentials.resource_group, "web-0")

    statuses = emulator.request_counts()["operations"]["VirtualMachines_Get"]["byStatus"]
    assert statuses == {"503": 2, "404": 1}


async def test_a_reset_connection_is_retried_by_the_sdk(
    emulator: Emulator, compute_client: ComputeManagementClient
) -> None:
    emulator.set_faults(
        Faults(rules=[FaultRule(operation="VirtualMachines_List", kind="reset", remaining=1)])
    )

    listed = [
        vm async for vm in compute_client.virtual_machines.list(emulator.credentials.resource_group)
    ]

    statuses = emulator.request_counts()["operations"]["VirtualMachines_List"]["byStatus"]
    assert listed == []
    assert statuses == {"0": 1, "200": 1}


async def test_an_lro_can_end_failed_with_allocation_failed(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    group = emulator.credentials.resource_group
    emulator.set_faults(
        Faults(rules=[FaultRule(operation="VirtualMachines_CreateOrUpdate", kind="lroFailed")])
    )
    poller = await compute_client.virtual_machines.begin_create_or_update(group, "web-0", vm_body())

    with pytest.raises(HttpResponseError, match="AllocationFailed"):
        await poller.result()
    view = await compute_client.virtual_machines.instance_view(group, "web-0")

    assert view.statuses[0].code == "ProvisioningState/failed/AllocationFailed"
    assert emulator.vms()[0]["provisioningState"] == "Failed"


async def test_seeded_error_rates_fail_the_same_requests(emulator: Emulator, arm: Any) -> None:
    path = (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/"
        f"{emulator.credentials.resource_group}/providers/Microsoft.Compute/virtualMachines"
    )
    runs = []
    for _ in range(2):
        emulator.set_faults(
            Faults(seed=7, rules=[FaultRule(operation="VirtualMachines_*", rate=0.5, status=500)])
        )
        runs.append([(await arm.call("GET", path))[0] for _ in range(12)])

    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500}


async def test_admin_api_reports_and_steers(emulator: Emulator, arm: Any, vm_body: Any) -> None:
    admin = f"{emulator.base_url}/_emulator"
    path = (
        f"/subscriptions/{emulator.credentials.subscription_id}/resourceGroups/"
        f"{emulator.credentials.resource_group}/providers/Microsoft.Compute/virtualMachines"
    )
    rules = {"seed": 1, "rules": [{"operation": "VirtualMachines_List", "status": 429}]}
    async with admin_session(emulator) as session:
        async with session.put(f"{admin}/faults", json=rules) as response:
            assert response.status == 200
        throttled, headers, body = await arm.call("GET", path)
        await arm.call("PUT", path + "/web-0", json=vm_body())
        async with session.get(f"{admin}/requests") as response:
            counts = await response.json()
        async with session.get(f"{admin}/vms") as response:
            vms = await response.json()
        async with session.post(f"{admin}/requests/reset") as response:
            after_reset = await response.json()
        async with session.put(f"{admin}/faults", json={"rules": [{"rate": 2}]}) as response:
            refused = response.status

    assert throttled == 429
    assert headers["Retry-After"] == "1"
    assert body["error"]["details"][0]["code"] == "TooManyRequests"
    assert counts["throttled"] == 1
    assert counts["operations"]["VirtualMachines_CreateOrUpdate"]["byStatus"] == {"201": 1}
    assert [vm["name"] for vm in vms["value"]] == ["web-0"]
    assert after_reset["total"] == 0
    assert refused == 400


async def test_token_requests_are_counted_and_reset_forgets_vms(
    emulator: Emulator, compute_client: ComputeManagementClient, vm_body: Any
) -> None:
    poller = await compute_client.virtual_machines.begin_create_or_update(
        "rg-vmroll", "web-0", vm_body()
    )
    await poller.result()
    counted = emulator.request_counts()["operations"]
    async with (
        admin_session(emulator) as session,
        session.post(f"{emulator.base_url}/_emulator/reset") as response,
    ):
        assert response.status == 200

    assert counted["Identity_Token"]["byStatus"] == {"200": 1}
    assert emulator.vms() == []
    assert emulator.implied_resources() == []
    assert emulator.request_counts()["total"] == 0


async def test_faults_from_the_catalog_apply_from_the_start(
    tmp_path: Path, emulator_catalog: Catalog
) -> None:
    faults = Faults(
        seed=1,
        rules=[
            FaultRule(operation="VirtualMachines_List", kind="latency", latency_seconds=0.01),
            FaultRule(operation="VirtualMachines_List", status=500, code="InternalServerError"),
        ],
    )
    catalog = emulator_catalog.model_copy(update={"faults": faults})
    async with running_emulator(tmp_path / "data", catalog=catalog) as emulator:
        context = ssl_context(emulator)
        token = emulator.issue_token("vmroll-operator")
        url = (
            f"{emulator.base_url}/subscriptions/{emulator.credentials.subscription_id}"
            "/resourceGroups/rg-vmroll/providers/Microsoft.Compute/virtualMachines"
        )
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session,
            session.get(
                url,
                params={"api-version": "2024-07-01"},
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            body = await response.json()
        described = emulator.context.faults.describe()

    assert response.status == 500
    assert body["error"]["code"] == "InternalServerError"
    assert described["injected"] == 2
