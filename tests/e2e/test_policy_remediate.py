"""A Remediate ImagePolicy on the real stack: a pool pinned to a denied version rolls to the
newest compliant version through its own strategy (never above its surge ceiling nor below its
availability floor), with events and history saying why; a pool no version of whose image
complies is Stalled with NoCompliantVersion and gets no VM until the policy goes; and a Deny
ImagePolicy denying the version `latest` resolves to keeps a new pool's VMs on the newest
compliant version, never on the denied one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    RolloutBounds,
    apply,
    condition,
    get_pool,
    pool_events,
    pool_manifest,
    story,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

NEWEST = "24.04.202611100"
DENIED = "24.04.202610220"


def _pool(name: str, account: str, emulator: EmulatorProcess, version: str) -> dict[str, Any]:
    image = {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                             "sku": "server", "version": version}}  # fmt: skip
    manifest = pool_manifest(name, account, emulator, replicas=2, image=image)
    manifest["metadata"]["labels"] = {"policy-test": name}
    return manifest


def _policy(
    name: str, pool: str, rules: dict[str, Any], enforcement: str = "Remediate"
) -> dict[str, Any]:
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": name},
        "spec": {
            "poolSelector": {"matchLabels": {"policy-test": pool}},
            "rules": rules,
            "enforcement": enforcement,
        },
    }


def _versions(emulator: EmulatorProcess, namespace: str, pool: str) -> set[str]:
    return {
        vm["exactVersion"] for vm in emulator.vms(namespace) if vm["tags"]["vmroll.io_pool"] == pool
    }


def test_remediate_rolls_a_denied_version_to_the_newest_compliant_one(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    apply(kubectl, namespace, _pool("cve", account, emulator, DENIED))
    wait_condition(kubectl, namespace, "cve", "Ready", operator)
    assert _versions(emulator, namespace, "cve") == {DENIED}

    policy = _policy("e2e-cve-fix", "cve", {
        "deniedVersions": [{"version": DENIED, "reason": "CVE-2026-0002"}]})  # fmt: skip
    kubectl("apply", "-f", "-", input=json.dumps(policy))
    try:
        bounds = RolloutBounds(emulator, namespace, replicas=2, surge=1, unavailable=0)

        def rolled() -> bool | None:
            bounds.poll()
            return True if _versions(emulator, namespace, "cve") == {NEWEST} else None

        wait_for("the pool to roll to the newest compliant version", rolled, timeout=150,
                 describe=operator.output)  # fmt: skip
        pool = wait_condition(kubectl, namespace, "cve", "Ready", operator)
        assert pool["spec"]["image"]["marketplace"]["version"] == DENIED
        assert pool["status"]["image"]["resolvedVersion"] == NEWEST
        compliant = condition(pool, "PolicyCompliant")
        assert compliant is not None
        assert (compliant["status"], compliant["reason"]) == ("True", "Remediated")
        assert compliant["message"] == (
            f"{DENIED} is denied by policy e2e-cve-fix: CVE-2026-0002; vmroll runs {NEWEST}, "
            "the newest compliant version, instead"
        )
        history = pool["status"]["history"]
        assert [r["imageVersion"] for r in history] == [NEWEST, DENIED]
        assert history[0]["outcome"] == "Succeeded"
        told = story(kubectl, namespace, "cve")
        started = [message for reason, message in told if reason == "RolloutStarted"]
        assert started[-1].startswith(f"rolling out image version {NEWEST} (revision ")
        assert started[-1].endswith(
            f"over {DENIED}: ImagePolicy e2e-cve-fix requires a compliant version ({DENIED} is "
            "denied by policy e2e-cve-fix: CVE-2026-0002)"
        )
        assert len(emulator.vms(namespace)) == 2
    finally:
        kubectl("delete", "imgpol", "e2e-cve-fix", "--ignore-not-found")


def test_no_compliant_version_stalls_the_pool_and_touches_no_vm(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    policy = _policy("e2e-too-strict", "strict", {"freshness": {"maxAge": "24h"}})
    kubectl("apply", "-f", "-", input=json.dumps(policy))
    try:
        apply(kubectl, namespace, _pool("strict", account, emulator, "latest"))
        pool = wait_condition(kubectl, namespace, "strict", "Stalled", operator,
                              reason="NoCompliantVersion")  # fmt: skip
        stalled = condition(pool, "Stalled")
        assert stalled is not None
        assert stalled["message"].startswith(f"{NEWEST} is ")
        assert stalled["message"].endswith(
            " days old; policy e2e-too-strict allows 24h; no version available in the region "
            "complies with every policy: publish one, or change the policy"
        )
        compliant = condition(pool, "PolicyCompliant")
        assert compliant is not None
        assert (compliant["status"], compliant["reason"]) == ("False", "ImageTooOld")
        assert emulator.vms(namespace) == []
    finally:
        kubectl("delete", "imgpol", "e2e-too-strict", "--ignore-not-found")

    def created() -> bool | None:
        return True if _versions(emulator, namespace, "strict") == {NEWEST} else None

    wait_for("the pool's VMs once the policy is gone", created, timeout=120,
             describe=operator.output)  # fmt: skip
    assert condition(get_pool(kubectl, namespace, "strict"), "PolicyCompliant") is None


def test_deny_keeps_a_pool_following_latest_off_the_denied_version(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    policy = _policy("e2e-hold", "hold", {
        "deniedVersions": [{"version": NEWEST, "reason": "CVE-2026-0003"}]}, "Deny")  # fmt: skip
    kubectl("apply", "-f", "-", input=json.dumps(policy))
    try:
        apply(kubectl, namespace, _pool("hold", account, emulator, "latest"))
        seen: set[str] = set()

        def created() -> bool | None:
            versions = _versions(emulator, namespace, "hold")
            seen.update(versions)
            vms = [v for v in emulator.vms(namespace) if v["tags"]["vmroll.io_pool"] == "hold"]
            return True if len(vms) == 2 and versions == {DENIED} else None

        wait_for("the pool's VMs on the newest compliant version", created, timeout=150,
                 describe=operator.output)  # fmt: skip
        pool = wait_condition(kubectl, namespace, "hold", "Ready", operator)
        seen.update(_versions(emulator, namespace, "hold"))
        assert seen == {DENIED}
        assert pool["status"]["image"]["resolvedVersion"] == DENIED
        assert [r["imageVersion"] for r in pool["status"]["history"]] == [DENIED]
        compliant = condition(pool, "PolicyCompliant")
        assert compliant is not None
        message = (
            f"the latest version {NEWEST} is denied by ImagePolicy e2e-hold (VersionDenied: "
            f"{NEWEST} is denied by policy e2e-hold: CVE-2026-0003); the pool targets {DENIED}, "
            "the newest compliant version, instead"
        )
        assert (compliant["status"], compliant["reason"], compliant["message"]) == (
            "True", "LatestVersionDenied", message,
        )  # fmt: skip
        told = [
            (e["type"], e["message"])
            for e in pool_events(kubectl, namespace, "hold")
            if e["reason"] == "LatestVersionDenied"
        ]
        assert told == [("Warning", message)]
    finally:
        kubectl("delete", "imgpol", "e2e-hold", "--ignore-not-found")
