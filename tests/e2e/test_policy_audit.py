"""An Audit ImagePolicy added after pools exist reports them, on the real stack: the pool on a
version older than maxAge and the one on a denied version get PolicyCompliant False (the reason
names the rule, the message the version, the policy and the newest compliant version) and a
Warning event; the fresh pool gets True; the policy's status counts them; nothing is blocked or
rolled. Deleting the policy lifts the condition."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    condition,
    get_pool,
    pool_events,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

NEWEST = "24.04.202611100"
OLD = "24.04.202608110"
DENIED = "24.04.202610220"
POLICY = "e2e-patched-60d"


def _pool(name: str, account: str, emulator: EmulatorProcess, version: str) -> dict[str, Any]:
    image = {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                             "sku": "server", "version": version}}  # fmt: skip
    return pool_manifest(name, account, emulator, replicas=1, image=image)


def _policy(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": POLICY},
        "spec": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "rules": {
                "freshness": {"maxAge": "1440h"},
                "deniedVersions": [{"version": DENIED, "reason": "CVE-2026-0001"}],
            },
            "enforcement": "Audit",
        },
    }


def _policy_condition(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any] | None:
    return condition(get_pool(kubectl, namespace, name), "PolicyCompliant")


def _wait_policy(
    kubectl: Kubectl, namespace: str, name: str, status: str, operator: Operator
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = _policy_condition(kubectl, namespace, name)
        return found if found is not None and found["status"] == status else None

    return wait_for(f"PolicyCompliant {status} on {name}", probe, timeout=90,
                    describe=operator.output)  # fmt: skip


def test_an_audit_policy_reports_pools_and_deleting_it_lifts_the_condition(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    for name, version in (("fresh", "latest"), ("old", OLD), ("denied", DENIED)):
        apply(kubectl, namespace, _pool(name, account, emulator, version))
    for name in ("fresh", "old", "denied"):
        pool = wait_condition(kubectl, namespace, name, "Ready", operator)
        assert condition(pool, "PolicyCompliant") is None

    kubectl("apply", "-f", "-", input=json.dumps(_policy(namespace)))
    try:
        old = _wait_policy(kubectl, namespace, "old", "False", operator)
        assert old["reason"] == "ImageTooOld"
        assert old["message"].startswith(f"{OLD} is ")
        assert f" days old; policy {POLICY} allows 60 days" in old["message"]
        assert old["message"].endswith(f"; newest compliant version: {NEWEST}")
        denied = _wait_policy(kubectl, namespace, "denied", "False", operator)
        assert denied["reason"] == "VersionDenied"
        assert denied["message"] == (
            f"{DENIED} is denied by policy {POLICY}: CVE-2026-0001; "
            f"newest compliant version: {NEWEST}"
        )
        fresh = _wait_policy(kubectl, namespace, "fresh", "True", operator)
        assert (fresh["reason"], fresh["message"]) == ("Compliant", f"complies with {POLICY}")

        warned = [e for e in pool_events(kubectl, namespace, "old") if e["type"] == "Warning"]
        assert [e["reason"] for e in warned] == ["ImageTooOld"]
        header, *rows = kubectl("get", "vmpool", "-n", namespace).stdout.splitlines()
        assert header.split()[-2:] == ["POLICY", "AGE"]
        shown = {row.split()[0]: row.split()[-2] for row in rows}
        assert shown == {"denied": "VersionDenied", "fresh": "Compliant", "old": "ImageTooOld"}

        def summed() -> dict[str, Any] | None:
            status = kubectl.json("get", "imgpol", POLICY).get("status", {})
            return status if status.get("matchedPools") == 3 else None

        status = wait_for("the policy's status", summed, timeout=60, describe=operator.output)
        assert status["matchedVms"] == 3
        assert status["nonCompliantPools"] == 2
        assert [(p["name"], p["rule"]) for p in status["nonCompliant"]] == [
            ("denied", "VersionDenied"), ("old", "ImageTooOld"),
        ]  # fmt: skip
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"
        for name, version in (("old", OLD), ("denied", DENIED)):
            pool = get_pool(kubectl, namespace, name)
            assert pool["status"]["image"]["resolvedVersion"] == version
    finally:
        kubectl("delete", "imgpol", POLICY, "--ignore-not-found")

    def lifted() -> bool | None:
        found = [_policy_condition(kubectl, namespace, n) for n in ("fresh", "old", "denied")]
        return True if found == [None, None, None] else None

    wait_for("PolicyCompliant to be lifted", lifted, timeout=90, describe=operator.output)
    assert {vm["exactVersion"] for vm in emulator.vms(namespace)} == {NEWEST, OLD, DENIED}
