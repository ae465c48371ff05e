"""`vmroll run --metrics`: the operator process serves Prometheus metrics that agree with what
Azure (the emulator) counted and with the pool's status, during and after a rollout; a deleted
pool's series go with it, and so does everything the operator kept for it (its memory and lock, in
`vmroll_tracked_entries`); SIGTERM stops the endpoint with the operator.

The endpoint is scraped over HTTP and parsed with prometheus_client's text parser, as Prometheus
reads it. The operator is scraped before the emulator's counters are read, and the emulator
counts a request before the operator sees its answer, so at any moment the operator's count of
an operation is at most the emulator's; once the pool is settled, between two passes, they are
equal.
"""

from __future__ import annotations

import socket
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    RolloutBounds,
    apply,
    current,
    get_pool,
    pool_manifest,
    wait_condition,
)
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"
NEWEST = "24.04.202611100"
"""The newest Ubuntu 24.04 version the built-in catalog offers in westeurope."""
DAY = 86_400
REPLICAS = 3
WRITES = ("VirtualMachines_CreateOrUpdate", "VirtualMachines_Delete")

Samples = list[tuple[str, dict[str, str], float]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(url: str) -> Samples | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def value(samples: Samples, name: str, **labels: str) -> float | None:
    found = [
        v
        for n, have, v in samples
        if n == name and all(have.get(k) == w for k, w in labels.items())
    ]
    return sum(found) if found else None


def operator_requests(samples: Samples) -> dict[str, dict[str, int]]:
    counted: dict[str, dict[str, int]] = {}
    for name, labels, count in samples:
        if name == "vmroll_azure_requests_total":
            counted.setdefault(labels["operation"], {})[labels["status"]] = int(count)
    return counted


def emulator_requests(emulator: EmulatorProcess) -> dict[str, dict[str, int]]:
    """ARM requests only: the operator's credential talks to Entra outside the SDK pipeline."""
    operations = emulator.admin("GET", "requests")["operations"]
    return {
        name: {status: int(n) for status, n in counts["byStatus"].items()}
        for name, counts in operations.items()
        if not name.startswith("Identity_")
    }


def at_most(operator: dict[str, dict[str, int]], azure: dict[str, dict[str, int]]) -> bool:
    return all(
        n <= azure.get(op, {}).get(status, 0)
        for op, statuses in operator.items()
        for status, n in statuses.items()
    )


def pool_vms(samples: Samples, namespace: str) -> Counter[tuple[str, str]]:
    return Counter({
        (labels["image_version"], labels["health"]): int(n)
        for name, labels, n in samples
        if name == "vmroll_pool_vms" and labels["namespace"] == namespace and n
    })  # fmt: skip


def emulator_vms(emulator: EmulatorProcess, namespace: str) -> Counter[tuple[str, str]]:
    return Counter(
        (vm["exactVersion"], "Healthy" if vm["healthy"] else "Unhealthy")
        for vm in emulator.vms(namespace)
    )


def _ubuntu(version: str) -> dict[str, Any]:
    return {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                            "sku": "server", "version": version}}  # fmt: skip


def test_metrics_agree_with_azure_and_the_status_during_and_after_a_rollout(
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    tmp_path: Path,
) -> None:
    operator = Operator(cluster, namespace, tmp_path / "operator.log")
    url = f"http://127.0.0.1:{_free_port()}/metrics"
    operator.start("--metrics", url.removeprefix("http://").removesuffix("/metrics"))
    try:
        first = wait_for("the metrics endpoint", lambda: scrape(url), timeout=60,
                         describe=operator.output)  # fmt: skip
        assert value(first, "vmroll_pool_replicas") is None
        pool = {"namespace": namespace, "pool": "web"}

        manifest = pool_manifest("web", account, emulator, replicas=REPLICAS, image=_ubuntu(OLD))
        apply(kubectl, namespace, manifest)
        wait_condition(kubectl, namespace, "web", "Ready", operator)
        pinned = wait_for("the Ready pool's figures", lambda: _ready_figures(url, pool))
        assert value(pinned, "vmroll_pool_image_behind_seconds", **pool) == (55 * DAY)

        manifest["spec"]["image"] = _ubuntu(NEW)
        bounds = RolloutBounds(emulator, namespace, REPLICAS, 1, 0)
        apply(kubectl, namespace, manifest)
        seen_states: set[str] = set()

        def rolled() -> bool | None:
            samples = scrape(url)
            assert samples is not None, operator.output()
            assert at_most(operator_requests(samples), emulator_requests(emulator))
            updated = value(samples, "vmroll_pool_replicas_updated", **pool)
            assert updated is not None
            assert updated <= REPLICAS
            assert sum(pool_vms(samples, namespace).values()) <= REPLICAS + 1
            seen_states.update(
                labels["state"] for name, labels, n in samples
                if name == "vmroll_pool_state" and labels["pool"] == "web" and n == 1
            )  # fmt: skip
            vms = bounds.poll()
            status = get_pool(kubectl, namespace, "web")
            ready = any(c["type"] == "Ready" and c["status"] == "True"
                        for c in status["status"]["conditions"])  # fmt: skip
            done = current(status) and ready and all(vm["exactVersion"] == NEW for vm in vms)
            return True if done else None

        wait_for("the rollout", rolled, timeout=120, describe=operator.output)
        assert "Reconciling" in seen_states

        def settled() -> tuple[Samples, dict[str, dict[str, int]]] | None:
            samples = scrape(url)
            assert samples is not None
            azure = emulator_requests(emulator)
            if (
                operator_requests(samples) != azure
                or value(samples, "vmroll_pool_state", state="Ready", **pool) != 1
            ):
                return None
            return samples, azure

        samples, azure = wait_for("the operator's counts to equal Azure's", settled, timeout=60,
                                  describe=operator.output)  # fmt: skip
        status = get_pool(kubectl, namespace, "web")["status"]
        creates, deletes = (sum(azure[op].values()) for op in WRITES)
        assert (creates, deletes) == (2 * REPLICAS, REPLICAS)
        for gauge, field in [("vmroll_pool_replicas", "replicas"),
                             ("vmroll_pool_replicas_ready", "readyReplicas"),
                             ("vmroll_pool_replicas_available", "availableReplicas"),
                             ("vmroll_pool_replicas_updated", "updatedReplicas")]:  # fmt: skip
            assert value(samples, gauge, **pool) == status[field], gauge
        assert value(samples, "vmroll_pool_replicas_desired", **pool) == REPLICAS
        assert pool_vms(samples, namespace) == emulator_vms(emulator, namespace)
        assert pool_vms(samples, namespace) == {(NEW, "Healthy"): REPLICAS}
        assert status["image"]["latestAvailable"] == NEWEST
        assert value(samples, "vmroll_pool_image_versions_behind", **pool) == 1
        assert value(samples, "vmroll_pool_image_behind_seconds", **pool) == 19 * DAY
        passes = value(samples, "vmroll_reconcile_passes_total")
        lists = sum(azure["VirtualMachines_List"].values())
        assert passes is not None
        assert passes >= lists - 1, "a pass lists the pool's VMs once, and one may be under way"
        assert value(samples, "vmroll_reconcile_passes_total", result="error") == 0
        assert value(samples, "vmroll_reconcile_duration_seconds_count") == passes
        turns = value(samples, "vmroll_pass_turn_wait_seconds_count")
        assert turns is not None
        assert (
            value(samples, "vmroll_pass_turn_wait_seconds_count", line="starting") or 0
        ) >= passes
        held = value(samples, "vmroll_pass_turn_held_seconds_count")
        assert held in (turns - 1, turns), "every turn taken is given back, but one held now"
        throttled = value(samples, "vmroll_azure_throttled_requests_total") or 0
        assert throttled == emulator.admin("GET", "requests")["throttled"]

        kubectl("delete", "vmpool", "web", "-n", namespace, "--wait=false")
        wait_for("the deleted pool's series to go", lambda: _no_pool_series(url, operator))
        gone = scrape(url)
        assert gone is not None
        for kind in ("pool_memories", "pool_locks"):
            assert value(gone, "vmroll_tracked_entries", kind=kind) == 0, kind
        assert value(gone, "vmroll_tracked_entries", kind="sdk_clients") == 1
    finally:
        code = operator.stop()
    assert code == 0, operator.output()
    assert scrape(url) is None


def _ready_figures(url: str, pool: dict[str, str]) -> Samples | None:
    samples = scrape(url)
    if samples is None or value(samples, "vmroll_pool_state", state="Ready", **pool) != 1:
        return None
    return samples


def _no_pool_series(url: str, operator: Operator) -> bool | None:
    samples = scrape(url)
    assert samples is not None, operator.output()
    return True if all(labels.get("pool") != "web" for _, labels, _ in samples) else None


def test_a_metrics_address_in_use_stops_the_operator(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    operator = Operator(cluster, namespace, tmp_path / "operator.log")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        operator.start("--metrics", f"127.0.0.1:{port}")
        try:
            assert operator.process is not None
            code = operator.process.wait(timeout=60)
        finally:
            operator.stop()
    assert code != 0
    assert f"cannot serve metrics on 127.0.0.1:{port}" in operator.output()
