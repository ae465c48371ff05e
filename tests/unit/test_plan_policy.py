"""The pure ImagePolicy verdict: tables of named cases, plus hypothesis for its invariants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vmroll.api.image import ImageSource
from vmroll.api.policy import Enforcement, ImagePolicySpec
from vmroll.api.pool import VirtualMachinePoolSpec
from vmroll.plan.policy import (
    Alternative,
    NamedPolicy,
    PolicyRule,
    PolicySubject,
    VersionFact,
    enforced_action,
    evaluate,
    judge_pool_spec,
    named_policies,
    newest_compliant_version,
    version_date,
)
from vmroll.plan.policy_match import policy_applies

NOW = datetime(2026, 8, 28, 12, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
GALLERY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-images/providers/"
    "Microsoft.Compute/galleries/golden"
)
RABBIT_PLAN = {"name": "rabbitmq", "product": "rabbitmq", "publisher": "bitnami"}
AVAILABLE = ("24.04.202606180", "24.04.202607010", "24.04.202608110", "24.04.202608200")


def policy(
    name: str, rules: dict[str, Any], enforcement: str = "Audit", **spec: Any
) -> NamedPolicy:
    body = {"rules": rules, "enforcement": enforcement, **spec}
    return NamedPolicy(name, ImagePolicySpec.model_validate(body))


def test_named_policies_keeps_the_objects_that_parse_in_their_order() -> None:
    """The operator's index and the plugin's listing both read policies through this."""

    def item(name: str, enforcement: str) -> dict[str, Any]:
        return {
            "apiVersion": "vmroll.io/v1alpha1",
            "kind": "ImagePolicy",
            "metadata": {"name": name},
            "spec": {"rules": {}, "enforcement": enforcement},
        }

    objects = [item("b", "Deny"), item("broken", "Sometimes"), item("a", "Audit")]
    assert [(p.name, p.spec.enforcement) for p in named_policies(objects)] == [
        ("b", Enforcement.DENY),
        ("a", Enforcement.AUDIT),
    ]


def marketplace(version: str = "24.04.202607010", **extra: Any) -> ImageSource:
    return ImageSource.model_validate({"marketplace": {**UBUNTU, "version": version}, **extra})


def subject(
    version: str | None = "24.04.202607010",
    image: ImageSource | None = None,
    location: str = "westeurope",
    available: tuple[str, ...] = AVAILABLE,
    **extra: Any,
) -> PolicySubject:
    return PolicySubject(
        image=image or marketplace(version or "latest"),
        location=location,
        version=version,
        available=tuple(VersionFact(v) for v in available),
        **extra,
    )


@pytest.mark.parametrize(
    ("version", "built"),
    [
        pytest.param("24.04.202607010", date(2026, 7, 1), id="ubuntu"),
        pytest.param("22.04.202405140", date(2024, 5, 14), id="ubuntu-22"),
        pytest.param("0.20240513.1740", date(2024, 5, 13), id="debian"),
        pytest.param("1.4.0", None, id="no-date"),
        pytest.param("24.04.202613010", None, id="month-13"),
        pytest.param("24.04.202602300", None, id="february-30"),
    ],
)
def test_version_date(version: str, built: date | None) -> None:
    assert version_date(version) == built


PATCHED_30D = policy("patched-30d", {"freshness": {"maxAge": "720h"}})


@pytest.mark.parametrize(
    ("policies", "case", "rule", "message"),
    [
        pytest.param([PATCHED_30D], subject("24.04.202608110"), None, "", id="fresh"),
        pytest.param(
            [PATCHED_30D], subject(), PolicyRule.MAX_AGE,
            "24.04.202607010 is 58 days old; policy patched-30d allows 30 days", id="too-old",
        ),
        pytest.param(
            [policy("behind", {"freshness": {"maxVersionsBehind": 1}})], subject(),
            PolicyRule.MAX_VERSIONS_BEHIND,
            "24.04.202607010 is 2 versions behind the newest in westeurope; policy behind "
            "allows 1", id="versions-behind",
        ),
        pytest.param(
            [policy("cve", {"deniedVersions": [
                {"version": "24.04.202607010", "reason": "CVE-2026-1234"}]})],
            subject(), PolicyRule.DENIED_VERSION,
            "24.04.202607010 is denied by policy cve: CVE-2026-1234", id="denied",
        ),
        pytest.param(
            [policy("cve", {"deniedVersions": [{"image": {"marketplace": {"publisher": "Debian"}},
                                                "version": "24.04.202607010", "reason": "x"}]})],
            subject(), None, "", id="denied-for-another-image",
        ),
        pytest.param(
            [policy("min", {"minimumVersions": [{"image": {"marketplace": {
                "publisher": "canonical", "offer": "ubuntu-*"}}, "version": "24.04.202608000"}]})],
            subject(), PolicyRule.MINIMUM_VERSION,
            "24.04.202607010 is older than 24.04.202608000, the minimum policy min allows",
            id="below-minimum-pattern-case-insensitive",
        ),
        pytest.param(
            [policy("src", {"allowedSources": {"galleries": [GALLERY]}})], subject(),
            PolicyRule.SOURCE_NOT_ALLOWED,
            "image Canonical:ubuntu-24_04-lts:server is not allowed; policy src allows only the "
            "sources in rules.allowedSources", id="source",
        ),
        pytest.param(
            [policy("src", {"allowedSources": {"galleries": [GALLERY.upper()]}})],
            subject("1.0.0", ImageSource.model_validate(
                {"gallery": {"imageId": f"{GALLERY}/images/web", "version": "1.0.0"}})),
            None, "", id="gallery-allowed-case-insensitive",
        ),
        pytest.param(
            [policy("eu", {"allowedLocations": ["westeurope"]})], subject(location="eastus"),
            PolicyRule.LOCATION_NOT_ALLOWED,
            "region eastus is not allowed; policy eu allows only the regions in "
            "rules.allowedLocations", id="location",
        ),
        pytest.param(
            [policy("free", {"licensing": {}})],
            subject(image=marketplace(plan=RABBIT_PLAN)), PolicyRule.PURCHASE_PLAN_NOT_ALLOWED,
            "Canonical:ubuntu-24_04-lts:server is a paid image (plan bitnami/rabbitmq); policy "
            "free restricts paid images (rules.licensing)", id="paid",
        ),
        pytest.param(
            [policy("paid", {"licensing": {"allowPurchasePlans": True,
                                           "planPublishers": ["bitnami"]}})],
            subject(image=marketplace(plan=RABBIT_PLAN, acceptTerms=True)),
            PolicyRule.TERMS_NOT_ALLOWED,
            "the pool asks vmroll to accept bitnami's terms (image.acceptTerms); policy paid lets "
            "vmroll accept only the terms of the publishers in rules.licensing.termsPublishers",
            id="terms",
        ),
        pytest.param(
            [policy("paid", {"licensing": {"allowPurchasePlans": True,
                                           "planPublishers": ["bitnami"],
                                           "termsPublishers": ["Bitnami"]}})],
            subject(image=marketplace(plan=RABBIT_PLAN, acceptTerms=True)), None, "",
            id="paid-and-terms-allowed",
        ),
    ],
)  # fmt: skip
def test_rules(
    policies: list[NamedPolicy], case: PolicySubject, rule: PolicyRule | None, message: str
) -> None:
    verdict = evaluate(policies, case, NOW)
    assert verdict.compliant is (rule is None)
    assert [v.rule for v in verdict.violations] == ([rule] if rule else [])
    assert [v.message for v in verdict.violations] == ([message] if rule else [])


def test_the_strictest_violated_policy_decides() -> None:
    audit = policy("a-audit", {"freshness": {"maxAge": "720h"}})
    deny = policy("z-deny", {"freshness": {"maxAge": "1440h"}}, "Deny")
    remediate = policy("m-remediate", {"deniedVersions": [
        {"version": "24.04.202607010", "reason": "CVE-1"}]}, "Remediate")  # fmt: skip
    verdict = evaluate([audit, deny, remediate], subject(), NOW)
    assert verdict.enforcement is Enforcement.REMEDIATE
    assert [v.policy for v in verdict.violations] == ["m-remediate", "a-audit"]
    assert {p.policy: p.compliant for p in verdict.policies} == {
        "a-audit": False, "m-remediate": False, "z-deny": True,
    }  # fmt: skip
    too_old = evaluate([audit, deny], subject("24.04.202606180"), NOW)
    assert too_old.enforcement is Enforcement.DENY


@pytest.mark.parametrize(
    ("policies", "case", "status", "alternative", "tail"),
    [
        pytest.param([PATCHED_30D], subject("24.04.202608110"), Alternative.NOT_NEEDED, None, "",
                     id="compliant"),
        pytest.param(
            [PATCHED_30D, policy("cve", {"deniedVersions": [
                {"version": "24.04.202608200", "reason": "CVE-2"}]})],
            subject(), Alternative.FOUND, "24.04.202608110",
            "; newest compliant version: 24.04.202608110", id="skips-denied-newest",
        ),
        pytest.param(
            [policy("week", {"freshness": {"maxAge": "168h"}})], subject(),
            Alternative.NO_COMPLIANT_VERSION, None,
            "; no version available in the region complies with every policy", id="none",
        ),
        pytest.param(
            [PATCHED_30D, policy("eu", {"allowedLocations": ["northeurope"]})], subject(),
            Alternative.SPEC_CHANGE_NEEDED, None, "", id="version-cannot-fix-location",
        ),
    ],
)  # fmt: skip
def test_newest_compliant_alternative(
    policies: list[NamedPolicy],
    case: PolicySubject,
    status: Alternative,
    alternative: str | None,
    tail: str,
) -> None:
    verdict = evaluate(policies, case, NOW)
    assert verdict.alternative_status is status
    assert verdict.alternative == alternative
    assert verdict.message.endswith(tail)


def denies(name: str, enforcement: str, *versions: str) -> NamedPolicy:
    denied = [{"version": v, "reason": f"CVE-{name}"} for v in versions]
    return policy(name, {"deniedVersions": denied}, enforcement)


LATEST_VERSION = AVAILABLE[-1]


@pytest.mark.parametrize(
    ("policies", "follows_latest", "new_target", "decisive", "version"),
    [
        pytest.param([denies("cve", "Deny", LATEST_VERSION)], True, True,
                     ("cve", Enforcement.DENY), "24.04.202608110",
                     id="deny-latest-targets-newest-compliant"),
        pytest.param([policy("week", {"freshness": {"maxAge": "168h"}}, "Deny")], True, True,
                     ("week", Enforcement.DENY), None, id="deny-none-compliant-stalls"),
        pytest.param([denies("cve", "Audit", LATEST_VERSION)], True, True, None, None,
                     id="audit-only-reports"),
        pytest.param([denies("cve", "Deny", LATEST_VERSION)], False, True, None, None,
                     id="deny-pinned-left-to-admission"),
        pytest.param([denies("cve", "Deny", LATEST_VERSION)], True, False, None, None,
                     id="deny-does-not-move-the-running-version"),
        pytest.param([denies("r", "Remediate", "24.04.202608110"),
                      denies("d", "Deny", LATEST_VERSION)], True, True,
                     ("d", Enforcement.DENY), "24.04.202607010",
                     id="deny-and-remediate-strictest-decides-all-satisfied"),
        pytest.param([denies("r", "Remediate", LATEST_VERSION),
                      denies("d", "Deny", LATEST_VERSION)], False, False,
                     ("r", Enforcement.REMEDIATE), "24.04.202608110",
                     id="remediate-still-moves-a-pin-deny-leaves"),
        pytest.param([denies("cve", "Deny", "24.04.202606180")], True, True, None, None,
                     id="compliant-latest"),
        pytest.param([denies("cve", "Deny", LATEST_VERSION),
                      policy("eu", {"allowedLocations": ["northeurope"]}, "Deny")], True, True,
                     None, None, id="a-spec-change-is-admissions-business"),
    ],
)  # fmt: skip
def test_enforced_action(
    policies: list[NamedPolicy],
    follows_latest: bool,
    new_target: bool,
    decisive: tuple[str, Enforcement] | None,
    version: str | None,
) -> None:
    """Deny keeps a pool following latest off a denied version it would roll or create onto;
    Remediate moves any pool; Audit never acts; the strictest violated policy is named."""
    image = marketplace("latest" if follows_latest else LATEST_VERSION)
    verdict = evaluate(policies, subject(LATEST_VERSION, image=image), NOW)
    action = enforced_action(verdict, follows_latest=follows_latest, new_target=new_target)
    if decisive is None:
        assert action is None
        return
    assert action is not None
    assert (action.violation.policy, action.violation.enforcement) == decisive
    assert action.version == version


def test_gallery_published_date_is_used_and_unknown_dates_do_not_comply() -> None:
    gallery = ImageSource.model_validate(
        {"gallery": {"imageId": f"{GALLERY}/images/web", "version": "1.0.0"}}
    )
    fresh = subject("1.0.0", gallery, available=("1.0.0",), published=NOW - timedelta(days=3))
    assert evaluate([PATCHED_30D], fresh, NOW).compliant
    unknown = subject("1.0.0", gallery, available=("1.0.0",))
    (violation,) = evaluate([PATCHED_30D], unknown, NOW).violations
    assert (
        violation.message == "the build date of 1.0.0 is unknown; policy patched-30d allows 30 days"
    )


def test_a_managed_image_is_judged_only_by_the_rules_about_its_source() -> None:
    managed_id = (
        "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/"
        "Microsoft.Compute/images/i"
    )
    managed = ImageSource.model_validate({"managedImageId": managed_id})
    case = PolicySubject(image=managed, location="westeurope", version=None)
    assert evaluate([PATCHED_30D], case, NOW).compliant
    closed = policy("closed", {"allowedSources": {"marketplace": [{"publisher": "*"}]}})
    verdict = evaluate([closed], case, NOW)
    assert [v.rule for v in verdict.violations] == [PolicyRule.SOURCE_NOT_ALLOWED]
    assert verdict.alternative_status is Alternative.SPEC_CHANGE_NEEDED


@pytest.mark.parametrize(
    ("spec", "namespace_labels", "pool_labels", "applies"),
    [
        pytest.param({}, {}, {}, True, id="no-selectors-all"),
        pytest.param({"namespaceSelector": {"matchLabels": {"env": "prod"}}},
                     {"env": "prod"}, {}, True, id="namespace"),
        pytest.param({"namespaceSelector": {"matchLabels": {"env": "prod"}}},
                     {"env": "dev"}, {}, False, id="other-namespace"),
        pytest.param({"poolSelector": {"matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["appliance"]}]}},
            {}, {"tier": "appliance"}, True, id="pool"),
        pytest.param({"namespaceSelector": {}, "poolSelector": {"matchLabels": {"a": "b"}}},
                     {"env": "prod"}, {}, False, id="both-must-match"),
    ],
)  # fmt: skip
def test_policy_applies(
    spec: dict[str, Any], namespace_labels: dict[str, str], pool_labels: dict[str, str],
    applies: bool,
) -> None:  # fmt: skip
    parsed = ImagePolicySpec.model_validate({"rules": {}, **spec})
    assert policy_applies(parsed, namespace_labels, pool_labels) is applies


DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 8, 28))
VERSIONS = st.lists(DAYS, min_size=1, max_size=12, unique=True).map(
    lambda days: tuple(f"24.04.{d:%Y%m%d}0" for d in days)
)
ENFORCEMENTS = st.sampled_from(["Deny", "Audit", "Remediate"])


@st.composite
def policies(draw: st.DrawFn) -> list[NamedPolicy]:
    drawn = []
    for index in range(draw(st.integers(1, 3))):
        rules: dict[str, Any] = {"freshness": {}}
        if draw(st.booleans()):
            rules["freshness"]["maxAge"] = f"{draw(st.integers(1, 400)) * 24}h"
        if draw(st.booleans()):
            rules["freshness"]["maxVersionsBehind"] = draw(st.integers(0, 5))
        denied = draw(st.lists(DAYS, max_size=3))
        rules["deniedVersions"] = [{"version": f"24.04.{d:%Y%m%d}0", "reason": "r"} for d in denied]
        drawn.append(policy(f"p{index}", rules, draw(ENFORCEMENTS)))
    return drawn


@settings(max_examples=200, deadline=None)
@given(policies=policies(), available=VERSIONS, data=st.data())
def test_the_alternative_is_compliant_and_nothing_newer_is(
    policies: list[NamedPolicy], available: tuple[str, ...], data: st.DataObject
) -> None:
    running = data.draw(st.sampled_from(available))
    verdict = evaluate(policies, subject(running, available=available), NOW)
    if verdict.compliant:
        assert verdict.alternative_status is Alternative.NOT_NEEDED
        assert verdict.enforcement is None
        return
    assert verdict.enforcement is min(
        (v.enforcement for v in verdict.violations),
        key=[Enforcement.DENY, Enforcement.REMEDIATE, Enforcement.AUDIT].index,
    )
    compliant = [v for v in available if evaluate(policies, subject(v, available=available),
                                                   NOW).compliant]  # fmt: skip
    newest = newest_compliant_version(policies, subject(running, available=available), NOW)
    if compliant:
        assert verdict.alternative_status is Alternative.FOUND
        assert verdict.alternative == newest == max(compliant)
    else:
        assert verdict.alternative_status is Alternative.NO_COMPLIANT_VERSION
        assert newest is None


@settings(max_examples=200, deadline=None)
@given(policies=policies(), available=VERSIONS, data=st.data())
def test_adding_a_policy_never_makes_a_pool_compliant(
    policies: list[NamedPolicy], available: tuple[str, ...], data: st.DataObject
) -> None:
    running = data.draw(st.sampled_from(available))
    case = subject(running, available=available)
    fewer = evaluate(policies[:-1], case, NOW)
    more = evaluate(policies, case, NOW)
    assert set(fewer.violations) <= set(more.violations)
    assert not (more.compliant and not fewer.compliant)


def pool_spec(version: str, **image: Any) -> VirtualMachinePoolSpec:
    """The example pool, with its image replaced."""
    example = yaml.safe_load((EXAMPLES / "pool-marketplace.yaml").read_text())
    example["spec"]["image"] = {"marketplace": {**UBUNTU, "version": version}, **image}
    return VirtualMachinePoolSpec.model_validate(example["spec"])


DENY_CVE = policy(
    "deny-cve",
    {"deniedVersions": [{"version": "24.04.202607010", "reason": "CVE-2026-1234"}]},
    "Deny",
    poolSelector={"matchLabels": {"tier": "web"}},
)
PAID_DENIED = policy("no-paid", {"licensing": {}}, "Deny")


@pytest.mark.parametrize(
    ("spec", "labels", "enforcement", "message"),
    [
        pytest.param(pool_spec("24.04.202607010"), {"tier": "web"}, Enforcement.DENY,
                     "24.04.202607010 is denied by policy deny-cve: CVE-2026-1234; newest "
                     "compliant version: 24.04.202608200", id="denied-version-refused"),
        pytest.param(pool_spec("24.04.202607010"), {"tier": "db"}, None, "",
                     id="unselected-pool"),
        pytest.param(pool_spec("latest"), {"tier": "web"}, None, "",
                     id="latest-needs-resolution"),
        pytest.param(pool_spec("latest", plan=RABBIT_PLAN), {}, Enforcement.DENY,
                     "Canonical:ubuntu-24_04-lts:server is a paid image (plan bitnami/rabbitmq); "
                     "policy no-paid restricts paid images (rules.licensing)",
                     id="paid-image-refused-without-azure"),
    ],
)  # fmt: skip
def test_judge_pool_spec_for_admission(
    spec: VirtualMachinePoolSpec,
    labels: dict[str, str],
    enforcement: Enforcement | None,
    message: str,
) -> None:
    available = tuple(VersionFact(v) for v in AVAILABLE)
    verdict = judge_pool_spec([DENY_CVE, PAID_DENIED], spec, {}, labels, NOW, available)
    assert verdict.enforcement is enforcement
    assert verdict.message == message
