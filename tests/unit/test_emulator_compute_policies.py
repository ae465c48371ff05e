"""Compute's throttling policies, driven by an injected clock, against Microsoft's own table and
worked example (tests/integration/azure_examples/compute_throttling.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vmroll.emulator.catalog import (
    CatalogError,
    ComputePolicy,
    ComputeThrottling,
    MinuteBucket,
    default_catalog_data,
    load_catalog,
    parse_catalog,
)
from vmroll.emulator.compute_throttling import ComputeThrottler, Where
from vmroll.emulator.errors import ArmError

REFERENCE = Path(__file__).parents[1] / "integration" / "azure_examples" / "compute_throttling.md"
VM_A = Where("sub", "westeurope", "/subscriptions/sub/resourceGroups/rg/providers/x/vm-a")
VM_B = Where("sub", "westeurope", "/subscriptions/sub/resourceGroups/rg/providers/x/vm-b")


def _reference_table() -> dict[str, tuple[tuple[int, int] | None, tuple[int, int]]]:
    """header name -> ((per VM refill, max) or None, (per subscription refill, max))."""

    def pair(cell: str) -> tuple[int, int] | None:
        if cell.strip() == "-":
            return None
        refill, capacity = (int(n) for n in re.findall(r"\d+", cell))
        return refill, capacity

    table = {}
    for line in REFERENCE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[A-Za-z]+", cells[0]) and cells[0] != "header":
            subscription = pair(cells[4])
            assert subscription is not None
            table[cells[0]] = (pair(cells[3]), subscription)
    return table


def test_the_defaults_are_microsofts_published_table() -> None:
    defaults = ComputeThrottling()

    def as_pairs(policy: ComputePolicy) -> tuple[tuple[int, int] | None, tuple[int, int]]:
        resource = policy.resource
        return (
            (int(resource.refill_per_minute), resource.capacity) if resource else None,
            (int(policy.subscription.refill_per_minute), policy.subscription.capacity),
        )

    table = _reference_table()
    assert sorted(table) == sorted(
        ["PutVM", "UpdateVM", "DeleteVM", "LowCostGet", "HighCostGet", "GetOperation"]
    )
    assert {name: as_pairs(defaults.policy(name)) for name in table} == table


def test_microsofts_worked_example_minute_by_minute() -> None:
    """Update VM at 4 a minute, 12 at most: requests 0, 8, 0, 13, 5, 0 in minutes 1 to 6 are
    throttled 0, 0, 0, 1, 1, 0 times, and minute 6 starts with 4 tokens."""
    bucket = MinuteBucket(capacity=12, refill_per_minute=4)
    policy = ComputePolicy(
        resource=bucket, subscription=MinuteBucket(capacity=10**6, refill_per_minute=1)
    )
    throttler = ComputeThrottler(ComputeThrottling(UpdateVM=policy))
    throttled = []
    for minute, requests in enumerate([0, 8, 0, 13, 5, 0]):
        refused = 0
        for _ in range(requests):
            try:
                throttler.charge("UpdateVM", VM_A, now=minute * 60.0)
            except ArmError:
                refused += 1
        throttled.append(refused)

    in_minute_six = throttler.charge("UpdateVM", VM_A, now=5 * 60.0)

    assert throttled == [0, 0, 0, 1, 1, 0]
    assert in_minute_six[0].remaining == 4 - 1


def _tiny() -> ComputeThrottling:
    small = ComputePolicy(
        resource=MinuteBucket(capacity=2, refill_per_minute=6),
        subscription=MinuteBucket(capacity=3, refill_per_minute=6),
    )
    return ComputeThrottling(LowCostGet=small)


def test_a_refused_request_takes_no_token_from_any_bucket() -> None:
    throttler = ComputeThrottler(_tiny())
    throttler.charge("LowCostGet", VM_A, now=0.0)
    throttler.charge("LowCostGet", VM_A, now=0.0)
    with pytest.raises(ArmError):
        throttler.charge("LowCostGet", VM_A, now=0.0)

    charges = throttler.charge("LowCostGet", VM_B, now=0.0)

    assert [(c.scope, c.remaining) for c in charges] == [("resource", 1), ("subscription", 0)]


def test_the_429_names_the_policy_the_bucket_and_when_to_retry() -> None:
    throttler = ComputeThrottler(_tiny())
    for _ in range(2):
        throttler.charge("LowCostGet", VM_A, now=100.0)

    with pytest.raises(ArmError) as refused:
        throttler.charge("LowCostGet", VM_A, now=104.0)

    error = refused.value
    detail = error.details[0]
    violation = json.loads(detail["message"])
    assert (error.status, error.code, detail["target"]) == (
        429,
        "OperationNotAllowed",
        "LowCostGet",
    )
    assert error.headers == {
        "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/LowCostGet;0,"
        "Microsoft.Compute/LowCostGet;1",
        "Retry-After": "6",
    }
    assert violation["operationGroup"] == "LowCostGet"
    assert (violation["allowedRequestCount"], violation["measuredRequestCount"]) == (2, 3)
    assert violation["startTime"].startswith("1970-01-01T00:01:40.")


def test_regions_and_subscriptions_have_their_own_buckets() -> None:
    throttler = ComputeThrottler(_tiny())
    vms = [Where("sub", "westeurope", f"vm-{i}") for i in range(3)]
    for vm in vms:
        throttler.charge("LowCostGet", vm, now=0.0)

    elsewhere = [
        throttler.charge("LowCostGet", Where("sub", "eastus", "vm-9"), now=0.0),
        throttler.charge("LowCostGet", Where("other", "westeurope", "vm-8"), now=0.0),
    ]

    assert [c[1].remaining for c in elsewhere] == [2, 2]
    with pytest.raises(ArmError):
        throttler.charge("LowCostGet", Where("SUB", "WestEurope", "vm-7"), now=0.0)


def test_the_built_in_catalog_spells_out_the_defaults() -> None:
    assert load_catalog().throttling.compute == ComputeThrottling()


def test_a_catalog_may_set_one_policy_and_keep_the_others() -> None:
    data = default_catalog_data()
    data["throttling"]["compute"] = {
        "GetOperation": {"resource": {"capacity": 3, "refillPerMinute": 1}, "subscription": {
            "capacity": 9, "refillPerMinute": 2}}
    }  # fmt: skip

    compute = parse_catalog(data, "test").throttling.compute

    assert compute.policy("GetOperation").resource == MinuteBucket(capacity=3, refill_per_minute=1)
    assert compute.policy("PutVM") == ComputeThrottling().policy("PutVM")


def test_an_unknown_policy_name_is_refused_with_its_path() -> None:
    data = default_catalog_data()
    data["throttling"]["compute"] = {
        "PutVm": {"subscription": {"capacity": 1, "refillPerMinute": 1}}
    }

    with pytest.raises(CatalogError) as raised:
        parse_catalog(data, "test")

    assert "throttling.compute.PutVm" in str(raised.value)
