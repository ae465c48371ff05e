"""`vmroll run` as a process: a liveness endpoint, a clean exit on SIGTERM, and no secret in
what it writes (its log, the pool's status, events)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    free_port,
    get_pool,
    healthy,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)


def test_liveness_clean_shutdown_and_no_secret_in_output(
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    tmp_path: Path,
) -> None:
    operator = Operator(cluster, namespace, tmp_path / "operator.log")
    url = f"http://127.0.0.1:{free_port()}/healthz"
    operator.start("--liveness", url)
    try:
        wait_for("the liveness endpoint", lambda: healthy(url), timeout=60,
                 describe=operator.output)  # fmt: skip
        apply(kubectl, namespace, pool_manifest("web", account, emulator, replicas=1))
        wait_condition(kubectl, namespace, "web", "Ready", operator)
    finally:
        code = operator.stop()

    assert code == 0, operator.output()
    secret = emulator.credentials["clientSecret"]
    written = [
        operator.output(),
        json.dumps(get_pool(kubectl, namespace, "web")),
        json.dumps(kubectl.json("get", "azureaccount", account).get("status")),
        json.dumps(kubectl.json("get", "events", "-n", namespace)),
    ]
    assert all(secret not in text for text in written)
