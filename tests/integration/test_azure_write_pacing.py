"""vmroll's write budget and operation polling fed by what the emulator's answers report, through
the real SDK pipeline: the remaining counts of ARM's and Compute's buckets, and `Retry-After`.

The emulator's Put VM bucket for the subscription and region is far smaller than Azure's
published one that vmroll assumes, so only its answers can tell vmroll; its clock stands still
(no bucket refills, no operation ends) and so does vmroll's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from emulator_clients import connection_of

from vmroll.azure import AzureGateways, ComputeGateway, MarketplaceRef, OperationState, VmSpec
from vmroll.azure.budget import (
    ArmBucket,
    BudgetSettings,
    ComputePolicy,
    Write,
    WriteBudget,
    WriteBudgetExhausted,
)
from vmroll.emulator.catalog import Catalog, ComputeThrottling, MinuteBucket
from vmroll.emulator.server import Emulator
from vmroll.plan.ownership import PoolIdentity

pytestmark = pytest.mark.integration

WEB = PoolIdentity(namespace="team", name="web", uid="uid-web")
PUT_VM_TOKENS = 4
RETRY_AFTER = 30
FROZEN = 1000.0


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """Four creates per subscription and region; operations say to poll again in 30 s."""
    compute = ComputeThrottling()
    put_vm = compute.put_vm.model_copy(
        update={"subscription": MinuteBucket(capacity=PUT_VM_TOKENS, refill_per_minute=1)}
    )
    throttling = emulator_catalog.throttling.model_copy(
        update={"compute": compute.model_copy(update={"put_vm": put_vm})}
    )
    return emulator_catalog.model_copy(
        update={"throttling": throttling, "lro_retry_after_seconds": RETRY_AFTER}
    )


@pytest.fixture
def emulator_clock(manual_clock: Any) -> Any:
    return manual_clock


@pytest.fixture
async def gateways() -> AsyncIterator[AzureGateways]:
    built = AzureGateways(
        budget_settings=BudgetSettings(reserve=1, max_wait=0.1), clock=lambda: FROZEN
    )
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def paced(emulator: Emulator, gateways: AzureGateways) -> AsyncIterator[ComputeGateway]:
    creds = emulator.credentials
    async with gateways.borrow(connection_of(creds), location=creds.location) as gateway:
        yield gateway


async def spec(emulator: Emulator, gateway: ComputeGateway, name: str) -> VmSpec:
    creds = emulator.credentials
    image = await gateway.resolve_image(
        creds.location, MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server"), max_age=60
    )
    return VmSpec(
        name=name, location=creds.location, size="Standard_D2s_v5", image=image,
        subnet_id=creds.subnet_id, admin_username="azureuser", owner=WEB, revision="r1",
        ssh_public_keys=("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIVmroll",),
    )  # fmt: skip


def budget_of(emulator: Emulator, gateways: AzureGateways) -> WriteBudget:
    return gateways.budgets.for_subscription(emulator.credentials.subscription_id)


async def test_reported_headroom_paces_creates_before_compute_throttles(
    emulator: Emulator, gateways: AzureGateways, paced: ComputeGateway
) -> None:
    creds = emulator.credentials
    budget = budget_of(emulator, gateways)
    create = Write(WEB.uid, ArmBucket.WRITES, ComputePolicy.PUT_VM, creds.location)
    arm_write = Write(WEB.uid, ArmBucket.WRITES, None, "")
    # Azure's published figures until told (ARM's 200 is less than Put VM's 1,500).
    assert budget.headroom(create) == 200 - 1
    headrooms = []
    for index in range(PUT_VM_TOKENS - 1):
        await paced.create_vm(creds.resource_group, await spec(emulator, paced, f"web-{index}"))
        headrooms.append(budget.headroom(create))
    # The emulator's answers: 3, 2, 1 creates left; one kept in reserve.
    assert headrooms == [2, 1, 0]
    # ARM's writes bucket, also from the answers (200 less the three creates, one reserved).
    assert budget.headroom(arm_write) == 200 - 3 - 1
    with pytest.raises(WriteBudgetExhausted):
        await paced.create_vm(creds.resource_group, await spec(emulator, paced, "web-9"))
    served = emulator.request_counts()
    assert served["operations"]["VirtualMachines_CreateOrUpdate"]["byStatus"] == {
        "201": PUT_VM_TOKENS - 1
    }
    assert served["throttled"] == 0


async def test_an_operation_is_not_polled_before_its_retry_after(
    emulator: Emulator, paced: ComputeGateway
) -> None:
    creds = emulator.credentials
    record = await paced.create_vm(creds.resource_group, await spec(emulator, paced, "web-0"))
    emulator.reset_counters()
    state = await paced.wait_operation(record, max_wait=5)
    assert state is OperationState.RUNNING
    assert emulator.request_counts()["total"] == 0
