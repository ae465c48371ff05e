"""An ImagePolicy's status, summed from the pools' last verdicts; and the pool's condition and
events derived from one verdict."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vmroll.api.policy import Enforcement, ImagePolicySpec, ImagePolicyStatus
from vmroll.api.types import Condition, ConditionStatus
from vmroll.plan.policy import (
    Alternative,
    NamedPolicy,
    PolicyRule,
    PolicyVerdict,
    Verdict,
    Violation,
)
from vmroll.plan.policy_status import PoolResult, policy_status
from vmroll.reconcile.policy_audit import (
    PolicyAudit,
    policy_condition,
    policy_events,
    remediation,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
AUDIT = Enforcement.AUDIT


def too_old(policy: str) -> Violation:
    return Violation(policy, AUDIT, PolicyRule.MAX_AGE, f"1.0.0 is 40 days old; policy {policy}")


def result(name: str, vms: int, *verdicts: PolicyVerdict, namespace: str = "ns") -> PoolResult:
    return PoolResult(namespace, name, vms, verdicts)


def ok(policy: str) -> PolicyVerdict:
    return PolicyVerdict(policy, AUDIT)


def bad(policy: str) -> PolicyVerdict:
    return PolicyVerdict(policy, AUDIT, (too_old(policy),))


def test_the_status_counts_only_the_pools_the_policy_matched() -> None:
    pools = [
        result("b", 2, bad("p")),
        result("a", 3, ok("p"), bad("q")),
        result("c", 5, bad("q")),
        result("a", 1, bad("p"), namespace="other"),
    ]
    status = policy_status("p", 4, pools, ImagePolicyStatus(), NOW)
    assert (status.matched_pools, status.matched_vms, status.non_compliant_pools) == (3, 6, 2)
    assert [(v.namespace, v.name, v.rule) for v in status.non_compliant] == [
        ("ns", "b", "ImageTooOld"),
        ("other", "a", "ImageTooOld"),
    ]
    (ready,) = status.conditions
    assert (ready.type, ready.status, ready.observed_generation) == ("Ready", "True", 4)
    assert ready.message == "evaluated against 3 pools; 2 do not comply"


def test_the_list_is_bounded_and_the_transition_time_kept() -> None:
    pools = [result(f"pool-{i:02}", 1, bad("p")) for i in range(30)]
    first = policy_status("p", 1, pools, ImagePolicyStatus(), NOW)
    assert first.non_compliant_pools == 30
    assert [v.name for v in first.non_compliant] == [f"pool-{i:02}" for i in range(20)]
    later = policy_status("p", 1, pools[:3], first, datetime(2026, 11, 29, tzinfo=UTC))
    assert later.conditions[0].last_transition_time == NOW


POLICIES = [NamedPolicy(n, ImagePolicySpec.model_validate({"rules": {}})) for n in ("b", "a")]


def test_the_condition_names_the_policies_or_the_decisive_rule() -> None:
    compliant = Verdict((ok("a"), ok("b")), Alternative.NOT_NEEDED)
    assert policy_condition(compliant, POLICIES) == (
        ConditionStatus.TRUE, "Compliant", "complies with a, b",
    )  # fmt: skip
    failing = Verdict((bad("a"), ok("b")), Alternative.FOUND, "1.2.0")
    assert policy_condition(failing, POLICIES) == (
        ConditionStatus.FALSE,
        "ImageTooOld",
        "1.0.0 is 40 days old; policy a; newest compliant version: 1.2.0",
    )


def condition(status: str, reason: str) -> Condition:
    return Condition(
        type="PolicyCompliant",
        status=ConditionStatus(status),
        reason=reason,
        last_transition_time=NOW,
    )


TRUE = (ConditionStatus.TRUE, "Compliant", "complies with a")
FALSE = (ConditionStatus.FALSE, "ImageTooOld", "too old")
HELD = (ConditionStatus.TRUE, "LatestVersionDenied", "held")


@pytest.mark.parametrize(
    ("old", "new", "events"),
    [
        pytest.param(None, TRUE, [], id="first-compliant-is-quiet"),
        pytest.param(None, FALSE, [("Warning", "ImageTooOld", "too old")], id="first-violation"),
        pytest.param(condition("False", "ImageTooOld"), FALSE, [], id="unchanged"),
        pytest.param(
            condition("False", "VersionDenied"), FALSE, [("Warning", "ImageTooOld", "too old")],
            id="another-rule",
        ),
        pytest.param(
            condition("False", "ImageTooOld"), TRUE, [("Normal", "Compliant", "complies with a")],
            id="complies-again",
        ),
        pytest.param(condition("False", "ImageTooOld"), None, [], id="policy-deleted"),
        pytest.param(
            condition("True", "Compliant"), HELD, [("Warning", "LatestVersionDenied", "held")],
            id="deny-holds-latest-once",
        ),
        pytest.param(condition("True", "LatestVersionDenied"), HELD, [], id="still-held"),
    ],
)  # fmt: skip
def test_events_on_transitions(
    old: Condition | None,
    new: tuple[ConditionStatus, str, str] | None,
    events: list[tuple[str, str, str]],
) -> None:
    assert policy_events(old, new) == events


def remediate(policy: str) -> PolicyVerdict:
    violation = Violation(policy, Enforcement.REMEDIATE, PolicyRule.DENIED_VERSION, "1.0.0 denied")
    return PolicyVerdict(policy, Enforcement.REMEDIATE, (violation,))


@pytest.mark.parametrize(
    ("verdict", "remedy", "stall", "condition"),
    [
        pytest.param(Verdict((bad("a"),), Alternative.FOUND, "1.2.0"), None, None, None,
                     id="audit-only-reports"),
        pytest.param(
            Verdict((remediate("r"), bad("a")), Alternative.FOUND, "1.2.0"), "1.2.0", None,
            (ConditionStatus.TRUE, "Remediated",
             "1.0.0 denied; vmroll runs 1.2.0, the newest compliant version, instead"),
            id="remediates-to-the-newest-compliant",
        ),
        pytest.param(
            Verdict((remediate("r"),), Alternative.NO_COMPLIANT_VERSION), None,
            ("NoCompliantVersion", "1.0.0 denied; no version available in the region complies "
             "with every policy: publish one, or change the policy"),
            None, id="no-compliant-version-stalls",
        ),
        pytest.param(Verdict((remediate("r"),), Alternative.SPEC_CHANGE_NEEDED), None, None, None,
                     id="a-spec-change-cannot-be-remediated"),
    ],
)  # fmt: skip
def test_remediation(
    verdict: Verdict,
    remedy: str | None,
    stall: tuple[str, str] | None,
    condition: tuple[ConditionStatus, str, str] | None,
) -> None:
    audit = remediation(verdict, PolicyAudit(FALSE, verdict))
    assert (audit.remedy, audit.stall) == (remedy, stall)
    assert audit.condition == (condition or FALSE)
    assert (audit.remedy_why is not None) is (remedy is not None)


def test_a_deny_policy_keeps_latest_off_the_denied_version() -> None:
    violation = Violation("cve", Enforcement.DENY, PolicyRule.DENIED_VERSION, "1.3.0 is denied")
    verdict = Verdict(
        (PolicyVerdict("cve", Enforcement.DENY, (violation,)),), Alternative.FOUND, "1.2.0"
    )
    held = remediation(verdict, PolicyAudit(FALSE, verdict), new_latest="1.3.0")
    assert held.remedy == "1.2.0"
    assert held.condition == (
        ConditionStatus.TRUE,
        "LatestVersionDenied",
        "the latest version 1.3.0 is denied by ImagePolicy cve (VersionDenied: 1.3.0 is denied); "
        "the pool targets 1.2.0, the newest compliant version, instead",
    )
    assert remediation(verdict, PolicyAudit(FALSE, verdict)) == PolicyAudit(FALSE, verdict)
