"""Chaos: a pool rolled while everything around the operator fails, and vmroll still keeps its word.

On the real local stack (kube-apiserver + etcd, the emulator over HTTPS, `vmroll run` as a
process) a pool rolls from one image version to another while, at moments a seeded generator
picks (the seed is printed; VMROLL_CHAOS_SEED replays one):
- the operator is SIGKILLed several times and started again;
- ARM answers about 17 % of requests with 429, 500 or 503, resets the connection, carries out a
  write and drops its answer, or fails the long-running operation it started;
- kube-apiserver is restarted over the same etcd, and the emulator is restarted with `--state`.

The bounds are checked by the emulator on every change it applies (`/_emulator/invariants`), not
by polling: never more than replicas + maxSurge VMs, never fewer available than replicas -
maxUnavailable, never two VMs of one revision beyond replicas, never a write by vmroll to a VM it
does not own (a look-alike VM of another pool's UID sits in the same resource group). At the end
exactly `replicas` VMs run the target version and the pool is Ready for its current generation.

A canary sits in the pool's customData Secret, in its Secret-sourced SSH public key and in the
account's client secret (the emulator's principal is given it); after the chaos it must appear in
no operator log line (across all restarts), no Event, no pool or account status, no metric.
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    apply,
    condition,
    create_vm_out_of_band,
    current,
    fast_catalog_data,
    free_port,
    get_pool,
    pool_manifest,
    wait_condition,
)

from vmroll.devstack.restartable_emulator import RestartableEmulator
from vmroll.emulator.faults import CHAOS_RULES
from vmroll.plan.ownership import POOL_NAMESPACE_TAG, POOL_TAG, POOL_UID_TAG

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]
pytest_plugins = ("pool_fixtures",)

OLD, NEW = "24.04.202609160", "24.04.202610220"
KILLS = 4
MIN_READY_SECONDS = 6
"""A VM counts as available after 6 s healthy: the rollout lasts long enough for the chaos to
strike in the middle of it (creates and reimages take 1-2 s at the e2e timeScale)."""


@pytest.fixture
def canary() -> str:
    return f"canary-{secrets.token_hex(12)}"


@pytest.fixture
def restartable_emulator(tmp_path: Path, canary: str) -> Iterator[RestartableEmulator]:
    """The emulator of pool_fixtures, restartable, whose operator principal's secret holds the
    canary (so the AzureAccount's Secret does)."""
    catalog = fast_catalog_data()
    catalog["principals"][0]["clientSecret"] = f"{canary}-client-secret"
    running = RestartableEmulator(tmp_path, catalog, log=tmp_path / "emulator.log")
    yield running
    running.stop()


@pytest.fixture
def emulator(restartable_emulator: RestartableEmulator) -> EmulatorProcess:
    """The emulator as pool_fixtures gives it; its admin API and credentials outlive restarts
    (same port, CA and admin token)."""
    running = restartable_emulator
    assert running.process is not None
    return EmulatorProcess(running.process, running.credentials, running.log)


@dataclass
class Chaos:
    """What happens to the stack while the pool rolls, in an order the seeded generator picks."""

    rng: random.Random
    cluster: Cluster
    operator: Operator
    operator_args: tuple[str, ...]
    emulator: RestartableEmulator
    progress: Callable[[], str]
    done: list[str] = field(default_factory=list)

    def revive(self) -> None:
        """Start the operator again if it is not running (killed, or exited on its own)."""
        assert self.operator.process is not None
        code = self.operator.process.poll()
        if code is not None:
            self.done.append(f"  operator had exited by itself with {code}; started again")
            self.operator.start(*self.operator_args)

    def kill_operator(self) -> None:
        self.revive()
        self.operator.kill()
        time.sleep(self.rng.uniform(0, 1.0))
        self.operator.start(*self.operator_args)

    def restart_apiserver(self) -> None:
        self.cluster.restart_apiserver()
        self.revive()

    def restart_emulator(self) -> None:
        self.emulator.restart()

    def run(self, kills: int) -> None:
        actions = [self.kill_operator] * kills + [self.restart_apiserver, self.restart_emulator]
        self.rng.shuffle(actions)
        for action in actions:
            time.sleep(self.rng.uniform(1.5, 5.0))
            self.done.append(f"{action.__name__} at {self.progress()}")
            action()
        self.revive()


def secret(kubectl: Kubectl, namespace: str, name: str, data: dict[str, str]) -> None:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": encoded,
    }))  # fmt: skip


def _ubuntu(version: str) -> dict[str, Any]:
    return {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                            "sku": "server", "version": version}}  # fmt: skip


def scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return None


@pytest.mark.parametrize(
    ("strategy", "replicas", "surge", "unavailable"),
    [("RollingReimage", 5, 0, 1), ("RollingReplace", 4, 2, 1)],
)
def test_a_pool_rolls_through_chaos_within_its_bounds_and_leaks_no_secret(
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    account: str,
    restartable_emulator: RestartableEmulator,
    emulator: EmulatorProcess,
    canary: str,
    tmp_path: Path,
    strategy: str,
    replicas: int,
    surge: int,
    unavailable: int,
) -> None:
    seed = int(os.environ.get("VMROLL_CHAOS_SEED") or secrets.randbits(32))
    print(f"chaos seed {seed} (VMROLL_CHAOS_SEED={seed} replays it)")
    rng = random.Random(seed)
    metrics = f"127.0.0.1:{free_port()}"
    operator_args = ("--metrics", metrics)
    operator = Operator(cluster, namespace, tmp_path / "operator.log")
    secret(kubectl, namespace, "boot", {"customData": f"#cloud-config\n# {canary}\n"})
    ssh_key = (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8Ue6bS2dGf0a9bT4XqvD2Fh1nQj7k3mPz5Lc "
        f"{canary}@vmroll"
    )
    secret(kubectl, namespace, "keys", {"admin": ssh_key})
    create_vm_out_of_band(emulator, "rg-vmroll", "web-lookalike", {
        POOL_TAG: "web", POOL_NAMESPACE_TAG: namespace, POOL_UID_TAG: "another-pools-uid",
    })  # fmt: skip
    manifest = pool_manifest("web", account, emulator, replicas=replicas, image=_ubuntu(OLD))
    template = manifest["spec"]["template"]
    template["customData"] = {"secretRef": {"name": "boot", "key": "customData"}}
    template["sshPublicKeys"] = [{"secretRef": {"name": "keys", "key": "admin"}}]
    manifest["spec"]["strategy"] = {
        "type": strategy, "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
        "minReadySeconds": MIN_READY_SECONDS,
    }  # fmt: skip
    operator.start(*operator_args)
    try:
        apply(kubectl, namespace, manifest)
        ready = wait_condition(kubectl, namespace, "web", "Ready", operator, timeout=120)
        uid = ready["metadata"]["uid"]
        emulator.admin("POST", "invariants", {
            "name": "web", "selector": {POOL_UID_TAG: uid}, "maxOwned": replicas + surge,
            "minAvailable": replicas - unavailable, "replicas": replicas,
        })  # fmt: skip
        restartable_emulator.with_faults({"seed": seed, "rules": list(CHAOS_RULES)})

        def progress() -> str:
            vms = [vm for vm in emulator.vms(namespace) if vm["tags"][POOL_UID_TAG] == uid]
            rolled = sum(1 for vm in vms if vm["exactVersion"] == NEW)
            return f"{rolled}/{replicas} VMs on {NEW}, {len(vms)} VMs"

        chaos = Chaos(rng, cluster, operator, operator_args, restartable_emulator, progress)
        manifest["spec"]["image"] = _ubuntu(NEW)
        apply(kubectl, namespace, manifest)
        chaos.run(KILLS)

        def rolled() -> bool | None:
            chaos.revive()
            pool = get_pool(kubectl, namespace, "web")
            found = condition(pool, "Ready")
            vms = [vm for vm in emulator.vms(namespace) if vm["tags"][POOL_UID_TAG] == uid]
            done = current(pool) and found is not None and found["status"] == "True"
            on_target = [vm for vm in vms if vm["exactVersion"] == NEW]
            return True if done and len(vms) == len(on_target) == replicas else None

        def describe() -> str:
            pool = get_pool(kubectl, namespace, "web")
            return (
                f"seed {seed}\nchaos: {chaos.done}\nstatus: {json.dumps(pool.get('status'))}\n"
                f"VMs: {json.dumps(emulator.vms(namespace))}\n"
                f"invariants: {json.dumps(emulator.admin('GET', 'invariants'))}\n"
                f"operator (tail):\n{operator.output()[-20000:]}"
            )

        wait_for("the rollout through chaos", rolled, timeout=300, describe=describe)
        page = wait_for("the metrics", lambda: scrape(f"http://{metrics}/metrics"), timeout=60)
    finally:
        operator.stop()

    print("\n".join([f"seed {seed}", *chaos.done]))
    record = emulator.admin("GET", "invariants")["watches"][0]
    vms = [vm for vm in emulator.vms(namespace) if vm["tags"][POOL_UID_TAG] == uid]
    pool = get_pool(kubectl, namespace, "web")
    lookalike = [
        vm["tags"][POOL_UID_TAG] for vm in emulator.vms(namespace) if vm["name"] == "web-lookalike"
    ]
    assert record["violations"] == [], f"seed {seed}: {json.dumps(record, indent=1)}"
    assert record["unownedWrites"] == [], f"seed {seed}: {json.dumps(record, indent=1)}"
    assert record["peakOwned"] <= replicas + surge
    assert record["minAvailable"] >= replicas - unavailable
    assert record["evaluations"] > replicas
    assert restartable_emulator.injected() > 0
    assert sum(1 for line in chaos.done if not line.startswith(" ")) == KILLS + 2
    assert len(vms) == replicas
    assert {vm["exactVersion"] for vm in vms} == {NEW}
    assert {vm["provisioningState"] for vm in vms} == {"Succeeded"}
    assert lookalike == ["another-pools-uid"]
    assert pool["status"]["observedGeneration"] == pool["metadata"]["generation"]
    assert pool["status"]["updatedReplicas"] == replicas

    events = kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    statuses = json.dumps(pool.get("status")) + json.dumps(
        kubectl.json("get", "azureaccount", account).get("status")
    )
    written = {"operator log": operator.output(), "events": events, "statuses": statuses,
               "metrics": page}  # fmt: skip
    assert "vmroll_" in page
    assert [where for where, text in written.items() if canary in text] == []
