"""A 429 for an empty Low-cost get bucket holds the reads of one VM (its GET, its instance view)
of every pool of the subscription and region, whatever account they read through, until its
`Retry-After`; so does it the read-back of a create whose name exists, the GET that ends a create
or a tag update, and a capture's reads of its source and builder, which also hold the pools'
when answered 429: real SDK clients over
HTTPS to the emulator, whose subscription bucket is lowered so that one pool empties it, and
whose clock moves only when the holds' clock does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import ManualClock, Paced
from emulator_clients import POLLING_INTERVAL, Counted, connection_of
from test_azure_gateway_vms import WEB, vm_spec

from vmroll.azure import AlreadyCreated, AzureGateways
from vmroll.azure.capture_gateway import borrow_captures
from vmroll.azure.clients import ClientOptions
from vmroll.azure.errors import Throttled
from vmroll.azure.gateway import AzureGateway
from vmroll.azure.lro import OperationRecord, OperationState
from vmroll.azure.vms import vm_resource_id
from vmroll.emulator.catalog import Catalog, ComputeThrottling, MinuteBucket
from vmroll.emulator.server import Emulator
from vmroll.plan.ownership import CAPTURE_UID_TAG
from vmroll.reconcile.failures import throttled_cause

pytestmark = pytest.mark.integration

CAPACITY = 3
REFILL_PER_MINUTE = 6.0
"""One token back every 10 s: a 429's Retry-After is 10 s."""
MAX_RETRY_WAIT = 1.0
"""Below the Retry-After: the 429 reaches its caller, and a read held longer is not sent."""
CAPTURE = "uid-capture"
"""The capture the writes are for: the queue they wait in in the write budget."""


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    bucket = MinuteBucket(capacity=CAPACITY, refill_per_minute=REFILL_PER_MINUTE)
    vm = MinuteBucket(capacity=36, refill_per_minute=12)
    compute = ComputeThrottling.model_validate(
        {"LowCostGet": {"resource": vm, "subscription": bucket}}
    )
    throttling = emulator_catalog.throttling.model_copy(update={"compute": compute})
    return emulator_catalog.model_copy(update={"throttling": throttling})


@pytest.fixture
def emulator_clock(manual_clock: ManualClock) -> ManualClock:
    return manual_clock


@pytest.fixture
def paced(manual_clock: ManualClock) -> Paced:
    return Paced(manual_clock)


@pytest.fixture
def counted() -> Counted:
    return Counted()


@pytest.fixture
async def gateways(paced: Paced, counted: Counted) -> AsyncIterator[AzureGateways]:
    options = ClientOptions(polling_interval=POLLING_INTERVAL, max_retry_wait=MAX_RETRY_WAIT)
    created = AzureGateways(
        client_options=options, clock=paced, sleep=paced.sleep, observer=counted
    )
    try:
        yield created
    finally:
        await created.close()


def get_statuses(emulator: Emulator, operation: str = "VirtualMachines_Get") -> dict[str, int]:
    counts = emulator.request_counts()["operations"].get(operation, {})
    return dict(counts.get("byStatus", {}))


async def spend_low_cost_gets(gateway: AzureGateway, group: str, first: int = 0) -> None:
    """Read `CAPACITY` VMs that do not exist, then one more: answered 429, the bucket empty."""
    for i in range(first, first + CAPACITY):
        assert await gateway.read_vm(group, f"web-{i}") is None
    with pytest.raises(Throttled):
        await gateway.read_vm(group, f"web-{first + CAPACITY}")


async def test_a_429_of_the_subscriptions_bucket_holds_every_pools_reads_there(
    emulator: Emulator, gateways: AzureGateways, paced: Paced, counted: Counted
) -> None:
    creds = emulator.credentials
    group, region = creds.resource_group, creds.location
    first = connection_of(creds)
    other = connection_of(emulator.credentials_for("vmroll-reader"))
    async with (
        gateways.borrow(first, location=region) as web,
        gateways.borrow(other, location=region) as api,
        gateways.borrow(first, location="eastus") as east,
    ):
        for i in range(CAPACITY):
            assert await web.read_vm(group, f"web-{i}") is None
        with pytest.raises(Throttled) as met:
            await web.read_vm(group, f"web-{CAPACITY}")
        with pytest.raises(Throttled) as held:
            await api.read_vm(group, "api-0")
        elsewhere = await east.read_vm("rg-vmroll-eastus", "east-0")
        statuses_while_held = get_statuses(emulator)
        paced.advance(held.value.retry_after or 0.0)
        after = await api.read_vm(group, "api-0")

    assert met.value.retry_after == 10.0
    assert (held.value.policy, held.value.retry_after) == ("LowCostGet", 10.0)
    # What the held pool's pass names in its condition and event, as for a 429 of its own.
    assert throttled_cause(held.value) == (
        "Azure is throttling LowCostGet requests, waiting for its Retry-After: Compute's "
        f"Low-cost get bucket of subscription {creds.subscription_id.lower()} in {region} is "
        "empty (another read was answered 429); nothing was sent"
    )
    assert elsewhere is None
    assert statuses_while_held == {"404": CAPACITY + 1, "429": 1}
    assert after is None
    assert get_statuses(emulator) == {"404": CAPACITY + 2, "429": 1}
    # A read held is not sent, and the operator's metrics count none.
    assert counted.requests["VirtualMachines_Get"] == {"404": CAPACITY + 2, "429": 1}


async def test_a_short_hold_is_slept_through_and_the_read_goes(
    emulator: Emulator, gateways: AzureGateways, paced: Paced
) -> None:
    creds = emulator.credentials
    group = creds.resource_group
    async with gateways.borrow(connection_of(creds), location=creds.location) as web:
        await spend_low_cost_gets(web, group)
        paced.advance(10.0 - MAX_RETRY_WAIT / 2)
        found = await web.read_vm(group, "web-0")

    assert found is None
    assert paced.slept == [pytest.approx(MAX_RETRY_WAIT / 2)]
    assert get_statuses(emulator) == {"404": CAPACITY + 1, "429": 1}


async def test_the_read_back_of_a_create_whose_name_exists_is_held(
    emulator: Emulator, gateways: AzureGateways, paced: Paced
) -> None:
    creds = emulator.credentials
    group = creds.resource_group
    async with gateways.borrow(connection_of(creds), location=creds.location) as web:
        spec = await vm_spec(emulator, web, "web-0")
        assert isinstance(await web.create_vm(group, spec), OperationRecord)
        await spend_low_cost_gets(web, group, first=1)
        with pytest.raises(Throttled) as held:
            await web.create_vm(group, spec)
        statuses_while_held = get_statuses(emulator)
        paced.advance(held.value.retry_after or 0.0)
        again = await web.create_vm(group, spec)

    assert (held.value.policy, held.value.retry_after) == ("LowCostGet", 10.0)
    assert statuses_while_held == {"404": CAPACITY, "429": 1}
    assert isinstance(again, AlreadyCreated)
    assert get_statuses(emulator) == {"404": CAPACITY, "429": 1, "200": 1}


async def test_the_get_that_ends_a_create_or_a_tag_update_is_held(
    emulator: Emulator, gateways: AzureGateways, paced: Paced
) -> None:
    creds = emulator.credentials
    group = creds.resource_group
    async with gateways.borrow(connection_of(creds), location=creds.location) as web:
        record = await web.create_vm(group, await vm_spec(emulator, web, "web-0"))
        assert isinstance(record, OperationRecord)
        paced.advance(1.0)  # the create is done; the full bucket stays full
        await spend_low_cost_gets(web, group, first=1)
        with pytest.raises(Throttled) as create_held:
            await web.wait_operation(record, max_wait=30)
        (vm,) = (await web.list_pool_vms(group, WEB)).owned
        with pytest.raises(Throttled) as update_held:
            await web.release_vm(vm, "2026-11-30T00:00:00Z")
        statuses_while_held = get_statuses(emulator)
        paced.advance(create_held.value.retry_after or 0.0)
        done = await web.wait_operation(record, max_wait=30)

    assert (create_held.value.policy, update_held.value.policy) == ("LowCostGet", "LowCostGet")
    assert statuses_while_held == {"404": CAPACITY, "429": 1}
    assert get_statuses(emulator, "VirtualMachines_Update") == {"200": 1}
    assert done is OperationState.SUCCEEDED
    assert get_statuses(emulator) == {"404": CAPACITY, "429": 1, "200": 1}


async def test_a_captures_reads_are_held_and_their_429_holds_the_pools_reads(
    emulator: Emulator, gateways: AzureGateways, paced: Paced
) -> None:
    creds = emulator.credentials
    group, region = creds.resource_group, creds.location
    connection = connection_of(creds)
    source = vm_resource_id(creds.subscription_id, group, "golden-source")
    async with (
        borrow_captures(gateways, connection, location=region, owner=CAPTURE) as capture,
        gateways.borrow(connection, location=region) as web,
    ):
        built = await capture.create_builder(group, await vm_spec(emulator, web, "builder"))
        assert isinstance(built, OperationRecord)
        paced.advance(1.0)  # the builder is created; the full bucket stays full
        for _ in range(CAPACITY):
            assert await capture.read_source(source, region) is None
        with pytest.raises(Throttled):
            await capture.read_source(source, region)
        with pytest.raises(Throttled) as pool_held:
            await web.read_vm(group, "web-0")
        with pytest.raises(Throttled) as builder_held:
            await capture.read_builder(source, CAPTURE_UID_TAG)
        with pytest.raises(Throttled) as create_held:
            await capture.wait_operation(built, max_wait=30)

    held = (pool_held.value, builder_held.value, create_held.value)
    assert [(e.policy, e.retry_after) for e in held] == [("LowCostGet", 10.0)] * 3
    assert get_statuses(emulator, "VirtualMachines_InstanceView") == {"404": CAPACITY, "429": 1}
    assert get_statuses(emulator) == {}
