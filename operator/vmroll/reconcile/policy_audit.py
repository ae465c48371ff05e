"""A pool's PolicyCompliant condition: the facts gathered through the gateway, the verdict
decided in plan/policy.py, the events on its transitions, and what a Remediate policy changes.

Remediate moves the pass's target to the newest compliant version (the pool's own strategy,
bounds and windows then roll it), and the condition says so (True, Remediated); a Deny policy
does the same for a pool following `latest` when the version `latest` resolves to is one the pool
would newly roll or create onto (True, LatestVersionDenied, with one Warning event). When no
version in the region complies the pool is Stalled with NoCompliantVersion before any VM is
touched.

When no ImagePolicy applies the condition is absent, not True: kstatus, Argo CD and Flux read
only Ready, Reconciling and Stalled, so a True "nothing applies" would only be noise in every
`kubectl describe`, and the pool's Policy column stays empty where no policy speaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from vmroll.api.image import LATEST, PurchasePlan
from vmroll.api.policy import Enforcement
from vmroll.api.pool import VirtualMachinePool
from vmroll.api.pool_status import ImageStatus
from vmroll.api.types import Condition, ConditionStatus
from vmroll.azure.images import ResolvedImage
from vmroll.azure.protocol import ComputeGateway
from vmroll.plan.policy import (
    NamedPolicy,
    PolicySubject,
    Verdict,
    VersionFact,
    enforced_action,
    evaluate,
)
from vmroll.plan.reasons import Reason
from vmroll.reconcile.memory import NORMAL, WARNING
from vmroll.reconcile.spec_map import image_ref

PolicyCondition = tuple[ConditionStatus, str, str]


@dataclass(frozen=True)
class PolicyAudit:
    """The condition to write (None: no policy applies, remove it) and the verdict behind it;
    with a Remediate policy broken, the version to run instead or why the pool must stall."""

    condition: PolicyCondition | None
    verdict: Verdict | None = None
    remedy: str | None = None
    """The newest compliant version, which the pass targets instead of the spec's."""
    remedy_why: str | None = None
    """Why, as the rollout's events tell it."""
    stall: tuple[str, str] | None = None
    """Stalled reason and message: no compliant version to remediate to."""


NO_POLICY = PolicyAudit(None)


async def audit_policies(
    gateway: ComputeGateway,
    pool: VirtualMachinePool,
    policies: Sequence[NamedPolicy],
    target: ResolvedImage,
    previous: ImageStatus | None,
    now: datetime,
) -> PolicyAudit:
    """Judge the image the pool's target revision runs against the policies that match it;
    `previous`: the status's image, the version the pool targeted before this pass."""
    if not policies:
        return NO_POLICY
    spec = pool.spec
    version = target.resolved_version
    max_age = spec.update_policy.check_interval.total_seconds()
    ref = image_ref(spec.image)
    infos = await gateway.image_versions(spec.location, ref, max_age=max_age) if version else ()
    published = next((i.published for i in infos if i.version == version), None)
    plan = target.plan
    subject = PolicySubject(
        image=spec.image,
        location=spec.location,
        version=version,
        plan=PurchasePlan(name=plan.name, product=plan.product, publisher=plan.publisher)
        if plan is not None
        else None,
        published=published,
        available=tuple(VersionFact(i.version, i.published) for i in infos),
    )
    verdict = evaluate(policies, subject, now)
    audit = PolicyAudit(policy_condition(verdict, policies), verdict)
    follows_latest = spec.image.requested_version == LATEST
    running = previous.resolved_version if previous is not None else None
    new_latest = version if follows_latest and version != running else None
    return remediation(verdict, audit, new_latest)


def remediation(verdict: Verdict, audit: PolicyAudit, new_latest: str | None = None) -> PolicyAudit:
    """What a broken Remediate policy, or a Deny policy broken by `new_latest` (the version a
    pool following `latest` would roll or create onto), adds to the audit (as `enforced_action`
    decides); nothing when neither acts."""
    new = new_latest is not None
    action = enforced_action(verdict, follows_latest=new, new_target=new)
    if action is None:
        return audit
    first = action.violation
    if action.version is None:
        message = f"{first.message}; no version available in the region complies with every "
        message += "policy: publish one, or change the policy"
        return replace(audit, stall=(Reason.NO_COMPLIANT_VERSION.value, message))
    version = action.version
    if first.enforcement is Enforcement.DENY:
        message = (
            f"the latest version {new_latest} is denied by ImagePolicy {first.policy} "
            f"({first.rule.value}: {first.message}); the pool targets {version}, the newest "
            "compliant version, instead"
        )
        condition = (ConditionStatus.TRUE, Reason.LATEST_DENIED.value, message)
        why = f"ImagePolicy {first.policy} denies the latest version ({first.message})"
        return replace(audit, condition=condition, remedy=version, remedy_why=why)
    condition = (
        ConditionStatus.TRUE,
        Reason.POLICY_REMEDIATED.value,
        f"{first.message}; vmroll runs {version}, the newest compliant version, instead",
    )
    why = f"ImagePolicy {first.policy} requires a compliant version ({first.message})"
    return replace(audit, condition=condition, remedy=version, remedy_why=why)


def policy_condition(verdict: Verdict, policies: Sequence[NamedPolicy]) -> PolicyCondition:
    """True naming the policies that apply, or False with the decisive rule and its message."""
    if verdict.compliant:
        names = ", ".join(sorted(p.name for p in policies))
        return ConditionStatus.TRUE, Reason.POLICY_COMPLIANT.value, f"complies with {names}"
    return ConditionStatus.FALSE, verdict.violations[0].rule.value, verdict.message


def policy_events(old: Condition | None, new: PolicyCondition | None) -> list[tuple[str, str, str]]:
    """An event when the pool falls out of policy, changes violation, complies again, or a Deny
    policy starts keeping it off the version `latest` resolves to."""
    if new is None:
        return []
    status, reason, message = new
    if old is not None and (old.status, old.reason) == (status, reason):
        return []
    if status is ConditionStatus.FALSE or reason == Reason.LATEST_DENIED.value:
        return [(WARNING, reason, message)]
    if old is not None and old.status is ConditionStatus.FALSE:
        return [(NORMAL, reason, message)]
    return []
