"""Microsoft.Compute's own throttling policies, behind ARM's: per VM and per subscription-region.

Compute sorts virtual machine requests into policies (Put VM, Update VM, Delete VM, Low Cost Get,
High Cost Get, Get Operation), each a token bucket per VM and one per subscription and region,
refilled every minute ("Compute throttling limits", copied with its source in
tests/integration/azure_examples/compute_throttling.md). A request must find a token in every
bucket of its policy; then it takes one from each, and the answer reports what is left in
`x-ms-ratelimit-remaining-resource`, one `Microsoft.Compute/<policy>;<count>` entry per bucket
charged, the VM's first (Microsoft's 2024 format, no window suffix). An empty bucket refuses the
request without charging any: 429 `OperationNotAllowed` with a `TooManyRequests` detail naming
the policy and `Retry-After`, the seconds until the empty bucket has a token again. Pure: the
caller passes "now".
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Literal

from vmroll.emulator.catalog import ComputeThrottling, MinuteBucket
from vmroll.emulator.errors import ArmError
from vmroll.emulator.throttling import TokenBucket

PROVIDER = "Microsoft.Compute"
HEADER = "x-ms-ratelimit-remaining-resource"
Scope = Literal["resource", "subscription"]

OPERATION_POLICIES = {
    "VirtualMachines_CreateOrUpdate": "PutVM",
    "VirtualMachines_Update": "UpdateVM",
    "VirtualMachines_Start": "UpdateVM",
    "VirtualMachines_PowerOff": "UpdateVM",
    "VirtualMachines_Restart": "UpdateVM",
    "VirtualMachines_Reimage": "UpdateVM",
    "VirtualMachines_Generalize": "UpdateVM",
    "VirtualMachines_Delete": "DeleteVM",
    "VirtualMachines_Deallocate": "DeleteVM",
    "VirtualMachines_Get": "LowCostGet",
    "VirtualMachines_InstanceView": "LowCostGet",
    "VirtualMachines_ListAvailableSizes": "LowCostGet",
    "VirtualMachines_List": "HighCostGet",
    "VirtualMachines_ListAll": "HighCostGet",
    "VirtualMachines_ListByLocation": "HighCostGet",
    "ComputeOperations_GetStatus": "GetOperation",
}
"""Which policy each emulated operation (ARM's operationId) is charged to, as Microsoft lists."""


def _iso(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


class PolicyBucket:
    """A token bucket that also counts the requests asked of it since it was last full."""

    def __init__(self, settings: MinuteBucket, now: float) -> None:
        self.bucket = TokenBucket(settings.capacity, settings.refill_per_minute / 60)
        self.full_since = now
        self.measured = 0

    def ask(self, now: float) -> bool:
        """Count a request; True if a token is there (not taken yet)."""
        if self.bucket.remaining(now) >= self.bucket.capacity:
            self.full_since, self.measured = now, 0
        self.measured += 1
        return self.bucket.remaining(now) >= 1


@dataclass(frozen=True)
class Charge:
    """One bucket a request was charged to (or refused by) and what it has left."""

    policy: str
    scope: Scope
    remaining: int

    @property
    def entry(self) -> str:
        return f"{PROVIDER}/{self.policy};{self.remaining}"


@dataclass(frozen=True)
class Where:
    """What a request is charged against: its subscription, region and VM (if it names one)."""

    subscription_id: str
    region: str
    resource_id: str | None


class ComputeThrottler:
    """Every Compute bucket of one emulator, created full when first charged."""

    def __init__(self, settings: ComputeThrottling) -> None:
        self.settings = settings
        self._buckets: dict[tuple[str, ...], PolicyBucket] = {}

    def _bucket(self, policy: str, scope: Scope, where: Where, now: float) -> PolicyBucket | None:
        settings = self.settings.policy(policy)
        if scope == "resource":
            if settings.resource is None or where.resource_id is None:
                return None
            key: tuple[str, ...] = (policy, scope, where.resource_id.lower())
            config = settings.resource
        else:
            key = (policy, scope, where.subscription_id.lower(), where.region.lower())
            config = settings.subscription
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = PolicyBucket(config, now)
        return bucket

    def charge(self, policy: str, where: Where, now: float) -> list[Charge]:
        """Charge a request to its policy's buckets; raises Compute's 429 if one is empty."""
        scopes: tuple[Scope, ...] = ("resource", "subscription")
        buckets = [
            (scope, bucket)
            for scope in scopes
            if (bucket := self._bucket(policy, scope, where, now)) is not None
        ]
        empty = [(scope, bucket) for scope, bucket in buckets if not bucket.ask(now)]
        if not empty:
            for _, bucket in buckets:
                bucket.bucket.take(now)
        charges = [Charge(policy, scope, b.bucket.remaining(now)) for scope, b in buckets]
        if empty:
            raise self._throttled(policy, charges, empty, now)
        return charges

    def _throttled(
        self,
        policy: str,
        charges: list[Charge],
        empty: list[tuple[Scope, PolicyBucket]],
        now: float,
    ) -> ArmError:
        retry_after = max(bucket.bucket.retry_after(now) for _, bucket in empty)
        scope, bucket = empty[0]
        violation = {
            "operationGroup": policy,
            "startTime": _iso(bucket.full_since),
            "endTime": _iso(now + retry_after),
            "allowedRequestCount": bucket.bucket.capacity,
            "measuredRequestCount": bucket.measured,
        }
        target = "resource" if scope == "resource" else "subscription"
        return ArmError(
            429,
            "OperationNotAllowed",
            "The server rejected the request because too many requests have been received "
            f"for this {target}.",
            details=[
                {
                    "code": "TooManyRequests",
                    "target": policy,
                    "message": json.dumps(violation, separators=(",", ":")),
                }
            ],
            headers={HEADER: header_value(charges), "Retry-After": str(retry_after)},
        )

    def reset(self) -> None:
        """Refill every bucket."""
        self._buckets.clear()


def header_value(charges: list[Charge]) -> str:
    """One comma-joined `x-ms-ratelimit-remaining-resource` value, as Compute sends it."""
    return ",".join(charge.entry for charge in charges)
