"""The groups' shared lists are paced by what Compute reports of its High-cost get bucket, per
subscription and region: real SDK clients over HTTPS to the emulator, whose bucket is lowered
so that another client can empty it, and whose clock moves only when the lists' pacing sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import ArmHttp, ManualClock, Paced
from emulator_clients import POLLING_INTERVAL, connection_of

from vmroll.azure import AzureGateways
from vmroll.azure.clients import ClientOptions
from vmroll.azure.errors import Throttled
from vmroll.azure.list_headroom import high_cost_key
from vmroll.emulator.catalog import Catalog, ComputeThrottling, MinuteBucket
from vmroll.emulator.server import Emulator
from vmroll.plan.list_pacing import AT_WORK, HIGH_COST_REFILL_PER_SECOND, LOW_HEADROOM, RESERVE
from vmroll.reconcile.shared_listing import GroupListings

pytestmark = pytest.mark.integration

CAPACITY = 40
REFILL_PER_MINUTE = 6.0
"""One token back every 10 s: a 429's Retry-After is 10 s."""
WINDOW = 30.0


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    bucket = MinuteBucket(capacity=CAPACITY, refill_per_minute=REFILL_PER_MINUTE)
    compute = ComputeThrottling.model_validate(
        {"HighCostGet": {"resource": None, "subscription": bucket}}
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
async def gateways(paced: Paced) -> AsyncIterator[AzureGateways]:
    # A 429's Retry-After (10 s) beyond the pipeline's retries: it reaches the caller at once.
    options = ClientOptions(polling_interval=POLLING_INTERVAL, max_retry_wait=1.0)
    created = AzureGateways(client_options=options, clock=paced)
    try:
        yield created
    finally:
        await created.close()


async def spend(arm: ArmHttp, emulator: Emulator, lists: int) -> None:
    """Another client of the subscription lists the group `lists` times."""
    creds = emulator.credentials
    path = (
        f"/subscriptions/{creds.subscription_id}/resourceGroups/{creds.resource_group}"
        "/providers/Microsoft.Compute/virtualMachines"
    )
    for _ in range(lists):
        status, _headers, _body = await arm.call("GET", path)
        assert status == 200


def list_statuses(emulator: Emulator) -> dict[str, int]:
    counts: dict[str, int] = emulator.request_counts()["operations"]["VirtualMachines_List"]
    return dict(counts["byStatus"])


async def test_lists_at_work_slow_down_when_another_client_leaves_the_bucket_low(
    emulator: Emulator, arm: ArmHttp, gateways: AzureGateways, paced: Paced
) -> None:
    creds = emulator.credentials
    listings = GroupListings(WINDOW, paced, sleep=paced.sleep, reports=gateways.high_cost.latest)
    pace = high_cost_key(creds.subscription_id, creds.location)
    connection = connection_of(creds)
    await spend(arm, emulator, CAPACITY - 4)

    async with gateways.borrow(connection, location=creds.location) as gateway:
        reads = listings.for_pool(gateway, connection, "uid-0", pace=pace)
        await reads.list_group_vms(creds.resource_group)
        listings.mark("uid-0")  # a pool at work: it waits for the next list
        await reads.list_group_vms(creds.resource_group)

    # 3 tokens reported left: the list of one page waits for it and the reserve (1.6 s), then
    # for its period at two thirds of the refill shrunk to 11 tokens of the 450 below which
    # lists slow down: 12.3 s, where a full bucket's period is 0.3 s.
    refill = (1 + RESERVE - 3) / HIGH_COST_REFILL_PER_SECOND
    share = AT_WORK * (1 + RESERVE) / LOW_HEADROOM
    assert paced.slept == [pytest.approx(1 / (share * HIGH_COST_REFILL_PER_SECOND))]
    assert paced.slept[0] > refill
    assert list_statuses(emulator) == {"200": CAPACITY - 4 + 2}


async def test_a_429_holds_back_every_accounts_lists_in_the_region_for_its_retry_after(
    emulator: Emulator, arm: ArmHttp, gateways: AzureGateways, paced: Paced
) -> None:
    creds = emulator.credentials
    reader = emulator.credentials_for("vmroll-reader")
    listings = GroupListings(WINDOW, paced, sleep=paced.sleep, reports=gateways.high_cost.latest)
    pace = high_cost_key(creds.subscription_id, creds.location)
    await spend(arm, emulator, CAPACITY)
    first, second = connection_of(creds), connection_of(reader)

    async with (
        gateways.borrow(first, location=creds.location) as operator_gateway,
        gateways.borrow(second, location=creds.location) as reader_gateway,
    ):
        reads = listings.for_pool(operator_gateway, first, "uid-0", pace=pace)
        with pytest.raises(Throttled) as raised:
            await reads.list_group_vms(creds.resource_group)
        other = listings.for_pool(reader_gateway, second, "uid-1", pace=pace)
        listed = await other.list_group_vms(creds.resource_group)

    assert raised.value.policy == "HighCostGet"
    assert raised.value.retry_after == 10.0
    # The other account's pool waited out the Retry-After, then the refill of its list and the
    # reserve, before listing: one 429 in all, where it would have been answered 429 too.
    assert paced.slept == [pytest.approx(10.0 + (1 + RESERVE) / HIGH_COST_REFILL_PER_SECOND)]
    assert listed == ()
    assert list_statuses(emulator) == {"200": CAPACITY + 1, "429": 1}
