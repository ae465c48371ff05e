"""A pool's PolicyCompliant condition: the facts gathered through the gateway, the verdict
decided in plan/policy.py, and the events on its transitions.

When no ImagePolicy applies the condition is absent, not True: kstatus, Argo CD and Flux read
only Ready, Reconciling and Stalled, so a True "nothing applies" would only be noise in every
`kubectl describe`, and the pool's Policy column stays empty where no policy speaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from vmroll.api.image import PurchasePlan as ApiPlan
from vmroll.api.pool import VirtualMachinePool
from vmroll.api.types import Condition, ConditionStatus
from vmroll.azure.images import ResolvedImage
from vmroll.azure.protocol import ComputeGateway
from vmroll.plan.policy import NamedPolicy, PolicySubject, Verdict, VersionFact, evaluate
from vmroll.plan.reasons import Reason
from vmroll.reconcile.memory import NORMAL, WARNING
from vmroll.reconcile.spec_map import image_ref

PolicyCondition = tuple[ConditionStatus, str, str]


@dataclass(frozen=True)
class PolicyAudit:
    """The condition to write (None: no policy applies, remove it) and the verdict behind it."""

    condition: PolicyCondition | None
    verdict: Verdict | None = None


NO_POLICY = PolicyAudit(None)


async def audit_policies(
    gateway: ComputeGateway,
    pool: VirtualMachinePool,
    policies: Sequence[NamedPolicy],
    target: ResolvedImage,
    now: datetime,
) -> PolicyAudit:
    """Judge the image the pool's target revision runs against the policies that match it."""
    if not policies:
        return NO_POLICY
    spec = pool.spec
    version = target.resolved_version
    infos = await gateway.image_versions(spec.location, image_ref(spec.image)) if version else ()
    published = next((i.published for i in infos if i.version == version), None)
    plan = target.plan
    subject = PolicySubject(
        image=spec.image,
        location=spec.location,
        version=version,
        plan=ApiPlan(name=plan.name, product=plan.product, publisher=plan.publisher)
        if plan is not None
        else None,
        published=published,
        available=tuple(VersionFact(i.version, i.published) for i in infos),
    )
    verdict = evaluate(policies, subject, now)
    return PolicyAudit(policy_condition(verdict, policies), verdict)


def policy_condition(verdict: Verdict, policies: Sequence[NamedPolicy]) -> PolicyCondition:
    """True naming the policies that apply, or False with the decisive rule and its message."""
    if verdict.compliant:
        names = ", ".join(sorted(p.name for p in policies))
        return ConditionStatus.TRUE, Reason.POLICY_COMPLIANT.value, f"complies with {names}"
    return ConditionStatus.FALSE, verdict.violations[0].rule.value, verdict.message


def policy_events(old: Condition | None, new: PolicyCondition | None) -> list[tuple[str, str, str]]:
    """An event when the pool falls out of policy, changes violation, or complies again."""
    if new is None:
        return []
    status, reason, message = new
    if old is not None and (old.status, old.reason) == (status, reason):
        return []
    if status is ConditionStatus.FALSE:
        return [(WARNING, reason, message)]
    if old is not None and old.status is ConditionStatus.FALSE:
        return [(NORMAL, reason, message)]
    return []
