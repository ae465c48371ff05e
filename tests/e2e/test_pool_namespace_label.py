"""An AzureAccount that admits namespaces by label, as the operator sees the labels change.

The operator takes a namespace's labels from its watch of namespaces (handlers/namespaces.py),
not from a read per pass: a pool in a namespace without the label is refused, and labelling the
namespace wakes the same pool and lets it through, with nothing created before. The operator
waits an hour between passes of a Stalled pool here, so only the wake-up can let it through.
"""

from __future__ import annotations

import json

import pytest
from e2e_harness import Kubectl
from pool_helpers import (
    EmulatorProcess,
    Operator,
    account_manifest,
    apply,
    condition,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

LABEL = ("vmroll-e2e/azure", "admitted")


def test_a_pool_is_refused_until_its_namespace_carries_the_accounts_label(
    kubectl: Kubectl, namespace: str, account: str, emulator: EmulatorProcess, operator: Operator
) -> None:
    operator.stop()
    operator.start("--stalled-interval", "3600")
    by_label = account_manifest(f"{account}-by-label", emulator, namespace, [])
    by_label["spec"]["allowedNamespaces"] = {"selector": {"matchLabels": dict([LABEL])}}
    kubectl("apply", "-f", "-", input=json.dumps(by_label))
    name = by_label["metadata"]["name"]
    try:
        apply(kubectl, namespace, pool_manifest("web", name, emulator, replicas=1))

        pool = wait_condition(kubectl, namespace, "web", "Stalled", operator, reason="AccessDenied")
        stalled = condition(pool, "Stalled")
        assert stalled is not None
        assert namespace in stalled["message"]
        assert emulator.vms(namespace) == []

        kubectl("label", "namespace", namespace, "=".join(LABEL))

        wait_condition(kubectl, namespace, "web", "Ready", operator)
        assert len(emulator.vms(namespace)) == 1
    finally:
        kubectl("delete", "virtualmachinepool", "web", "-n", namespace, "--wait=false")
        kubectl("delete", "azureaccount", name, "--ignore-not-found", "--wait=false")
