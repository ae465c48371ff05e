"""What Azure's answers say about its buckets, and where vmroll keeps count of them.

ARM reports what is left of the caller's per-subscription bucket of the request's kind in
`x-ms-ratelimit-remaining-subscription-reads|writes|deletes`; Compute reports each bucket it
charged in `x-ms-ratelimit-remaining-resource`, `Microsoft.Compute/<policy>;<count>` entries,
comma-joined or repeated. A VM request is charged to the VM's own bucket and to its
subscription-region bucket of the same policy, listed in that order (the order of Microsoft's
example and of the emulator); entries named with a window (`PutVM3Min`, `PutVM30Min`, the
format before 2024) are all subscription buckets, and the smallest count is kept.

The request policy (request_policy.py) reads every answer; what it concerns is known only to
the caller (a VM's region is in no VM URL), so the gateway opens a `CallScope` around each write,
each wait for an operation and each list of a group's VMs, and the policy finds it in
`CURRENT_CALL` (a context variable: it follows the call through the SDK's pipeline and poller,
which run in the caller's task). Reads of one VM are told to the Low-cost holds the same way
(low_cost_holds.py `held`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from vmroll.azure.budget import ArmBucket, Write, WriteBudget, bucket_keys
from vmroll.azure.poll_pacing import PollPacer

RESOURCE_HEADER = "x-ms-ratelimit-remaining-resource"
ARM_HEADER = "x-ms-ratelimit-remaining-subscription-"
GET_OPERATION = "GetOperation"
_WINDOW = re.compile(r"^(?P<policy>.+?)(?P<window>\d+Min)$")


@dataclass(frozen=True)
class Headroom:
    """The remaining counts one answer reported, and its `Retry-After` in seconds."""

    arm: Mapping[ArmBucket, int] = field(default_factory=dict)
    subscription: Mapping[str, int] = field(default_factory=dict)
    """Compute policy -> what its subscription-region bucket has left."""
    resource: Mapping[str, int] = field(default_factory=dict)
    """Compute policy -> what the VM's own bucket has left."""
    retry_after: float | None = None
    reads: int | None = None
    """What ARM's reads bucket has left (read_pacing.py paces reads by it)."""


def read_headroom(headers: Mapping[str, str]) -> Headroom:
    lowered = {name.lower(): value for name, value in headers.items()}
    arm = {
        bucket: count
        for bucket in ArmBucket
        if (count := _int(lowered.get(ARM_HEADER + bucket.value))) is not None
    }
    entries: dict[str, list[int]] = {}
    windowed: dict[str, list[int]] = {}
    for entry in lowered.get(RESOURCE_HEADER, "").split(","):
        name, _, count_text = entry.strip().rpartition(";")
        count = _int(count_text)
        policy = name.rpartition("/")[2]
        if count is None or not policy:
            continue
        match = _WINDOW.match(policy)
        if match is not None:
            windowed.setdefault(match["policy"], []).append(count)
        else:
            entries.setdefault(policy, []).append(count)
    subscription = {policy: counts[-1] for policy, counts in entries.items()}
    resource = {policy: counts[0] for policy, counts in entries.items() if len(counts) > 1}
    for policy, counts in windowed.items():
        subscription[policy] = min(
            [*counts, *([subscription[policy]] if policy in subscription else [])]
        )
    retry_after = _float(lowered.get("retry-after"))
    reads = _int(lowered.get(ARM_HEADER + "reads"))
    return Headroom(arm, subscription, resource, retry_after, reads)


def _int(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    try:
        return float(text.strip()) if text is not None else None
    except ValueError:
        return None


def feed_budget(budget: WriteBudget, write: Write, status: int, headroom: Headroom) -> None:
    """Lower the write's buckets to what Azure reported; on a 429, hold back the buckets it
    names empty, or all of the write's when it names none (and not the VM's own bucket)."""
    keys = bucket_keys(write)
    arm_key, compute_key = keys[0], keys[1] if len(keys) > 1 else None
    empty = []
    arm = headroom.arm.get(write.arm)
    if arm is not None:
        budget.report(arm_key, arm)
        if arm == 0:
            empty.append(arm_key)
    policy = write.policy.value if write.policy is not None else None
    if compute_key is not None and policy is not None:
        remaining = headroom.subscription.get(policy)
        if remaining is not None:
            budget.report(compute_key, remaining)
            if remaining == 0:
                empty.append(compute_key)
    if status != 429:
        return
    seconds = headroom.retry_after or 1.0
    vm_empty = policy is not None and headroom.resource.get(policy) == 0
    if empty:
        budget.defer(empty, seconds)
    elif not vm_empty:
        budget.defer(keys, seconds)


Listed = Callable[[int, Headroom], None]


@dataclass(frozen=True)
class CallScope:
    """What the requests of one gateway call concern."""

    polls: PollPacer
    resource_id: str | None = None
    """The VM whose operation the call starts or follows, if any."""
    budget: WriteBudget | None = None
    write: Write | None = None
    listed: Listed | None = None
    """Told every answer to a list's pages (list_headroom.py)."""

    def answered(self, method: str, status: int, headroom: Headroom) -> None:
        if self.listed is not None and method == "GET":
            self.listed(status, headroom)
        if self.budget is not None and self.write is not None and method != "GET":
            feed_budget(self.budget, self.write, status, headroom)
        if self.resource_id is not None and (status < 300 or status == 429):
            self.polls.answered(
                self.resource_id,
                retry_after=headroom.retry_after,
                remaining=headroom.resource.get(GET_OPERATION),
            )


CURRENT_CALL: ContextVar[CallScope | None] = ContextVar("vmroll_azure_call", default=None)


@contextmanager
def call_scope(scope: CallScope) -> Iterator[None]:
    token = CURRENT_CALL.set(scope)
    try:
        yield
    finally:
        CURRENT_CALL.reset(token)
