"""What an ImagePolicy reports: the pools and VMs it matches, which of them do not comply.

Summed from what each pool's last pass decided (plan/policy.py), so that the policy's status
costs no Azure read of its own; the list of non-compliant pools is bounded and sorted, so that
it stays small and does not churn.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from vmroll.api.policy import MAX_LISTED_VIOLATIONS, ImagePolicyStatus, PolicyViolationRef
from vmroll.api.types import ConditionStatus
from vmroll.plan.conditions import ConditionType, ConditionUpdate
from vmroll.plan.policy import PolicyVerdict
from vmroll.plan.reasons import Reason


@dataclass(frozen=True)
class PoolResult:
    """One pool's last verdicts, and how many VMs it has."""

    namespace: str
    name: str
    vms: int
    verdicts: tuple[PolicyVerdict, ...]


def policy_status(
    policy: str,
    generation: int | None,
    pools: Iterable[PoolResult],
    current: ImagePolicyStatus,
    now: datetime,
) -> ImagePolicyStatus:
    """The status `policy` should show, given every pool's last verdicts."""
    matched: list[tuple[PoolResult, PolicyVerdict]] = [
        (pool, verdict) for pool in pools for verdict in pool.verdicts if verdict.policy == policy
    ]
    failing = sorted(
        ((pool, verdict) for pool, verdict in matched if not verdict.compliant),
        key=lambda item: (item[0].namespace, item[0].name),
    )
    listed = [
        PolicyViolationRef(
            namespace=pool.namespace,
            name=pool.name,
            rule=verdict.violations[0].rule.value,
            message=verdict.violations[0].message[:1024],
        )
        for pool, verdict in failing[:MAX_LISTED_VIOLATIONS]
    ]
    message = f"evaluated against {len(matched)} pools; {len(failing)} do not comply"
    conditions = ConditionUpdate.of(current.conditions).set(
        ConditionType.READY,
        ConditionStatus.TRUE,
        Reason.READY.value,
        message,
        observed_generation=generation,
        now=now,
    )
    return ImagePolicyStatus(
        observed_generation=generation,
        matched_pools=len(matched),
        matched_vms=sum(pool.vms for pool, _ in matched),
        non_compliant_pools=len(failing),
        non_compliant=listed,
        conditions=list(conditions.conditions),
    )
