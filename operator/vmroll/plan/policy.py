"""Judge a pool's image against the ImagePolicies that match it: pure, so that the operator's
audit, its remediation and the admission webhook reach the same verdict from the same facts.

`evaluate` is the core. It takes the matching policies, what the pool runs (or asks for) and
the facts vmroll observed about the image's versions in the pool's region, and returns
a verdict per policy: compliant, or the rules violated with messages that name the version, the
policy and the limit. It also names the newest available version that every policy accepts, which
is what Remediate rolls to and what a refusal suggests. All matching policies apply; the
strictest enforcement among the violated ones wins (Deny > Remediate > Audit).
`enforced_action` says what vmroll does after admission about a broken policy: Remediate moves the
pool to the newest compliant version; Deny keeps a pool following `latest` off a denied version it
would roll or create onto; both stall the pool when no version complies.
`judge_pool_spec` is the entry point for admission: a pool spec as submitted, every policy, and
whatever facts the caller has; it selects the policies and judges the version the spec names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from vmroll.api.image import ImageSource, PurchasePlan
from vmroll.api.policy import (
    Enforcement,
    ImagePolicy,
    ImagePolicySpec,
    Licensing,
    PolicyRules,
)
from vmroll.api.pool import VirtualMachinePoolSpec
from vmroll.plan.policy_match import (
    any_glob,
    describe_image,
    image_matches,
    policy_applies,
    source_allowed,
)
from vmroll.plan.versions import is_image_version, normalize_location, parse_image_version

_STRICTNESS = (Enforcement.DENY, Enforcement.REMEDIATE, Enforcement.AUDIT)
_DATED_PART = re.compile(r"(20[0-9]{2})([01][0-9])([0-3][0-9])[0-9]?")


class PolicyRule(StrEnum):
    """The rules of an ImagePolicy; each is also the PolicyCompliant reason naming it."""

    SOURCE_NOT_ALLOWED = "ImageSourceNotAllowed"
    LOCATION_NOT_ALLOWED = "LocationNotAllowed"
    PURCHASE_PLAN_NOT_ALLOWED = "PurchasePlanNotAllowed"
    TERMS_NOT_ALLOWED = "TermsAcceptanceNotAllowed"
    MAX_AGE = "ImageTooOld"
    MAX_VERSIONS_BEHIND = "TooManyVersionsBehind"
    MINIMUM_VERSION = "BelowMinimumVersion"
    DENIED_VERSION = "VersionDenied"


VERSION_RULES = frozenset(
    {
        PolicyRule.MAX_AGE,
        PolicyRule.MAX_VERSIONS_BEHIND,
        PolicyRule.MINIMUM_VERSION,
        PolicyRule.DENIED_VERSION,
    }
)
"""Rules another version of the same image can satisfy; the others need a change of spec."""


@dataclass(frozen=True)
class NamedPolicy:
    """An ImagePolicy's name and spec: all evaluation needs of the object."""

    name: str
    spec: ImagePolicySpec


def named_policies(objects: Iterable[Mapping[str, Any]]) -> list[NamedPolicy]:
    """The ImagePolicy objects that parse, in the order given (the API server's schema sees to
    it that all do; one that does not is left out rather than failing every pool)."""
    found = []
    for item in objects:
        try:
            policy = ImagePolicy.model_validate(item)
        except ValidationError:
            continue
        found.append(NamedPolicy(policy.metadata.name, policy.spec))
    return found


@dataclass(frozen=True)
class VersionFact:
    """One version of the pool's image available in its region, with its publish date when
    Azure says (a gallery version's publishedDate); a marketplace version's date is read from
    the version itself."""

    version: str
    published: datetime | None = None


@dataclass(frozen=True)
class PolicySubject:
    """What a pool runs or asks for, and what vmroll knows of its image's versions."""

    image: ImageSource
    location: str
    version: str | None
    """The exact version judged: the one running or targeted; None for a managed image (or a
    version not resolved yet), which no version rule can judge."""
    plan: PurchasePlan | None = None
    """The purchase plan of the image as resolved (or as the spec names it)."""
    published: datetime | None = None
    """When `version` was published, when Azure says (a gallery's publishedDate)."""
    available: tuple[VersionFact, ...] = ()
    """The versions of the image available in the location."""


@dataclass(frozen=True)
class Violation:
    """One rule of one policy that the subject breaks."""

    policy: str
    enforcement: Enforcement
    rule: PolicyRule
    message: str


@dataclass(frozen=True)
class PolicyVerdict:
    """What one policy says of the subject."""

    policy: str
    enforcement: Enforcement
    violations: tuple[Violation, ...] = ()

    @property
    def compliant(self) -> bool:
        return not self.violations


class Alternative(StrEnum):
    """Whether another version would comply, when the subject does not."""

    NOT_NEEDED = "NotNeeded"
    """The subject complies."""
    FOUND = "Found"
    """`Verdict.alternative` names the newest compliant version."""
    NO_COMPLIANT_VERSION = "NoCompliantVersion"
    """No version available in the region satisfies every matching policy."""
    SPEC_CHANGE_NEEDED = "SpecChangeNeeded"
    """A rule that no version can satisfy is broken (source, location, licensing)."""


@dataclass(frozen=True)
class Verdict:
    """Every matching policy's verdict, and the newest version all of them accept."""

    policies: tuple[PolicyVerdict, ...]
    alternative_status: Alternative
    alternative: str | None = None

    @property
    def compliant(self) -> bool:
        return all(p.compliant for p in self.policies)

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Every violation, the strictest enforcement first, then in policy name order."""
        found = [v for p in self.policies for v in p.violations]
        return tuple(sorted(found, key=lambda v: (_STRICTNESS.index(v.enforcement), v.policy)))

    @property
    def enforcement(self) -> Enforcement | None:
        """The strictest enforcement among the violated policies; None when compliant."""
        violations = self.violations
        return violations[0].enforcement if violations else None

    @property
    def message(self) -> str:
        """The decisive violation's message, with the way out when there is one."""
        violations = self.violations
        if not violations:
            return ""
        text = violations[0].message
        if len(violations) > 1:
            text += f" (and {len(violations) - 1} more)"
        if self.alternative_status is Alternative.FOUND:
            text += f"; newest compliant version: {self.alternative}"
        elif self.alternative_status is Alternative.NO_COMPLIANT_VERSION:
            text += "; no version available in the region complies with every policy"
        return text


def evaluate(policies: Sequence[NamedPolicy], subject: PolicySubject, now: datetime) -> Verdict:
    """The verdict of every policy on `subject` at `now`, and the newest compliant version."""
    verdicts = tuple(
        PolicyVerdict(
            policy=p.name,
            enforcement=p.spec.enforcement,
            violations=tuple(_violations(p, subject, subject.version, subject.published, now)),
        )
        for p in sorted(policies, key=lambda p: p.name)
    )
    broken = [v for verdict in verdicts for v in verdict.violations]
    if not broken:
        return Verdict(verdicts, Alternative.NOT_NEEDED)
    if any(v.rule not in VERSION_RULES for v in broken) or subject.image.requested_version is None:
        return Verdict(verdicts, Alternative.SPEC_CHANGE_NEEDED)
    newest = newest_compliant_version(policies, subject, now)
    if newest is None:
        return Verdict(verdicts, Alternative.NO_COMPLIANT_VERSION)
    return Verdict(verdicts, Alternative.FOUND, newest)


def judge_pool_spec(
    policies: Sequence[NamedPolicy],
    spec: VirtualMachinePoolSpec,
    namespace_labels: Mapping[str, str],
    pool_labels: Mapping[str, str],
    now: datetime,
    available: Sequence[VersionFact] = (),
) -> Verdict:
    """The verdict on a pool spec as submitted, by the policies that select it.

    For the admission webhook, which needs no Azure read: a pinned version is judged as written
    (denied and minimum versions, a marketplace version's build date), `latest` and a managed
    image only by the rules about the spec itself (source, region, licensing); `available`,
    when the caller knows the region's versions, adds maxVersionsBehind, gallery dates and the
    compliant alternative to name. Refuse when `verdict.enforcement is Enforcement.DENY`.
    """
    selected = [p for p in policies if policy_applies(p.spec, namespace_labels, pool_labels)]
    requested = spec.image.requested_version
    version = requested if requested is not None and is_image_version(requested) else None
    published = next((f.published for f in available if f.version == version), None)
    subject = PolicySubject(
        image=spec.image,
        location=spec.location,
        version=version,
        plan=spec.image.plan,
        published=published,
        available=tuple(available),
    )
    return evaluate(selected, subject, now)


def newest_compliant_version(
    policies: Sequence[NamedPolicy], subject: PolicySubject, now: datetime
) -> str | None:
    """The newest available version every policy accepts, or None."""
    exact = [f for f in subject.available if is_image_version(f.version)]
    for fact in sorted(exact, key=lambda f: parse_image_version(f.version), reverse=True):
        if all(
            not tuple(_violations(p, subject, fact.version, fact.published, now)) for p in policies
        ):
            return fact.version
    return None


@dataclass(frozen=True)
class PolicyAction:
    """What vmroll does about the violation that decides it: run `version` instead, or stall."""

    violation: Violation
    version: str | None
    """The newest compliant version to target; None: none complies, stall touching no VM."""


def enforced_action(
    verdict: Verdict, *, follows_latest: bool, new_target: bool
) -> PolicyAction | None:
    """The action a broken Remediate or Deny policy takes on the pool's target, None for none.

    Remediate always acts. Deny acts only on a pool following `latest` whose resolved version
    is `new_target` (one its VMs would roll or be created onto, not the one the pool's target
    revision already runs): Deny keeps vmroll from putting a denied version on a VM, but it does
    not move VMs already running a version that fell out of policy (Remediate does that). A pinned
    version is judged by admission; one that falls out of policy later is reported, as by Audit.
    Neither acts when only a change of spec could comply (source, region, licensing).
    """
    acting = [
        v
        for v in verdict.violations
        if v.enforcement is Enforcement.REMEDIATE
        or (v.enforcement is Enforcement.DENY and follows_latest and new_target)
    ]
    if not acting:
        return None
    if verdict.alternative_status is Alternative.NO_COMPLIANT_VERSION:
        return PolicyAction(acting[0], None)
    if verdict.alternative_status is Alternative.FOUND and verdict.alternative is not None:
        return PolicyAction(acting[0], verdict.alternative)
    return None


def version_date(version: str) -> date | None:
    """A marketplace version's build date as Azure encodes it: the first part of the version
    that reads YYYYMMDD, with or without a trailing build digit (24.04.202607010 is 2026-07-01,
    0.20240513.1740 is 2024-05-13). None when no part does."""
    for part in version.split("."):
        match = _DATED_PART.fullmatch(part)
        if match is None:
            continue
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            continue
    return None


def _violations(
    policy: NamedPolicy,
    subject: PolicySubject,
    version: str | None,
    published: datetime | None,
    now: datetime,
) -> Iterable[Violation]:
    rules = policy.spec.rules

    def broken(rule: PolicyRule, message: str) -> Violation:
        return Violation(policy.name, policy.spec.enforcement, rule, message)

    for rule, message in _fixed_rules(rules, subject):
        yield broken(rule, f"{message}; policy {policy.name} {_ALLOWS[rule]}")
    if version is None or not is_image_version(version):
        return
    for rule, message in _version_rules(policy.name, rules, subject, version, published, now):
        yield broken(rule, message)


_ALLOWS = {
    PolicyRule.SOURCE_NOT_ALLOWED: "allows only the sources in rules.allowedSources",
    PolicyRule.LOCATION_NOT_ALLOWED: "allows only the regions in rules.allowedLocations",
    PolicyRule.PURCHASE_PLAN_NOT_ALLOWED: "restricts paid images (rules.licensing)",
    PolicyRule.TERMS_NOT_ALLOWED: "lets vmroll accept only the terms of the publishers in "
    "rules.licensing.termsPublishers",
}


def _fixed_rules(rules: PolicyRules, subject: PolicySubject) -> Iterable[tuple[PolicyRule, str]]:
    """Rules about the spec itself, which no other version can satisfy."""
    image = subject.image
    if rules.allowed_sources is not None and not source_allowed(rules.allowed_sources, image):
        yield PolicyRule.SOURCE_NOT_ALLOWED, f"image {describe_image(image)} is not allowed"
    location = normalize_location(subject.location)
    allowed_locations = {normalize_location(name) for name in rules.allowed_locations}
    if allowed_locations and location not in allowed_locations:
        yield PolicyRule.LOCATION_NOT_ALLOWED, f"region {subject.location} is not allowed"
    if rules.licensing is not None:
        yield from _licensing(rules.licensing, subject)


def _licensing(licensing: Licensing, subject: PolicySubject) -> Iterable[tuple[PolicyRule, str]]:
    plan = subject.plan or subject.image.plan
    if plan is None:
        return
    named = f"{describe_image(subject.image)} is a paid image (plan {plan.publisher}/{plan.name})"
    if not licensing.allow_purchase_plans:
        yield PolicyRule.PURCHASE_PLAN_NOT_ALLOWED, named
    elif licensing.plan_publishers and not any_glob(licensing.plan_publishers, plan.publisher):
        yield PolicyRule.PURCHASE_PLAN_NOT_ALLOWED, f"{named} of a publisher not allowed"
    if subject.image.accept_terms and not any_glob(licensing.terms_publishers, plan.publisher):
        yield (
            PolicyRule.TERMS_NOT_ALLOWED,
            f"the pool asks vmroll to accept {plan.publisher}'s terms (image.acceptTerms)",
        )


def _version_rules(
    name: str,
    rules: PolicyRules,
    subject: PolicySubject,
    version: str,
    published: datetime | None,
    now: datetime,
) -> Iterable[tuple[PolicyRule, str]]:
    """Rules about the version, which another version of the image may satisfy."""
    for denied in rules.denied_versions:
        if image_matches(denied.image, subject.image) and _same_version(denied.version, version):
            yield (
                PolicyRule.DENIED_VERSION,
                f"{version} is denied by policy {name}: {denied.reason}",
            )
    for minimum in rules.minimum_versions:
        if image_matches(minimum.image, subject.image) and parse_image_version(
            version
        ) < parse_image_version(minimum.version):
            yield (
                PolicyRule.MINIMUM_VERSION,
                f"{version} is older than {minimum.version}, the minimum policy {name} allows",
            )
    freshness = rules.freshness
    if freshness is None:
        return
    if freshness.max_age is not None:
        built = _built_on(subject.image, version, published)
        limit = _days(freshness.max_age)
        if built is None:
            yield (
                PolicyRule.MAX_AGE,
                f"the build date of {version} is unknown; policy {name} allows {limit}",
            )
        else:
            age = now - built
            if age > freshness.max_age:
                yield (
                    PolicyRule.MAX_AGE,
                    f"{version} is {_days(age)} old; policy {name} allows {limit}",
                )
    if freshness.max_versions_behind is not None:
        behind = _versions_behind(version, subject.available)
        if behind > freshness.max_versions_behind:
            yield (
                PolicyRule.MAX_VERSIONS_BEHIND,
                f"{version} is {behind} versions behind the newest in {subject.location}; "
                f"policy {name} allows {freshness.max_versions_behind}",
            )


def _built_on(image: ImageSource, version: str, published: datetime | None) -> datetime | None:
    if published is not None:
        return published
    if image.marketplace is None:
        return None
    built = version_date(version)
    if built is None:
        return None
    return datetime(built.year, built.month, built.day, tzinfo=UTC)


def _days(span: timedelta) -> str:
    """A span as people count image ages: whole days, or hours under two days."""
    if span >= timedelta(days=2):
        return f"{span.days} days"
    return f"{int(span.total_seconds() // 3600)}h"


def _versions_behind(version: str, available: Iterable[VersionFact]) -> int:
    current = parse_image_version(version)
    return sum(
        1
        for fact in available
        if is_image_version(fact.version) and parse_image_version(fact.version) > current
    )


def _same_version(a: str, b: str) -> bool:
    return parse_image_version(a).components == parse_image_version(b).components
