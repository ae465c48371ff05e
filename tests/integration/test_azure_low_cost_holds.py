"""A 429 for an empty Low-cost get bucket holds the reads of one VM (its GET, its instance view)
of every pool of the subscription and region, whatever account they read through, until its
`Retry-After`: real SDK clients over HTTPS to the emulator, whose subscription bucket is lowered
so that one pool empties it, and whose clock moves only when the holds' clock does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import ManualClock, Paced
from emulator_clients import POLLING_INTERVAL, connection_of

from vmroll.azure import AzureGateways
from vmroll.azure.clients import ClientOptions
from vmroll.azure.errors import Throttled
from vmroll.emulator.catalog import Catalog, ComputeThrottling, MinuteBucket
from vmroll.emulator.server import Emulator
from vmroll.reconcile.failures import throttled_cause

pytestmark = pytest.mark.integration

CAPACITY = 3
REFILL_PER_MINUTE = 6.0
"""One token back every 10 s: a 429's Retry-After is 10 s."""
MAX_RETRY_WAIT = 1.0
"""Below the Retry-After: the 429 reaches its caller, and a read held longer is not sent."""


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
async def gateways(paced: Paced) -> AsyncIterator[AzureGateways]:
    options = ClientOptions(polling_interval=POLLING_INTERVAL, max_retry_wait=MAX_RETRY_WAIT)
    created = AzureGateways(client_options=options, clock=paced, sleep=paced.sleep)
    try:
        yield created
    finally:
        await created.close()


def get_statuses(emulator: Emulator) -> dict[str, int]:
    counts: dict[str, int] = emulator.request_counts()["operations"]["VirtualMachines_Get"]
    return dict(counts["byStatus"])


async def test_a_429_of_the_subscriptions_bucket_holds_every_pools_reads_there(
    emulator: Emulator, gateways: AzureGateways, paced: Paced
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


async def test_a_short_hold_is_slept_through_and_the_read_goes(
    emulator: Emulator, gateways: AzureGateways, paced: Paced
) -> None:
    creds = emulator.credentials
    group = creds.resource_group
    async with gateways.borrow(connection_of(creds), location=creds.location) as web:
        for i in range(CAPACITY):
            await web.read_vm(group, f"web-{i}")
        with pytest.raises(Throttled):
            await web.read_vm(group, f"web-{CAPACITY}")
        paced.advance(10.0 - MAX_RETRY_WAIT / 2)
        found = await web.read_vm(group, "web-0")

    assert found is None
    assert paced.slept == [pytest.approx(MAX_RETRY_WAIT / 2)]
    assert get_statuses(emulator) == {"404": CAPACITY + 1, "429": 1}
