"""Compute's own throttling policies (azure_examples/compute_throttling.md), per VM and per
subscription-region, behind ARM's buckets: remaining counts, 429s, refill, and the SDK's retry."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import POLLING_INTERVAL, admin_session

from vmroll.emulator.catalog import Catalog, ComputePolicy, ComputeThrottling, MinuteBucket
from vmroll.emulator.server import Emulator

pytestmark = pytest.mark.integration

HEADER = "x-ms-ratelimit-remaining-resource"
POLICIES = ("PutVM", "UpdateVM", "DeleteVM", "LowCostGet", "HighCostGet", "GetOperation")
EASTUS_GROUP = "rg-vmroll-eastus"


def small(resource: int | None, subscription: int, per_minute: float = 6) -> ComputePolicy:
    """Buckets small enough to empty in a test; 6 a minute: one token back every 10 s."""
    return ComputePolicy(
        resource=MinuteBucket(capacity=resource, refill_per_minute=per_minute)
        if resource is not None
        else None,
        subscription=MinuteBucket(capacity=subscription, refill_per_minute=per_minute),
    )


def with_compute(catalog: Catalog, **policies: ComputePolicy) -> Catalog:
    compute = ComputeThrottling.model_validate(policies)
    throttling = catalog.throttling.model_copy(update={"compute": compute})
    return catalog.model_copy(update={"throttling": throttling})


@pytest.fixture
def emulator_catalog(emulator_catalog: Catalog) -> Catalog:
    """Two tokens per VM, three per subscription and region, for every policy."""
    return with_compute(
        emulator_catalog,
        **{name: small(None if name == "HighCostGet" else 2, 3) for name in POLICIES},
    )


@pytest.fixture
def emulator_clock(manual_clock: Any) -> Any:
    """Operations stay in progress and buckets refill only when the test moves time."""
    return manual_clock


def entries(headers: Any) -> list[tuple[str, int]]:
    """`x-ms-ratelimit-remaining-resource` as (policy, remaining), in the order sent."""
    parsed = []
    for entry in headers[HEADER].split(","):
        name, _, count = entry.partition(";")
        provider, _, policy = name.partition("/")
        assert provider == "Microsoft.Compute"
        parsed.append((policy, int(count)))
    return parsed


def _vm(emulator: Emulator, name: str, group: str | None = None) -> str:
    creds = emulator.credentials
    return (
        f"/subscriptions/{creds.subscription_id}/resourceGroups/{group or creds.resource_group}"
        f"/providers/Microsoft.Compute/virtualMachines/{name}"
    )


@dataclass
class Calls:
    """One request of each policy against the VM `web-0` (created, its create in progress)."""

    emulator: Emulator
    arm: Any
    operation_url: str

    def of(self, policy: str) -> Callable[[], Awaitable[tuple[int, Any, Any]]]:
        vm = _vm(self.emulator, "web-0")
        creds = self.emulator.credentials
        requests = {
            "PutVM": lambda: self.arm.call("PUT", vm, json={"location": creds.location}),
            "UpdateVM": lambda: self.arm.call("POST", vm + "/restart"),
            "DeleteVM": lambda: self.arm.call("POST", vm + "/deallocate"),
            "LowCostGet": lambda: self.arm.call("GET", vm + "/instanceView"),
            "HighCostGet": lambda: self.arm.call(
                "GET",
                f"/subscriptions/{creds.subscription_id}/providers/Microsoft.Compute"
                f"/locations/{creds.location}/virtualMachines",
            ),
            "GetOperation": lambda: self.arm.call("GET", self.operation_url, api_version=None),
        }
        call: Callable[[], Awaitable[tuple[int, Any, Any]]] = requests[policy]
        return call


@pytest.fixture
async def calls(emulator: Emulator, arm: Any, vm_body: Any) -> Calls:
    status, headers, _ = await arm.call("PUT", _vm(emulator, "web-0"), json=vm_body())
    assert status == 201
    emulator.context.compute_throttler.reset()
    return Calls(emulator, arm, headers["Azure-AsyncOperation"])


@pytest.mark.parametrize("policy", [p for p in POLICIES if p != "HighCostGet"])
async def test_each_vm_policy_counts_down_per_vm_and_per_region_then_answers_429(
    calls: Calls, emulator: Emulator, policy: str
) -> None:
    answers = [await calls.of(policy)() for _ in range(3)]

    assert [entries(headers) for _, headers, _ in answers] == [
        [(policy, 1), (policy, 2)],
        [(policy, 0), (policy, 1)],
        [(policy, 0), (policy, 1)],
    ]
    status, headers, body = answers[-1]
    assert status == 429
    assert headers["Retry-After"] == "10"
    error = body["error"]
    assert error["code"] == "OperationNotAllowed"
    assert error["message"].endswith("too many requests have been received for this resource.")
    assert [(d["code"], d["target"]) for d in error["details"]] == [("TooManyRequests", policy)]
    assert f'"operationGroup":"{policy}"' in error["details"][0]["message"]
    assert '"allowedRequestCount":2,"measuredRequestCount":3' in error["details"][0]["message"]
    counts = emulator.request_counts()
    assert counts["throttledByPolicy"] == {f"Microsoft.Compute/{policy}": 1}
    assert counts["throttled"] == 1


async def test_high_cost_get_has_only_a_subscription_region_bucket(
    calls: Calls, emulator: Emulator
) -> None:
    answers = [await calls.of("HighCostGet")() for _ in range(4)]

    assert [entries(h) for _, h, _ in answers] == [
        [("HighCostGet", 2)],
        [("HighCostGet", 1)],
        [("HighCostGet", 0)],
        [("HighCostGet", 0)],
    ]
    status, headers, body = answers[-1]
    assert status == 429
    assert headers["Retry-After"] == "10"
    assert body["error"]["message"].endswith("received for this subscription.")
    assert emulator.request_counts()["throttledByPolicy"] == {"Microsoft.Compute/HighCostGet": 1}


async def test_an_empty_vm_bucket_leaves_other_vms_alone(emulator: Emulator, arm: Any) -> None:
    for _ in range(3):
        await arm.call("GET", _vm(emulator, "a"))

    other, headers, _ = await arm.call("GET", _vm(emulator, "b"))

    assert other == 404
    assert entries(headers) == [("LowCostGet", 1), ("LowCostGet", 0)]
    assert emulator.request_counts()["throttledByPolicy"] == {"Microsoft.Compute/LowCostGet": 1}


async def test_an_empty_region_bucket_throttles_every_vm_there_but_not_another_region(
    emulator: Emulator, arm: Any
) -> None:
    for name in ("a", "b", "c"):
        assert (await arm.call("DELETE", _vm(emulator, name)))[0] == 204

    fourth, fourth_headers, body = await arm.call("DELETE", _vm(emulator, "d"))
    elsewhere, elsewhere_headers, _ = await arm.call("DELETE", _vm(emulator, "d", EASTUS_GROUP))

    assert fourth == 429
    assert entries(fourth_headers) == [("DeleteVM", 2), ("DeleteVM", 0)]
    assert body["error"]["message"].endswith("for this subscription.")
    assert elsewhere == 204
    assert entries(elsewhere_headers) == [("DeleteVM", 1), ("DeleteVM", 2)]


async def test_tokens_come_back_every_minute_at_the_refill_rate(
    emulator: Emulator, arm: Any, manual_clock: Any
) -> None:
    for _ in range(3):
        await arm.call("GET", _vm(emulator, "a"))

    manual_clock.advance(10)
    after_ten, headers, _ = await arm.call("GET", _vm(emulator, "a"))
    again, _, _ = await arm.call("GET", _vm(emulator, "a"))
    manual_clock.advance(60)
    after_a_minute, refilled, _ = await arm.call("GET", _vm(emulator, "a"))

    assert (after_ten, again, after_a_minute) == (404, 429, 404)
    assert entries(headers) == [("LowCostGet", 0), ("LowCostGet", 1)]
    assert entries(refilled) == [("LowCostGet", 1), ("LowCostGet", 2)]


async def test_the_admin_api_reports_429s_per_policy_and_refills_compute_buckets(
    emulator: Emulator, arm: Any
) -> None:
    for _ in range(3):
        await arm.call("GET", _vm(emulator, "a"))
    for name in ("a", "b", "c", "d"):
        await arm.call("DELETE", _vm(emulator, name))

    async with admin_session(emulator) as admin:
        async with admin.get(f"{emulator.base_url}/_emulator/requests") as response:
            served = await response.json()
        async with admin.post(f"{emulator.base_url}/_emulator/throttling/reset") as response:
            assert response.status == 200
    status, headers, _ = await arm.call("GET", _vm(emulator, "a"))

    assert served["throttledByPolicy"] == {
        "Microsoft.Compute/DeleteVM": 1,
        "Microsoft.Compute/LowCostGet": 1,
    }
    assert served["throttled"] == 2
    assert status == 404
    assert entries(headers) == [("LowCostGet", 1), ("LowCostGet", 2)]


class TestDefaults:
    @pytest.fixture
    def emulator_catalog(self, emulator_catalog: Catalog) -> Catalog:
        return emulator_catalog.model_copy(
            update={"throttling": emulator_catalog.throttling.model_copy(
                update={"compute": ComputeThrottling()}
            )}
        )  # fmt: skip

    async def test_azures_limits_are_the_starting_counts(
        self, emulator: Emulator, arm: Any, vm_body: Any
    ) -> None:
        _, created, _ = await arm.call("PUT", _vm(emulator, "web-0"), json=vm_body())
        _, read, _ = await arm.call("GET", _vm(emulator, "web-0"))
        _, listed, _ = await arm.call("GET", _vm(emulator, "").rstrip("/"))

        assert entries(created) == [("PutVM", 11), ("PutVM", 1499)]
        assert entries(read) == [("LowCostGet", 35), ("LowCostGet", 23999)]
        assert entries(listed) == [("HighCostGet", 899)]


class RecordAttempts(SansIOHTTPPolicy[Any, Any]):
    """Every attempt the SDK sends (it sits after the retry policy, as the SDK's custom hook
    policy does): URL, when sent, status, when answered, Retry-After."""

    def __init__(self) -> None:
        self.attempts: list[dict[str, Any]] = []

    def on_request(self, request: PipelineRequest[Any]) -> None:
        self.attempts.append({"url": request.http_request.url, "sent": time.monotonic()})

    def on_response(self, request: PipelineRequest[Any], response: Any) -> None:
        attempt = self.attempts[-1]
        attempt["status"] = response.http_response.status_code
        attempt["answered"] = time.monotonic()
        attempt["retryAfter"] = response.http_response.headers.get("Retry-After")


class TestWithTheRealClock:
    @pytest.fixture
    def emulator_clock(self) -> Any:
        return time.time

    @pytest.fixture
    def emulator_catalog(self, emulator_catalog: Catalog) -> Catalog:
        """Two status polls per VM, then one a second: the SDK, polling every 0.02 s, is
        throttled as a client polling faster than Get Operation allows is in Azure."""
        return with_compute(
            emulator_catalog.model_copy(update={"time_scale": 0.01}),
            GetOperation=small(2, 1000, per_minute=60),
        )

    async def test_the_sdk_waits_retry_after_before_polling_again_and_succeeds(
        self, emulator: Emulator, credential: Any, vm_body: Any
    ) -> None:
        recorder = RecordAttempts()
        creds = emulator.credentials
        client = ComputeManagementClient(
            credential,
            creds.subscription_id,
            base_url=creds.resource_manager_endpoint,
            credential_scopes=[creds.credential_scope],
            connection_verify=creds.ca_bundle,
            polling_interval=POLLING_INTERVAL,
            custom_hook_policy=recorder,
        )
        async with client:
            poller = await client.virtual_machines.begin_create_or_update(
                creds.resource_group, "web-0", vm_body()
            )
            vm = await poller.result()

        polls = [a for a in recorder.attempts if "/operations/" in a["url"]]
        throttled = [i for i, a in enumerate(polls[:-1]) if a["status"] == 429]
        assert vm.provisioning_state == "Succeeded"
        assert throttled
        for i in throttled:
            waited = polls[i + 1]["sent"] - polls[i]["answered"]
            assert waited >= 0.9 * int(polls[i]["retryAfter"])
        served = emulator.request_counts()
        assert served["throttledByPolicy"] == {"Microsoft.Compute/GetOperation": len(throttled)}
