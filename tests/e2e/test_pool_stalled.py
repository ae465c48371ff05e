"""What a human must fix ends `Stalled` with the right reason, and nothing is created.

Each case is a pool the emulator cannot satisfy as written: an image version missing in the
pool's region, a paid image whose terms are not accepted, a resource group the account does
not admit, a VM size beyond the subscription's quota.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e_harness import Kubectl
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    condition,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

NEWEST_UBUNTU = "24.04.202611100"
"""Offered in westeurope only."""
RABBITMQ = {"publisher": "bitnami", "offer": "rabbitmq", "sku": "rabbitmq", "version": "latest"}


def _ubuntu(version: str) -> dict[str, Any]:
    return {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                            "sku": "server", "version": version}}  # fmt: skip


CASES = {
    "image-missing-in-region": (
        {"location": "eastus", "image": _ubuntu(NEWEST_UBUNTU)},
        "ImageNotAvailable",
        "eastus",
    ),
    "terms-not-accepted": ({"image": {"marketplace": RABBITMQ}}, "TermsNotAccepted", "rabbitmq"),
    "access-denied": ({"resource_group": "rg-elsewhere"}, "AccessDenied", "rg-elsewhere"),
    "quota-exceeded": (
        {"location": "eastus", "vm_size": "Standard_NC6s_v3"},
        "QuotaExceeded",
        "quota",
    ),
}


@pytest.mark.parametrize(("overrides", "reason", "named"), CASES.values(), ids=CASES.keys())
def test_pool_stalls_with_the_reason_and_creates_nothing(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    operator: Operator,
    overrides: dict[str, Any],
    reason: str,
    named: str,
) -> None:
    apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=2, **overrides))

    pool = wait_condition(kubectl, namespace, "web", "Stalled", operator, reason=reason)

    stalled = condition(pool, "Stalled")
    assert stalled is not None
    assert named in stalled["message"]
    ready = condition(pool, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", reason)
    assert emulator.all_vms() == []
    warnings = kubectl.json("get", "events", "-n", namespace)["items"]
    assert [e["reason"] for e in warnings if e["type"] == "Warning"] == [reason]


def test_accept_terms_lets_a_paid_image_through(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    image = {"marketplace": RABBITMQ, "acceptTerms": True}
    apply(kubectl, namespace, pool_manifest("mq", account, emulator, replicas=1, image=image))

    pool = wait_condition(kubectl, namespace, "mq", "Ready", operator)

    assert pool["status"]["image"]["plan"] == {
        "name": "rabbitmq", "product": "rabbitmq", "publisher": "bitnami"
    }  # fmt: skip
    (vm,) = emulator.vms(namespace)
    assert vm["exactVersion"] == pool["status"]["image"]["resolvedVersion"] == "4.0.18"
