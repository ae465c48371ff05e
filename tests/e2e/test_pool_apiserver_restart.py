"""An operator started while kube-apiserver is down serves its pools once the API server is back.

kopf lists discovery once at start and rescans a group only when one of its CRDs changes. Found by
the chaos suite: an operator (re)started during a restart of kube-apiserver retried discovery
through the outage, its retry landed while the API server was up but did not list the custom
resources yet, it logged "Unresolved resources cannot be served", and it then served no pool at
all, for good. vmroll's startup now waits until discovery lists all its resources.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import EmulatorProcess, Operator, apply, pool_manifest, wait_condition

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)
TRYING = ("waiting for the API server", "Request attempt")
"""What the operator logs when discovery fails: vmroll's wait, or kopf's own retries."""


def test_an_operator_started_while_the_apiserver_is_down_serves_pools_once_it_is_back(
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    tmp_path: Path,
) -> None:
    operator = Operator(cluster, namespace, tmp_path / "operator.log")

    def start_the_operator() -> None:
        operator.start()
        wait_for(
            "the operator failing to reach the API server",
            lambda: True if any(line in operator.output() for line in TRYING) else None,
            timeout=60, describe=operator.output,
        )  # fmt: skip

    try:
        cluster.restart_apiserver(while_down=start_the_operator)
        apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=1))

        wait_condition(kubectl, namespace, "web", "Ready", operator, timeout=90)
    finally:
        operator.stop()

    assert "Unresolved resources" not in operator.output()
