"""ARM's token-bucket throttling: remaining-request headers, 429 with Retry-After, SDK retries."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.emulator.catalog import Bucket, Catalog, Throttling
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    throttling = Throttling(
        reads=Bucket(capacity=3, refill_per_second=2),
        writes=Bucket(capacity=2, refill_per_second=2),
        deletes=Bucket(capacity=2, refill_per_second=2),
    )
    return emulator_catalog.model_copy(update={"throttling": throttling})


@pytest.fixture
def emulator_clock(manual_clock: Any) -> Any:
    """Buckets refill only when the test moves time, so remaining counts are exact."""
    return manual_clock


def _vms(emulator: Emulator) -> str:
    creds = emulator.credentials
    return (
        f"/subscriptions/{creds.subscription_id}/resourceGroups/{creds.resource_group}"
        "/providers/Microsoft.Compute/virtualMachines"
    )


async def test_reads_report_remaining_tokens_then_429_with_retry_after(
    emulator: Emulator, arm: Any
) -> None:
    answers = [await arm.call("GET", _vms(emulator)) for _ in range(4)]

    remaining = [h.get("x-ms-ratelimit-remaining-subscription-reads") for _, h, _ in answers]
    status, headers, body = answers[-1]
    assert remaining == ["2", "1", "0", "0"]
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    assert body["error"]["code"] == "SubscriptionRequestsThrottled"
    assert "Number of 'read' requests for subscription" in body["error"]["message"]
    assert emulator.request_counts()["throttled"] == 1
    assert emulator.request_counts()["throttledByPolicy"] == {"ARM/subscription-reads": 1}


async def test_writes_and_deletes_have_their_own_buckets(
    emulator: Emulator, arm: Any, vm_body: Any
) -> None:
    _, put_headers, _ = await arm.call("PUT", _vms(emulator) + "/web-0", json=vm_body())
    _, delete_headers, _ = await arm.call("DELETE", _vms(emulator) + "/never-was")
    _, get_headers, _ = await arm.call("GET", _vms(emulator))

    assert put_headers["x-ms-ratelimit-remaining-subscription-writes"] == "1"
    assert delete_headers["x-ms-ratelimit-remaining-subscription-deletes"] == "1"
    assert get_headers["x-ms-ratelimit-remaining-subscription-reads"] == "2"


async def test_tokens_come_back_as_time_passes(
    emulator: Emulator, arm: Any, manual_clock: Any
) -> None:
    for _ in range(3):
        await arm.call("GET", _vms(emulator))

    manual_clock.advance(1)
    status, headers, _ = await arm.call("GET", _vms(emulator))

    assert status == 200
    assert headers["x-ms-ratelimit-remaining-subscription-reads"] == "1"


class TestWithTheRealClock:
    @pytest.fixture
    def emulator_clock(self) -> Any:
        return time.time

    @pytest.fixture
    def emulator_catalog(self, emulator_catalog: Catalog) -> Catalog:
        """One read, then one every 2 s: the second of quick requests is always throttled."""
        throttling = Throttling(reads=Bucket(capacity=1, refill_per_second=0.5))
        return emulator_catalog.model_copy(update={"throttling": throttling})

    async def test_the_sdk_retry_policy_honours_retry_after_and_succeeds(
        self, emulator: Emulator, compute_client: ComputeManagementClient
    ) -> None:
        group = emulator.credentials.resource_group

        listings = [
            [vm async for vm in compute_client.virtual_machines.list(group)] for _ in range(2)
        ]

        counts = emulator.request_counts()["operations"]["VirtualMachines_List"]["byStatus"]
        assert listings == [[], []]
        assert counts["200"] == 2
        assert counts["429"] >= 1
