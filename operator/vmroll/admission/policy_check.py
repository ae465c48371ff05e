"""Deny ImagePolicies enforced at admission: the pool check that refuses an image they deny.

The webhook serves on every replica, leader or not, and a standby runs none of kopf's handlers,
so no kopf index holds the policies there. The check reads them from the API server for each
review that needs them: a list of ImagePolicies, and the pool's Namespace only when a policy
selects by namespace. That is one or two reads per pool create or image change, which are rare,
and it is never stale, where a watch-backed cache on every replica would be code to keep right
(resync, reconnects, readiness before the first list) for no gain at that rate.

What is judged is what `judge_pool_spec` judges, the spec's image and location, without Azure:
a pinned version by the denied and minimum versions and its build date, any image by source,
region and licensing. A create is judged; an update only when it changes the image or the
location, so a pool already out of policy can always be scaled, relabelled, fixed or deleted
(deletion never reaches the check). When the policies cannot be read, the request is refused as
unavailable, saying so: the registration's failurePolicy is Fail, so the webhook being down
refuses too, and admitting a pool that a Deny policy forbids only because the API server
hiccupped would make Deny a suggestion. The user retries; nothing else is blocked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from vmroll.admission.review import CheckUnavailable
from vmroll.api.policy import Enforcement
from vmroll.api.pool import VirtualMachinePool
from vmroll.plan.policy import (
    VERSION_RULES,
    NamedPolicy,
    PolicyRule,
    Verdict,
    judge_pool_spec,
    named_policies,
)


class PolicySource(Protocol):
    """Where the check reads the policies and a namespace's labels (the API server)."""

    async def image_policies(self) -> list[Mapping[str, Any]]: ...

    async def namespace_labels(self, name: str) -> dict[str, str] | None: ...


def judged_part_changed(pool: VirtualMachinePool, old: VirtualMachinePool | None) -> bool:
    """Whether the update touches what a policy judges at admission (always, on a create)."""
    if old is None:
        return True
    return (pool.spec.image, pool.spec.location) != (old.spec.image, old.spec.location)


def parsed_policies(stored: Sequence[Mapping[str, Any]]) -> list[NamedPolicy]:
    """The policies that parse (the API server's schema sees to it), by name."""
    return sorted(named_policies(stored), key=lambda p: p.name)


def deny_refusal(verdict: Verdict, pool: VirtualMachinePool) -> str | None:
    """The refusal when a Deny policy is violated, naming the field, the policy and the rule and
    what to do instead; None when no Deny policy is."""
    if verdict.enforcement is not Enforcement.DENY:
        return None
    decisive, *others = verdict.violations
    text = f"{_field(decisive.rule, pool)}: {decisive.message} ({decisive.rule})"
    if others:
        text += f" (and {len(others)} more)"
    if decisive.rule in VERSION_RULES:
        # Admission reads no Azure: the region's versions, and so the newest compliant one, are
        # the pool's PolicyCompliant condition's to name once it exists.
        text += f"; pin a version policy {decisive.policy} allows"
    return text


def _field(rule: PolicyRule, pool: VirtualMachinePool) -> str:
    image = pool.spec.image
    if rule is PolicyRule.LOCATION_NOT_ALLOWED:
        return "spec.location"
    if rule is PolicyRule.PURCHASE_PLAN_NOT_ALLOWED:
        return "spec.image.plan"
    if rule is PolicyRule.TERMS_NOT_ALLOWED:
        return "spec.image.acceptTerms"
    if rule in VERSION_RULES:
        return "spec.image.gallery.version" if image.gallery else "spec.image.marketplace.version"
    return "spec.image"


class DenyPolicies:
    """The webhook's pool check for Deny ImagePolicies (a `vmroll.admission.review.PoolCheck`)."""

    def __init__(self, source: PolicySource, clock: Callable[[], datetime]) -> None:
        self._source = source
        self._clock = clock

    async def __call__(
        self, pool: VirtualMachinePool, old: VirtualMachinePool | None
    ) -> str | None:
        if not judged_part_changed(pool, old):
            return None
        try:
            policies = parsed_policies(await self._source.image_policies())
            labels: dict[str, str] = {}
            if any(p.spec.namespace_selector is not None for p in policies):
                labels = await self._source.namespace_labels(pool.metadata.namespace or "") or {}
        except (ApiException, HTTPError, OSError) as error:
            raise CheckUnavailable(
                "vmroll could not read the ImagePolicies to judge spec.image "
                f"({_reason(error)}); this is transient, retry"
            ) from error
        verdict = judge_pool_spec(policies, pool.spec, labels, pool.metadata.labels, self._clock())
        return deny_refusal(verdict, pool)


def _reason(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"the API server answered {error.status} {error.reason}"
    return type(error).__name__
