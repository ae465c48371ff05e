"""A pool never moves silently to another subscription.

The emulator holds two subscriptions the operator's principal may write to. The pool's account
is deleted and recreated under the same name with the second one, which the API server cannot
refuse (the CRDs' CEL rules refuse changing accountRef and subscriptionId in place: see
test_crd_validation.py): the pool stalls with AccountChanged, one Warning event, and no write to
either subscription; the accept-subscription annotation moves it, leaving the old VMs where they
are; and deleting it under AccountChanged deletes nothing until the admin releases it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from e2e_harness import Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    account_manifest,
    apply,
    condition,
    fast_catalog_data,
    get_pool,
    pool_events,
    pool_manifest,
    vm_writes,
    wait_condition,
    warnings,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

SECOND = "00000000-0000-4000-8000-00000000a002"
ACCEPT = "vmroll.io/accept-subscription"
RELEASE = "vmroll.io/release-without-cleanup"


@pytest.fixture
def emulator_catalog() -> dict[str, Any]:
    """The test catalog and a second subscription, a copy of the first, where the operator's
    principal is Contributor too."""
    data = fast_catalog_data()
    second = copy.deepcopy(data["subscriptions"][0])
    second["id"] = SECOND
    second["displayName"] = "vmroll emulator, second subscription"
    data["subscriptions"].append(second)
    data["roleAssignments"].append(
        {"principal": "vmroll-operator", "role": "Contributor", "scope": f"/subscriptions/{SECOND}"}
    )
    return data


def subscription_of(vm: dict[str, Any]) -> str:
    return str(vm["id"].split("/")[2]).lower()


def vms_by_subscription(emulator: EmulatorProcess, namespace: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for vm in emulator.vms(namespace):
        found.setdefault(subscription_of(vm), []).append(vm["name"])
    return {subscription: sorted(names) for subscription, names in found.items()}


def recreate_account(
    kubectl: Kubectl, name: str, emulator: EmulatorProcess, namespace: str, subscription: str
) -> None:
    """Delete the AzureAccount and create it again under the same name, naming `subscription`."""
    kubectl("delete", "azureaccount", name, "--timeout=60s", timeout=90)
    manifest = account_manifest(name, emulator, namespace, [namespace])
    manifest["spec"]["subscriptionId"] = subscription
    kubectl("create", "-f", "-", input=json.dumps(manifest))


def ready_pool(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> dict[str, list[str]]:
    apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=2))
    pool = wait_condition(kubectl, namespace, "web", "Ready", operator)
    first = str(emulator.credentials["subscriptionId"]).lower()
    assert pool["status"]["subscriptionId"].lower() == first
    placed = vms_by_subscription(emulator, namespace)
    assert list(placed) == [first]
    assert len(placed[first]) == 2
    return placed


def stalled_message(pool: dict[str, Any]) -> str:
    stalled = condition(pool, "Stalled")
    assert stalled is not None
    return str(stalled["message"])


def test_a_recreated_account_naming_another_subscription_stalls_and_writes_nothing(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    placed = ready_pool(kubectl, namespace, account, emulator, operator)
    writes = vm_writes(emulator)
    first = str(emulator.credentials["subscriptionId"])

    recreate_account(kubectl, account, emulator, namespace, SECOND)
    pool = wait_condition(kubectl, namespace, "web", "Stalled", operator, reason="AccountChanged")

    message = stalled_message(pool)
    assert f"AzureAccount {account} now names subscription {SECOND}" in message
    assert f"restore subscriptionId {first} on AzureAccount {account}" in message
    assert f"{ACCEPT}={SECOND}" in message
    assert pool["status"]["subscriptionId"] == first
    assert vms_by_subscription(emulator, namespace) == placed
    assert vm_writes(emulator) == writes
    assert warnings(kubectl, namespace, "AccountChanged") == 1
    ready = condition(get_pool(kubectl, namespace, "web"), "Ready")
    assert ready is not None
    assert ready["status"] == "False"


def test_the_accept_annotation_moves_the_pool_and_leaves_the_old_vms(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    placed = ready_pool(kubectl, namespace, account, emulator, operator)
    first = str(emulator.credentials["subscriptionId"]).lower()
    recreate_account(kubectl, account, emulator, namespace, SECOND)
    wait_condition(kubectl, namespace, "web", "Stalled", operator, reason="AccountChanged")

    kubectl("annotate", "-n", namespace, "vmpool", "web", f"{ACCEPT}={SECOND}")
    pool = wait_condition(kubectl, namespace, "web", "Ready", operator)

    assert pool["status"]["subscriptionId"] == SECOND
    now = vms_by_subscription(emulator, namespace)
    assert now[first] == placed[first]
    assert len(now[SECOND]) == 2
    adopted = [
        e for e in pool_events(kubectl, namespace, "web") if e["reason"] == "SubscriptionAdopted"
    ]
    assert len(adopted) == 1
    assert adopted[0]["type"] == "Warning"
    assert f"its VMs in subscription {first} are abandoned" in adopted[0]["message"]
    assert "does not delete them" in adopted[0]["message"]


def test_deleting_a_pool_under_account_changed_deletes_nothing_until_released(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    placed = ready_pool(kubectl, namespace, account, emulator, operator)
    recreate_account(kubectl, account, emulator, namespace, SECOND)
    wait_condition(kubectl, namespace, "web", "Stalled", operator, reason="AccountChanged")
    writes = vm_writes(emulator)

    kubectl("delete", "-n", namespace, "vmpool", "web", "--wait=false")

    def deletion_stalled() -> str | None:
        message = stalled_message(get_pool(kubectl, namespace, "web"))
        return message if "deletes nothing" in message else None

    message = wait_for("the deletion to stall on AccountChanged", deletion_stalled, timeout=60)
    assert f"{RELEASE}=true" in message
    assert vms_by_subscription(emulator, namespace) == placed
    assert vm_writes(emulator) == writes

    kubectl("annotate", "-n", namespace, "vmpool", "web", f"{RELEASE}=true")
    kubectl("wait", "-n", namespace, "vmpool/web", "--for=delete", "--timeout=90s", timeout=120)

    assert vms_by_subscription(emulator, namespace) == placed
    assert vm_writes(emulator) == writes
