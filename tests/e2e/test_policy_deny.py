"""A Deny ImagePolicy enforced by the admission webhook on a real kube-apiserver: creating a pool
on a denied version, on a version older than maxAge or on a paid image of a publisher not
allowed is refused, kubectl printing the field, the policy and the rule; a version bump to a
denied version is refused; a pool that was out of policy before the policy existed can still
be scaled, relabelled and deleted; the same policy set to Audit refuses nothing; and a standby
replica, which runs no kopf handler, refuses as the leader does."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import EmulatorProcess, Operator, pool_manifest
from webhook_helpers import Webhook, serving

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures", "webhook_fixtures")

NEWEST = "24.04.202611100"
OLD = "24.04.202608110"
DENIED = "24.04.202610220"
FINALIZER = "vmroll.io/finalizer"
REFUSED = 'admission webhook "pools.vmroll.io" denied the request'


def _pool(
    name: str, account: str, emulator: EmulatorProcess, version: str, replicas: int = 0
) -> dict[str, Any]:
    image = {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                             "sku": "server", "version": version}}  # fmt: skip
    return pool_manifest(name, account, emulator, replicas=replicas, image=image)


def _policy(name: str, namespace: str, enforcement: str) -> dict[str, Any]:
    return {
        "apiVersion": "vmroll.io/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": name},
        "spec": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "rules": {
                "freshness": {"maxAge": "1440h"},
                "deniedVersions": [{"version": DENIED, "reason": "CVE-2026-0001"}],
                "licensing": {"allowPurchasePlans": True, "planPublishers": ["canonical"]},
            },
            "enforcement": enforcement,
        },
    }


def _create(kubectl: Kubectl, namespace: str, manifest: dict[str, Any]) -> Any:
    return kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(manifest), check=False)


def _finalized(kubectl: Kubectl, namespace: str, name: str) -> bool | None:
    found = kubectl.json("get", "-n", namespace, "vmpool", name)
    return True if FINALIZER in found["metadata"].get("finalizers", []) else None


def test_a_deny_policy_refuses_violations_but_never_blocks_a_pool_already_out_of_policy(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    serving_operator: Operator,
) -> None:
    policy = f"deny-{namespace}"
    assert _create(kubectl, namespace, _pool("legacy", account, emulator, DENIED)).returncode == 0
    assert _create(kubectl, namespace, _pool("web", account, emulator, NEWEST)).returncode == 0
    wait_for("the operator's finalizer on legacy",
             lambda: _finalized(kubectl, namespace, "legacy"),
             describe=serving_operator.output)  # fmt: skip

    kubectl("apply", "-f", "-", input=json.dumps(_policy(policy, namespace, "Deny")))
    try:
        denied = _create(kubectl, namespace, _pool("cve", account, emulator, DENIED))
        assert denied.returncode != 0
        assert REFUSED in denied.stderr
        assert (
            f"spec.image.marketplace.version: {DENIED} is denied by policy {policy}: "
            f"CVE-2026-0001 (VersionDenied); pin a version policy {policy} allows"
        ) in denied.stderr

        stale = _create(kubectl, namespace, _pool("stale", account, emulator, OLD))
        assert stale.returncode != 0
        assert REFUSED in stale.stderr
        assert f"spec.image.marketplace.version: {OLD} is " in stale.stderr
        assert f"policy {policy} allows 60 days (ImageTooOld)" in stale.stderr

        paid = _pool("paid", account, emulator, NEWEST)
        paid["spec"]["image"]["plan"] = {
            "name": "rabbitmq", "product": "rabbitmq", "publisher": "bitnami",
        }  # fmt: skip
        refused = _create(kubectl, namespace, paid)
        assert refused.returncode != 0
        assert "spec.image.plan: " in refused.stderr
        assert f"policy {policy}" in refused.stderr
        assert "(PurchasePlanNotAllowed)" in refused.stderr
        for name in ("cve", "stale", "paid"):
            assert kubectl("get", "-n", namespace, "vmpool", name, check=False).returncode != 0

        bumped = copy.deepcopy(kubectl.json("get", "-n", namespace, "vmpool", "web"))
        bumped["spec"]["image"]["marketplace"]["version"] = DENIED
        replaced = kubectl("replace", "-n", namespace, "-f", "-", input=json.dumps(bumped),
                           check=False)  # fmt: skip
        assert replaced.returncode != 0
        assert REFUSED in replaced.stderr
        assert "(VersionDenied)" in replaced.stderr
        web = kubectl.json("get", "-n", namespace, "vmpool", "web")
        assert web["spec"]["image"]["marketplace"]["version"] == NEWEST

        kubectl("patch", "-n", namespace, "vmpool", "legacy", "--type=merge",
                "-p", json.dumps({"spec": {"replicas": 1}}))  # fmt: skip
        kubectl("label", "-n", namespace, "vmpool", "legacy", "team=legacy")
        legacy = kubectl.json("get", "-n", namespace, "vmpool", "legacy")
        assert legacy["spec"]["replicas"] == 1
        assert legacy["metadata"]["labels"] == {"team": "legacy"}
        kubectl("delete", "-n", namespace, "vmpool", "legacy", "--timeout=90s", timeout=120)
        assert kubectl("get", "-n", namespace, "vmpool", "legacy", check=False).returncode != 0

        kubectl("apply", "-f", "-", input=json.dumps(_policy(policy, namespace, "Audit")))
        audited = _create(kubectl, namespace, _pool("cve", account, emulator, DENIED))
        assert audited.returncode == 0, audited.stderr
    finally:
        kubectl("delete", "imgpol", policy, "--ignore-not-found")


def test_a_standby_replica_refuses_as_the_leader_does(
    kubectl: Kubectl,
    cluster: Cluster,
    namespace: str,
    emulator: EmulatorProcess,
    webhook: Webhook,
    pool_crds: tuple[str, ...],
    tmp_path: Path,
) -> None:
    """Another holds the Lease: this replica stands by, serving only the webhook."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "vmroll"},
        "spec": {"holderIdentity": "another-replica", "leaseDurationSeconds": 3600,
                 "acquireTime": now, "renewTime": now},
    }))  # fmt: skip
    standby = Operator(cluster, namespace, tmp_path / "standby.log")
    standby.start(*webhook.flags(), "--leader-elect", "--leader-election-namespace", namespace)
    policy = f"deny-{namespace}"
    try:
        wait_for("the standby's webhook to serve", lambda: serving(webhook),
                 describe=standby.output)  # fmt: skip
        wait_for("the replica to stand by",
                 lambda: True if "Standing by" in standby.output() else None,
                 describe=standby.output)  # fmt: skip
        kubectl("apply", "-f", "-", input=json.dumps(_policy(policy, namespace, "Deny")))

        denied = _create(kubectl, namespace, _pool("cve", "emu", emulator, DENIED))

        assert denied.returncode != 0
        assert REFUSED in denied.stderr
        assert f"is denied by policy {policy}: CVE-2026-0001 (VersionDenied)" in denied.stderr
        assert _create(kubectl, namespace, _pool("web", "emu", emulator, NEWEST)).returncode == 0
        assert "kopf" not in standby.output()
    finally:
        kubectl("delete", "imgpol", policy, "--ignore-not-found")
        standby.stop()
