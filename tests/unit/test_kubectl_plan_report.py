"""`kubectl vmroll plan`'s pure parts, on a pool object captured from a real run.

The captured `ready` pool (RollingReplace, maxSurge 1, three VMs on 24.04.202609160) must hash
to the revision the operator wrote: the plugin computes revisions with the operator's inputs.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from vmroll.api.policy import Enforcement
from vmroll.kubectl import plan_input
from vmroll.kubectl.plan_command import policy_line
from vmroll.kubectl.plan_report import build_report, estimate
from vmroll.plan.policy import Alternative, PolicyRule, PolicyVerdict, Verdict, Violation

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "status" / "VirtualMachinePool"
NOW = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)
OLD, NEW = "24.04.202609160", "24.04.202610220"
SURGE0, UNAVAILABLE = "strategy.rollingUpdate.maxSurge=0", "strategy.rollingUpdate.maxUnavailable="


def ready() -> dict[str, Any]:
    pool: dict[str, Any] = yaml.safe_load((FIXTURES / "ready.yaml").read_text())
    return pool


def plan(overrides: list[str]) -> dict[str, Any]:
    live = ready()
    spec = plan_input.apply_overrides(live["spec"], overrides)
    return build_report(live, spec, plan_input.validate(spec), NOW)


def test_the_live_spec_hashes_to_the_operators_revision_and_plans_nothing() -> None:
    report = plan([])
    assert report["revision"] == {
        "live": "39632c089c", "planned": "39632c089c", "liveReproduced": True,
    }  # fmt: skip
    assert {vm["action"] for vm in report["vms"]} == {"keep"}
    assert report["batches"] == []
    assert report["diff"] == []
    assert report["estimate"] == {"seconds": 0, "text": "nothing to roll"}


@pytest.mark.parametrize(
    ("overrides", "action", "why", "batches"),
    [
        pytest.param([f"version={NEW}"], "replace",
                     [f"image version {OLD} -> {NEW}", "strategy RollingReplace replaces"],
                     [[0], [1], [2]], id="replace-strategy"),
        pytest.param([f"version={NEW}", "strategy.type=RollingReimage", SURGE0, f"{UNAVAILABLE}2"],
                     "reimage", [f"image version {OLD} -> {NEW}"],
                     [[0, 1], [2]], id="reimage-two-by-two"),
        pytest.param(["template.restartedAt=2026-11-28T22:00:00Z", "strategy.type=RollingReimage",
                      SURGE0, f"{UNAVAILABLE}1"],
                     "reimage", ["spec.template.restartedAt - -> 2026-11-28T22:00:00Z"],
                     [[0], [1], [2]], id="restart"),
        pytest.param(["template.zones=['1']", "strategy.type=RollingReimage"], "replace",
                     ["spec.template.zones", "Azure cannot change these on an existing VM"],
                     [[0], [1], [2]], id="template-replaces"),
    ],
)  # fmt: skip
def test_what_each_vm_would_do_and_why(
    overrides: list[str], action: str, why: list[str], batches: list[list[int]]
) -> None:
    """Batches are given as ordinals of the captured VMs, whose names change with each capture."""
    report = plan(overrides)
    names = sorted(vm["name"] for vm in report["vms"])
    assert {vm["action"] for vm in report["vms"]} == {action}
    assert all(vm["why"] == why for vm in report["vms"]), report["vms"]
    key = "reimage" if action == "reimage" else "replace"
    assert [b[key] for b in report["batches"]] == [[names[i] for i in b] for b in batches]
    assert report["estimate"]["text"].endswith("per VM of 1 past rollout)")


def test_latest_uses_the_version_the_operator_last_resolved() -> None:
    report = plan(["version=latest"])
    assert report["image"]["planned"]["version"] == OLD
    assert report["image"]["versionFrom"].startswith("latest: the version the operator last")
    assert report["revision"]["planned"] == "39632c089c"


def test_no_history_says_so() -> None:
    assert estimate({}, 3, 3) == {"seconds": None, "text": "no history"}


def test_overrides_and_validation() -> None:
    spec = ready()["spec"]
    assert plan_input.apply_overrides(spec, ["replicas=5"])["replicas"] == 5
    assert spec["replicas"] == 3
    with pytest.raises(plan_input.BadInput, match="use KEY=VALUE"):
        plan_input.apply_overrides(spec, ["replicas"])
    with pytest.raises(plan_input.BadInput, match=r"spec\.replicas: Input should be greater"):
        plan_input.validate(plan_input.apply_overrides(spec, ["replicas=-1"]))


def test_the_file_must_be_the_pool_planned(tmp_path: Path) -> None:
    manifest = copy.deepcopy(ready())
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump(manifest))
    assert plan_input.read_manifest(str(path))["kind"] == "VirtualMachinePool"
    with pytest.raises(plan_input.BadInput, match='describes pool "web", not "api"'):
        plan_input.check_identity(manifest, "api", manifest["metadata"]["namespace"])
    with pytest.raises(plan_input.BadInput, match=r"not .* \(use -n\)"):
        plan_input.check_identity(manifest, None, "elsewhere")
    path.write_text("kind: ConfigMap\napiVersion: v1\n")
    with pytest.raises(plan_input.BadInput, match=r"is a v1 ConfigMap, not a vmroll\.io/v1alpha1"):
        plan_input.read_manifest(str(path))


def test_the_policy_line_names_the_strictest_violation_or_the_policies_complied_with() -> None:
    deny = Violation("no-cve", Enforcement.DENY, PolicyRule.DENIED_VERSION, "24.04.1 is denied")
    audit = Violation("fresh", Enforcement.AUDIT, PolicyRule.MAX_AGE, "24.04.1 is 58 days old")
    broken = Verdict(
        (PolicyVerdict("no-cve", Enforcement.DENY, (deny,)),
         PolicyVerdict("fresh", Enforcement.AUDIT, (audit,))),
        Alternative.NO_COMPLIANT_VERSION,
    )  # fmt: skip
    assert policy_line(broken) == (
        "Deny: 24.04.1 is denied (policy no-cve, VersionDenied) (and 1 more)"
    )
    clean = Verdict((PolicyVerdict("fresh", Enforcement.AUDIT),), Alternative.NOT_NEEDED)
    assert policy_line(clean) == "compliant with fresh"
    assert policy_line(Verdict((), Alternative.NOT_NEEDED)) == (
        "compliant: no ImagePolicy selects this pool"
    )
