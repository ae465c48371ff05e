"""Deleting a pool: `Delete` takes its VMs (with their NICs and disks) before the finalizer goes;
`Retain` leaves them in Azure, tagged as released; an account that is gone does not hang the
pool forever once an admin sets the release annotation.
"""

from __future__ import annotations

import pytest
from e2e_harness import Kubectl
from pool_helpers import (
    BY_CREDENTIAL,
    EmulatorProcess,
    Operator,
    apply,
    condition,
    pool_manifest,
    wait_condition,
)

pytestmark = [pytest.mark.e2e, BY_CREDENTIAL]
pytest_plugins = ("pool_fixtures",)

RELEASED_TAG = "vmroll.io_released"


def _implied(emulator: EmulatorProcess, vm_names: set[str]) -> list[str]:
    """NICs and disks that still belong to the named VMs."""
    implied = emulator.admin("GET", "resources")["implied"]
    return [r["name"] for r in implied if any(r["name"].startswith(n) for n in vm_names)]


def test_delete_policy_delete_removes_the_vms_nics_and_disks(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=2))
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    names = {vm["name"] for vm in emulator.vms(namespace)}
    assert _implied(emulator, names)

    kubectl("delete", "-n", namespace, "vmpool", "web", "--timeout=90s", timeout=120)

    assert emulator.vms(namespace) == []
    assert _implied(emulator, names) == []


def test_delete_policy_retain_keeps_the_vms_and_releases_them(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    manifest = pool_manifest("web", account, emulator, replicas=2, deletion_policy="Retain")
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    before = {vm["name"] for vm in emulator.vms(namespace)}

    kubectl("delete", "-n", namespace, "vmpool", "web", "--timeout=90s", timeout=120)

    kept = emulator.vms(namespace)
    assert {vm["name"] for vm in kept} == before
    assert all(RELEASED_TAG in vm["tags"] for vm in kept)
    assert all(vm["provisioningState"] == "Succeeded" for vm in kept)


def test_a_pool_whose_account_is_gone_stalls_until_an_admin_releases_it(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=1))
    wait_condition(kubectl, namespace, "web", "Ready", operator)
    kubectl("delete", "azureaccount", account)

    kubectl("delete", "-n", namespace, "vmpool", "web", "--wait=false")
    pool = wait_condition(kubectl, namespace, "web", "Stalled", operator, reason="AccountNotFound")
    stalled = condition(pool, "Stalled")
    assert stalled is not None
    assert "vmroll.io/release-without-cleanup" in stalled["message"]

    kubectl("annotate", "-n", namespace, "vmpool", "web", "vmroll.io/release-without-cleanup=true")
    kubectl("wait", "-n", namespace, "vmpool/web", "--for=delete", "--timeout=90s", timeout=120)
    assert len(emulator.vms(namespace)) == 1
