"""The emulator's invariant watches (`/_emulator/invariants`): what they record as writes are
applied, including excursions that are over before anyone reads, over HTTPS with the admin token.

Operations finish only when the test moves the emulator's clock, so every transition is chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ArmHttp, ManualClock, VmBody
from emulator_clients import admin_session

from vmroll.emulator.catalog import Catalog
from vmroll.emulator.server import Emulator, running_emulator

pytestmark = pytest.mark.integration

VMROLL = {"User-Agent": "vmroll/0.1.0 azsdk-python-mgmt-compute"}
SOMEONE = {"User-Agent": "azure-cli/2.60"}
POOL = {"vmroll.io_pool-uid": "uid-1", "vmroll.io_revision": "r1"}


@pytest.fixture
def emulator_clock(manual_clock: ManualClock) -> ManualClock:
    return manual_clock


class Admin:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def call(self, method: str, body: Any = None, token: bool = True) -> tuple[int, Any]:
        url = f"{self.emulator.base_url}/_emulator/invariants"
        async with admin_session(self.emulator) as session:
            headers = None if token else {"Authorization": "Bearer wrong"}
            async with session.request(method, url, json=body, headers=headers) as response:
                return response.status, await response.json()

    async def watch(self, **bounds: Any) -> None:
        spec = {"name": "web", "selector": {"vmroll.io_pool-uid": "uid-1"}, **bounds}
        status, body = await self.call("POST", spec)
        assert status == 201, body

    async def record(self) -> dict[str, Any]:
        status, body = await self.call("GET")
        assert status == 200, body
        watches: list[dict[str, Any]] = body["watches"]
        return watches[0]


@pytest.fixture
def admin(emulator: Emulator) -> Admin:
    return Admin(emulator)


def vm_path(emulator: Emulator, name: str) -> str:
    creds = emulator.credentials
    return (
        f"/subscriptions/{creds.subscription_id}/resourceGroups/{creds.resource_group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


async def create(
    arm: ArmHttp, vm_body: VmBody, name: str, tags: dict[str, str], clock: ManualClock
) -> None:
    status, _, body = await arm.call(
        "PUT", vm_path(arm.emulator, name), json=vm_body(tags=tags), headers=VMROLL
    )
    assert status == 201, body
    clock.advance(600)


async def test_an_excursion_above_the_surge_ceiling_is_recorded_though_over_before_any_read(
    arm: ArmHttp, vm_body: VmBody, admin: Admin, manual_clock: ManualClock
) -> None:
    await admin.watch(maxOwned=1, minAvailable=0)
    await create(arm, vm_body, "web-0", POOL, manual_clock)
    await create(arm, vm_body, "web-1", POOL, manual_clock)
    status, _, _ = await arm.call("DELETE", vm_path(arm.emulator, "web-1"), headers=VMROLL)
    assert status == 202
    manual_clock.advance(600)

    record = await admin.record()

    assert [vm["name"] for vm in arm.emulator.vms()] == ["web-0"]
    assert record["peakOwned"] == 2
    assert [(v["kind"], v["count"]) for v in record["violations"]] == [("aboveMaxOwned", 2)]


async def test_a_reimage_below_the_availability_floor_is_recorded_once_per_excursion(
    arm: ArmHttp, vm_body: VmBody, admin: Admin, manual_clock: ManualClock
) -> None:
    await create(arm, vm_body, "web-0", POOL, manual_clock)
    await admin.watch(maxOwned=1, minAvailable=1)
    for _ in range(2):
        status, _, _ = await arm.call(
            "POST", vm_path(arm.emulator, "web-0") + "/reimage", json={}, headers=VMROLL
        )
        assert status == 202
        manual_clock.advance(600)

    record = await admin.record()

    assert record["minAvailable"] == 0
    assert [(v["kind"], v["available"]) for v in record["violations"]] == [
        ("belowMinAvailable", 0),
        ("belowMinAvailable", 0),
    ]


async def test_a_second_vm_of_one_revision_beyond_replicas_is_a_duplicate(
    arm: ArmHttp, vm_body: VmBody, admin: Admin, manual_clock: ManualClock
) -> None:
    await admin.watch(maxOwned=3, minAvailable=0, replicas=1)
    await create(arm, vm_body, "web-0", POOL, manual_clock)
    await create(arm, vm_body, "web-1", {**POOL, "vmroll.io_revision": "r2"}, manual_clock)
    await create(arm, vm_body, "web-2", POOL, manual_clock)

    record = await admin.record()

    assert [(v["kind"], v["count"]) for v in record["violations"]] == [("duplicate", 2)]


async def test_the_replacement_of_a_vm_being_deleted_is_not_a_duplicate_a_second_one_is(
    arm: ArmHttp, vm_body: VmBody, admin: Admin, manual_clock: ManualClock
) -> None:
    await admin.watch(maxOwned=3, minAvailable=0, replicas=1)
    await create(arm, vm_body, "web-0", POOL, manual_clock)
    status, _, _ = await arm.call("DELETE", vm_path(arm.emulator, "web-0"), headers=VMROLL)
    assert status == 202
    await create(arm, vm_body, "web-1", POOL, manual_clock)  # while web-0 is Deleting
    assert (await admin.record())["violations"] == []

    await create(arm, vm_body, "web-2", POOL, manual_clock)

    record = await admin.record()
    assert [(v["kind"], v["count"]) for v in record["violations"]] == [("duplicate", 2)]


async def test_a_write_by_vmroll_to_a_vm_without_the_pools_tags_is_recorded(
    arm: ArmHttp, vm_body: VmBody, admin: Admin, manual_clock: ManualClock
) -> None:
    await create(arm, vm_body, "someone-0", {"team": "other"}, manual_clock)
    await admin.watch(maxOwned=3, minAvailable=0)
    path = vm_path(arm.emulator, "someone-0")
    for headers in (SOMEONE, VMROLL):
        status, _, _ = await arm.call("POST", path + "/restart", headers=headers)
        assert status == 202
        manual_clock.advance(600)

    record = await admin.record()

    assert [(w["vm"], w["operation"]) for w in record["unownedWrites"]] == [
        ("someone-0", "VirtualMachines_Restart")
    ]
    assert record["violations"] == []


async def test_the_admin_api_refuses_a_watch_without_the_admin_token(admin: Admin) -> None:
    spec = {"name": "web", "selector": {"a": "b"}, "maxOwned": 1, "minAvailable": 0}
    status, body = await admin.call("POST", spec, token=False)
    assert status == 401
    assert body["error"]["code"] == "AdminTokenRequired"


async def test_a_restarted_emulator_keeps_its_watches_and_their_record(
    tmp_path: Path, emulator_catalog: Catalog, vm_body: VmBody, manual_clock: ManualClock
) -> None:
    state = tmp_path / "state.json"
    records = []
    for _ in range(2):
        async with running_emulator(
            tmp_path / "emulator", catalog=emulator_catalog, state_file=state, clock=manual_clock
        ) as emulator:
            admin = Admin(emulator)
            if not records:
                await admin.watch(maxOwned=0, minAvailable=0)
                async with (
                    admin_session(emulator) as session,
                    session.put(
                        emulator.base_url + vm_path(emulator, "web-0"),
                        params={"api-version": "2024-07-01"},
                        json=vm_body(tags=POOL),
                        headers={
                            "Authorization": f"Bearer {emulator.issue_token('vmroll-operator')}"
                        },
                    ) as response,
                ):
                    assert response.status == 201
            records.append(await admin.record())

    assert records[1]["violations"] == records[0]["violations"]
    assert [v["kind"] for v in records[1]["violations"]] == ["aboveMaxOwned"]
