"""Long-running operations on the wire: status codes, headers, status bodies, conflicts, preemption.

The emulator's clock is manual here, so an operation stays InProgress until the test moves time.
"""

from __future__ import annotations

from typing import Any

import pytest

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration


@pytest.fixture
def emulator_clock(manual_clock: Any) -> Any:
    return manual_clock


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    return emulator_catalog.model_copy(update={"lro_retry_after_seconds": 3})


def _vm_path(emulator: Emulator, name: str) -> str:
    creds = emulator.credentials
    return (
        f"/subscriptions/{creds.subscription_id}/resourceGroups/{creds.resource_group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


async def test_create_is_accepted_then_polled_to_success(
    emulator: Emulator, arm: Any, vm_body: Any, manual_clock: Any
) -> None:
    path = _vm_path(emulator, "web-0")

    status, headers, body = await arm.call("PUT", path, json=vm_body())
    _, _, running = await arm.call("GET", headers["Azure-AsyncOperation"], api_version=None)
    location_status, _, _ = await arm.call("GET", headers["Location"], api_version=None)
    _, _, while_creating = await arm.call("GET", path)
    manual_clock.advance(60)
    _, _, finished = await arm.call("GET", headers["Azure-AsyncOperation"], api_version=None)
    location_done, _, _ = await arm.call("GET", headers["Location"], api_version=None)
    _, _, created = await arm.call("GET", path)

    assert status == 201
    assert body["properties"]["provisioningState"] == "Creating"
    assert headers["Retry-After"] == "3"
    assert headers["Azure-AsyncOperation"].startswith(emulator.base_url)
    assert "/providers/Microsoft.Compute/locations/westeurope/operations/" in headers["Location"]
    assert "monitor=true" in headers["Location"]
    assert running["status"] == "InProgress"
    assert set(running) == {"startTime", "status", "name"}
    assert location_status == 202
    assert while_creating["properties"]["provisioningState"] == "Creating"
    assert finished["status"] == "Succeeded"
    assert "endTime" in finished
    assert location_done == 200
    assert created["properties"]["provisioningState"] == "Succeeded"


@pytest.mark.parametrize("action", ["start", "powerOff", "deallocate", "restart", "reimage"])
async def test_actions_answer_202_with_both_monitor_urls(
    emulator: Emulator, arm: Any, vm_body: Any, manual_clock: Any, action: str
) -> None:
    path = _vm_path(emulator, "web-0")
    await arm.call("PUT", path, json=vm_body())
    manual_clock.advance(60)

    status, headers, body = await arm.call("POST", f"{path}/{action}")
    _, _, during = await arm.call("GET", path)

    assert status == 202
    assert body is None
    assert {"Azure-AsyncOperation", "Location", "Retry-After"} <= set(headers)
    assert during["properties"]["provisioningState"] == "Updating"


async def test_a_second_operation_while_one_runs_is_a_conflict(
    emulator: Emulator, arm: Any, vm_body: Any
) -> None:
    path = _vm_path(emulator, "web-0")
    await arm.call("PUT", path, json=vm_body())

    status, _, body = await arm.call("POST", f"{path}/restart")

    assert status == 409
    assert body["error"]["code"] == "Conflict"
    assert "in progress" in body["error"]["message"]


async def test_delete_preempts_a_running_create(
    emulator: Emulator, arm: Any, vm_body: Any, manual_clock: Any
) -> None:
    path = _vm_path(emulator, "web-0")
    _, created, _ = await arm.call("PUT", path, json=vm_body())

    status, deleting, _ = await arm.call("DELETE", path)
    _, _, preempted = await arm.call("GET", created["Azure-AsyncOperation"], api_version=None)
    manual_clock.advance(60)
    _, _, deleted = await arm.call("GET", deleting["Azure-AsyncOperation"], api_version=None)
    gone, _, _ = await arm.call("GET", path)

    assert status == 202
    assert preempted["status"] == "Canceled"
    assert preempted["error"]["code"] == "OperationPreempted"
    assert deleted["status"] == "Succeeded"
    assert gone == 404


async def test_deleting_a_missing_vm_answers_204(emulator: Emulator, arm: Any) -> None:
    status, _, _ = await arm.call("DELETE", _vm_path(emulator, "never-was"))

    assert status == 204


async def test_an_unknown_operation_id_is_not_found(emulator: Emulator, arm: Any) -> None:
    creds = emulator.credentials
    path = (
        f"/subscriptions/{creds.subscription_id}/providers/Microsoft.Compute/locations/"
        "westeurope/operations/00000000-0000-0000-0000-000000000000"
    )

    status, _, body = await arm.call("GET", path)

    assert status == 404
    assert body["error"]["code"] == "NotFound"


async def test_the_instance_view_times_provisioning_at_the_operations_end(
    emulator: Emulator, arm: Any, vm_body: Any, manual_clock: Any
) -> None:
    path = _vm_path(emulator, "web-0")
    _, headers, _ = await arm.call("PUT", path, json=vm_body())
    manual_clock.advance(60)

    _, _, operation = await arm.call("GET", headers["Azure-AsyncOperation"], api_version=None)
    _, _, view = await arm.call("GET", path + "/instanceView")

    assert view["statuses"][0]["code"] == "ProvisioningState/succeeded"
    assert view["statuses"][0]["time"] == operation["endTime"]
