"""ImagePolicy handlers: index the policies for the pools' passes, and report on each policy.

A pool's pass judges it against the policies that match it (reconcile/policy_audit.py); this
module only finds those policies and, every `STATUS_INTERVAL_SECONDS`, sums the pools' last
verdicts into each policy's status and its gauges. Every event of a policy wakes the paused
pools (handlers/wakeups.py) to compare the index with what they last acted on, so that a new,
changed or deleted policy shows on them within a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf
from pydantic import ValidationError

from vmroll.api.base import GROUP, VERSION
from vmroll.api.policy import PLURAL, ImagePolicy, ImagePolicyStatus
from vmroll.api.pool import VirtualMachinePool
from vmroll.api.pool_status import VirtualMachinePoolStatus
from vmroll.handlers.kube import KubeApi
from vmroll.handlers.namespaces import labels_of
from vmroll.handlers.state import OperatorState
from vmroll.metrics.registry import PolicyFigures
from vmroll.plan.policy import NamedPolicy, named_policies
from vmroll.plan.policy_match import policy_applies
from vmroll.plan.policy_status import PoolResult, policy_status

POLICY_INDEX = "policies_by_name"
"""kopf passes each index to handlers as a keyword named after the index function."""
POOLS_BY_UID = "pools_by_uid"
"""The pools' index (handlers/pools.py), by the same keyword rule."""
STATUS_INTERVAL_SECONDS = 5.0


@kopf.index(GROUP, VERSION, PLURAL)
def policies_by_name(name: str | None, body: kopf.Body, **_: Any) -> dict[str | None, Any]:
    """The policies by name, as their specs stand: pools look them up here."""
    return {name: {"metadata": dict(body.metadata), "spec": dict(body.spec)}}


def parsed_policies(index: Mapping[Any, Any]) -> list[NamedPolicy]:
    """Every policy of the index that parses (the API server's schema sees to that)."""
    return named_policies(
        stored for name in sorted(str(key) for key in index) for stored in index.get(name, ())
    )


async def matching_policies(
    kube: KubeApi,
    index: Mapping[Any, Any],
    pool: VirtualMachinePool,
    namespaces: Mapping[Any, Any] | None = None,
) -> tuple[NamedPolicy, ...]:
    """The policies that select the pool; its namespace's labels are looked up only when one
    asks, in the namespaces' index (handlers/namespaces.py), else read."""
    policies = parsed_policies(index)
    labels: dict[str, str] = {}
    if any(p.spec.namespace_selector is not None for p in policies):
        labels = await labels_of(kube, namespaces, pool.metadata.namespace or "")
    return tuple(p for p in policies if policy_applies(p.spec, labels, pool.metadata.labels))


def policy_wake_key(index: Mapping[Any, Any]) -> str:
    """What, when it changes, wakes a pool: the policies' names and generations."""
    return repr(
        sorted(
            (str(name), stored.get("metadata", {}).get("generation"))
            for name in index
            for stored in index.get(name, ())
        )
    )


@kopf.on.event(GROUP, VERSION, PLURAL)
async def policy_event(memo: kopf.Memo, **_: Any) -> None:
    """After the index took the change (or the deletion): every paused pool compares, since a
    policy may come to select any of them."""
    memo.state.wakeups.every_pool()


@kopf.timer(GROUP, VERSION, PLURAL, interval=STATUS_INTERVAL_SECONDS)
async def report_policy(
    name: str | None, body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, **kwargs: Any
) -> None:
    state: OperatorState = memo.state
    try:
        policy = ImagePolicy.model_validate(dict(body))
    except ValidationError:
        return
    live = kwargs[POOLS_BY_UID]
    pools = []
    for uid, memory in state.memories.items():
        found = next(iter(live.get(uid, ())), None)
        if found is not None:
            namespace, pool_name = found
            pools.append(
                PoolResult(namespace, pool_name, _vms(memory.status), memory.policy_verdicts)
            )
    current = policy.status or ImagePolicyStatus()
    new = policy_status(name or "", policy.metadata.generation, pools, current, state.clock())
    figures = PolicyFigures(new.matched_pools, new.matched_vms, new.non_compliant_pools)
    state.metrics.policy(name or "", figures)
    if new.to_wire() != current.to_wire():
        patch.status.update(new.to_wire())


@kopf.on.delete(GROUP, VERSION, PLURAL, optional=True)
async def policy_deleted(name: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Its gauges go with it; the pools notice through the index and drop the condition."""
    memo.state.metrics.forget_policy(name or "")


def _vms(status: VirtualMachinePoolStatus | None) -> int:
    return status.replicas if status is not None else 0
