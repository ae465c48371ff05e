"""The operator's Azure metrics against the emulator's own counters: every HTTP attempt of the
real SDK pipeline is counted once, under the operation name the emulator counts it by, with its
status (a dropped connection is status `none` here, 0 in the emulator: on a POST, which neither
aiohttp nor the SDK sends again); 429s and the Retry-After waits that follow them, and
write-budget waits, are counted too.

The metrics are read back as Prometheus scrapes them: exposed as text, parsed with
prometheus_client's parser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from emulator_clients import POLLING_INTERVAL, connection_of
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from vmroll.azure import (
    AzureGateways,
    ComputeGateway,
    MarketplaceRef,
    OperationState,
    TransientAzureError,
    VmSpec,
)
from vmroll.azure.budget import BudgetSettings, Limit
from vmroll.azure.clients import ClientOptions
from vmroll.emulator.catalog import FaultRule, Faults
from vmroll.emulator.server import Emulator
from vmroll.metrics.registry import OperatorMetrics
from vmroll.plan.ownership import PoolIdentity

pytestmark = pytest.mark.integration

WEB = PoolIdentity(namespace="team", name="web", uid="uid-web")
THROTTLED_LISTINGS = 2
BUDGET = BudgetSettings(arm=Limit(1, 0.5), reserve=0, max_wait=10)
"""One ARM write at once, then one every two seconds: the reimage waits for the create's token
(the delete draws on ARM's other bucket, deletes)."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: OperatorMetrics) -> Samples:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_by_operation(samples: Samples) -> dict[str, dict[str, int]]:
    counted: dict[str, dict[str, int]] = {}
    for (name, labels), value in samples.items():
        if name == "vmroll_azure_requests_total":
            label = dict(labels)
            counted.setdefault(label["operation"], {})[label["status"]] = int(value)
    return counted


@pytest.fixture
def metrics() -> OperatorMetrics:
    return OperatorMetrics()


@pytest.fixture
async def observed(emulator: Emulator, metrics: OperatorMetrics) -> AsyncIterator[ComputeGateway]:
    gateways = AzureGateways(
        client_options=ClientOptions(polling_interval=POLLING_INTERVAL),
        budget_settings=BUDGET,
        observer=metrics,
    )
    try:
        async with gateways.borrow(
            connection_of(emulator.credentials), location=emulator.credentials.location
        ) as gateway:
            yield gateway
    finally:
        await gateways.close()


async def test_requests_throttles_and_waits_match_the_emulator(
    emulator: Emulator, observed: ComputeGateway, metrics: OperatorMetrics
) -> None:
    creds = emulator.credentials
    emulator.set_faults(Faults(rules=[
        FaultRule(operation="VirtualMachineImages_List", status=429, remaining=THROTTLED_LISTINGS),
        FaultRule(operation="VirtualMachines_Reimage", kind="reset", remaining=1),
    ]))  # fmt: skip
    image = await observed.resolve_image(
        creds.location, MarketplaceRef("Canonical", "ubuntu-24_04-lts", "server"), max_age=60
    )
    spec = VmSpec(
        name="web-0", location=creds.location, size="Standard_D2s_v5", image=image,
        subnet_id=creds.subnet_id, admin_username="azureuser", owner=WEB, revision="r1",
        ssh_public_keys=("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIVmroll",),
    )  # fmt: skip
    created = await observed.create_vm(creds.resource_group, spec)
    assert await observed.wait_operation(created, max_wait=30) is OperationState.SUCCEEDED
    listing = await observed.list_pool_vms(creds.resource_group, WEB)
    (vm,) = listing.owned
    await observed.get_vm_runtime(vm)
    with pytest.raises(TransientAzureError):
        await observed.reimage_vm(vm, WEB.uid, None)
    deleted = await observed.delete_vm(vm, WEB.uid)
    assert await observed.wait_operation(deleted, max_wait=30) is OperationState.SUCCEEDED

    served = emulator.request_counts()
    samples = scrape(metrics)
    arm = {
        name: {
            ("none" if status == "0" else status): count
            for status, count in counts["byStatus"].items()
        }
        for name, counts in served["operations"].items()
        if not name.startswith("Identity_")
    }
    assert requests_by_operation(samples) == arm
    assert {"VirtualMachines_CreateOrUpdate", "VirtualMachines_Delete",
            "ComputeOperations_GetStatus"} <= set(arm)  # fmt: skip
    assert arm["VirtualMachines_Reimage"] == {"none": 1}
    assert served["throttled"] == THROTTLED_LISTINGS
    throttled = sum(
        v for (n, _), v in samples.items() if n == "vmroll_azure_throttled_requests_total"
    )
    assert throttled == THROTTLED_LISTINGS
    retry_after = frozenset({("cause", "retry_after")})
    assert samples[("vmroll_azure_retry_wait_seconds_count", retry_after)] == THROTTLED_LISTINGS
    assert samples[("vmroll_azure_retry_wait_seconds_sum", retry_after)] == THROTTLED_LISTINGS * 1.0
    assert samples[("vmroll_azure_write_budget_wait_seconds_count", frozenset())] == 1
    assert 0 < samples[("vmroll_azure_write_budget_wait_seconds_sum", frozenset())] <= 2.0
    assert samples[("vmroll_azure_write_budget_exhausted_total", frozenset())] == 0
