"""The chart's RBAC, as the real apiserver grants it: exactly the rules the operator uses.

`kubectl auth can-i --list` as the chart's ServiceAccount, minus what any ServiceAccount may do
(discovery, self-reviews: the apiserver's bootstrap roles, listed by asking for an unbound
ServiceAccount of the same namespace), must be exactly the table below: one more verb or
resource fails the test. That these rules are also enough is proven by the pool scenarios
(test_pool_create_scale, test_pool_rollout, test_pool_deletion), which run the operator with the
token of this ServiceAccount, and for leader election by the last test here.

Why each rule (read from the code that makes the call):
- customresourcedefinitions list, watch: kopf's scan of its resources and the watch that
  notices CRDs being added or removed.
- namespaces list, watch: kopf follows the namespaces given with `-n`, and keeps every
  namespace's labels in vmroll's index (handlers/namespaces.py) for the pools of an AzureAccount
  that admits namespaces by label selector; get: vmroll reads a namespace the index does not
  hold yet.
- events create: kopf posts vmroll's events (VMs created, deleted; warnings).
- secrets get, configmaps get: vmroll reads the Secret an AzureAccount names (client secret, CA
  bundle), in whichever namespace the platform team keeps it, and the Secrets and ConfigMaps a
  pool's template names (SSH keys, custom data) in the pool's namespace. Only by name: never list
  or watch, so the operator cannot enumerate Secrets.
- virtualmachinepools, azureaccounts, imagepolicies, imagecaptures list, watch, patch: kopf's
  watch, its finalizer and its bookkeeping annotations; their /status patch: conditions and
  progress (an ImageCapture's steps and replication). An ImageCapture's retention lists the
  pools of every namespace (test_capture_retention runs as this ServiceAccount).
- leases create, and get, update of the release's own Lease (release namespace only): leader
  election.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from chart_helpers import ChartServiceAccount
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import EmulatorProcess, Operator, apply, pool_manifest, wait_condition

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

Row = tuple[str, str, str, frozenset[str]]
"""One line of `kubectl auth can-i --list`: resource, non-resource URLs, resource names, verbs."""
_ROW = re.compile(r"^(\S*)\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]$")


def rules_of(kubectl: Kubectl, user: str, namespace: str) -> set[Row]:
    listed = kubectl("auth", "can-i", "--list", f"--as={user}", "-n", namespace).stdout
    header, *lines = listed.strip().splitlines()
    assert header.split()[0] == "Resources", listed
    rows: set[Row] = set()
    for line in lines:
        match = _ROW.match(line)
        assert match is not None, f"unexpected line in can-i --list: {line!r}"
        resource, urls, names, verbs = match.groups()
        rows.add((resource, urls, names, frozenset(verbs.split())))
    return rows


def chart_grants(kubectl: Kubectl, account: ChartServiceAccount, namespace: str) -> set[Row]:
    baseline = f"system:serviceaccount:{account.namespace}:unbound-{account.name}"
    return rules_of(kubectl, account.username, namespace) - rules_of(kubectl, baseline, namespace)


def row(resource: str, *verbs: str, names: str = "") -> Row:
    return (resource, "", names, frozenset(verbs))


CLUSTERWIDE = {
    row("customresourcedefinitions.apiextensions.k8s.io", "list", "watch"),
    row("namespaces", "get", "list", "watch"),
    row("events", "create"),
    row("secrets", "get"),
    row("configmaps", "get"),
    row("virtualmachinepools.vmroll.io", "list", "watch", "patch"),
    row("azureaccounts.vmroll.io", "list", "watch", "patch"),
    row("imagepolicies.vmroll.io", "list", "watch", "patch"),
    row("imagecaptures.vmroll.io", "list", "watch", "patch"),
    row("virtualmachinepools.vmroll.io/status", "patch"),
    row("azureaccounts.vmroll.io/status", "patch"),
    row("imagepolicies.vmroll.io/status", "patch"),
    row("imagecaptures.vmroll.io/status", "patch"),
}


def test_in_a_pool_namespace_the_service_account_may_do_exactly_what_the_operator_does(
    kubectl: Kubectl, chart_service_account: ChartServiceAccount, namespace: str
) -> None:
    assert chart_grants(kubectl, chart_service_account, namespace) == CLUSTERWIDE


def test_in_its_own_namespace_it_may_also_hold_its_lease(
    kubectl: Kubectl, chart_service_account: ChartServiceAccount
) -> None:
    account = chart_service_account
    lease = row("leases.coordination.k8s.io", "get", "update", names=account.release)
    expected = CLUSTERWIDE | {row("leases.coordination.k8s.io", "create"), lease}
    assert chart_grants(kubectl, account, account.namespace) == expected


def test_no_rule_of_the_chart_uses_a_wildcard(chart_service_account: ChartServiceAccount) -> None:
    for role in (chart_service_account.cluster_role, chart_service_account.role):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in rule.get(field, []), f"{role['metadata']['name']}: {rule}"


def test_the_token_authenticates_as_the_service_account_and_cannot_list_secrets(
    kubectl: Kubectl, chart_service_account: ChartServiceAccount, namespace: str
) -> None:
    as_account = Kubectl(kubectl.binary, chart_service_account.kubeconfig)
    whoami = as_account("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert whoami.stdout == chart_service_account.username
    refused = as_account("get", "secrets", "-n", namespace, check=False)
    assert refused.returncode != 0
    assert 'cannot list resource "secrets"' in refused.stderr


def test_as_the_service_account_a_leader_holds_its_lease_and_releases_it(
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    chart_service_account: ChartServiceAccount,
    tmp_path: Path,
) -> None:
    """The leader-election Role is enough: create the Lease, renew it, release it on SIGTERM."""
    service_account = chart_service_account
    lease = ["lease", service_account.release, "-n", service_account.namespace]
    operator = Operator(cluster, namespace, tmp_path / "operator.log", service_account.kubeconfig)
    operator.start("--leader-elect", "--leader-election-namespace", service_account.namespace,
                   "--leader-election-name", service_account.release)  # fmt: skip
    try:
        apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=1))
        wait_condition(kubectl, namespace, "web", "Ready", operator)

        def holder() -> str | None:
            found = kubectl("get", *lease, "-o", "json", check=False)
            spec = json.loads(found.stdout)["spec"] if found.returncode == 0 else {}
            return spec.get("holderIdentity") or None

        held_by = wait_for("the Lease held", holder, timeout=30, describe=operator.output)
        assert operator.process is not None
        assert held_by.endswith(f"_{operator.process.pid}")
        assert operator.stop() == 0, operator.output()
        assert "Forbidden" not in operator.output()
        assert holder() is None, "SIGTERM did not release the Lease"
    finally:
        operator.stop()
        kubectl("delete", *lease, "--ignore-not-found")
