"""Two `vmroll run --leader-elect` processes against one cluster: only the Lease's holder acts.

The leader SIGKILLed mid-rollout: the standby takes the Lease once it expires and finishes the
rollout, with no duplicate VM and within the surge and availability bounds as the emulator saw
them. The leader stopped with SIGTERM: it releases the Lease and the standby takes it at once,
without waiting for it to expire. A leader whose Lease is taken from it exits at once with
code 3; so does one frozen (SIGSTOP) past the Lease's duration, as it wakes, while the standby
it left the Lease to leads. A standby answers its liveness probe. Failover times are printed
(`pytest -s`), never asserted: benchmarks/failover.py measures them.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_harness import Cluster, Kubectl, wait_for
from pool_helpers import (
    EmulatorProcess,
    Operator,
    RolloutBounds,
    apply,
    free_port,
    healthy,
    pool_manifest,
    wait_condition,
)

pytestmark = pytest.mark.e2e
pytest_plugins = ("pool_fixtures",)

LEASE = "vmroll"
OLD, NEW = "24.04.202609160", "24.04.202610220"
READS = re.compile(r"_(Get|List\w*|InstanceView)$")


def identity(operator: Operator) -> str:
    """What `vmroll run` names itself outside a pod: host and process id."""
    assert operator.process is not None
    return f"{socket.gethostname()}_{operator.process.pid}"


def lease_holder(kubectl: Kubectl, namespace: str) -> str | None:
    found = kubectl("get", "lease", LEASE, "-n", namespace, "-o", "json", check=False)
    if found.returncode != 0:
        return None
    holder: str | None = json.loads(found.stdout)["spec"].get("holderIdentity")
    return holder


STARTED = "starting the operator"


def never_acted(operator: Operator) -> bool:
    """It never started kopf: no handler, no watch, nothing but standing by."""
    output = operator.output()
    return "Standing by" in output and STARTED not in output and "kopf" not in output


def lease_events(kubectl: Kubectl, namespace: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the events about the Lease."""
    events = kubectl.json("get", "events", "-n", namespace)["items"]
    return [(e["type"], e["reason"], e["message"]) for e in events
            if e["involvedObject"]["kind"] == "Lease"]  # fmt: skip


def wait_holder(kubectl: Kubectl, namespace: str, operators: list[Operator]) -> Operator:
    def probe() -> Operator | None:
        holder = lease_holder(kubectl, namespace)
        return next((o for o in operators if identity(o) == holder), None)

    return wait_for(f"Lease {namespace}/{LEASE} held by an operator", probe, timeout=60,
                    describe=lambda: "\n".join(o.output() for o in operators))  # fmt: skip


def azure_writes(emulator: EmulatorProcess) -> int:
    operations: dict[str, Any] = emulator.admin("GET", "requests")["operations"]
    return sum(int(counts["total"]) for name, counts in operations.items()
               if name.startswith("VirtualMachines_") and not READS.search(name))  # fmt: skip


@pytest.fixture
def liveness() -> dict[Operator, str]:
    """Each operator's liveness endpoint (`--liveness`)."""
    return {}


@pytest.fixture
def pair(
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    account: str,
    tmp_path: Path,
    liveness: dict[Operator, str],
) -> Iterator[tuple[Operator, Operator]]:
    """Two operator processes electing a leader in the test namespace's Lease."""
    operators = (
        Operator(cluster, namespace, tmp_path / "operator-1.log"),
        Operator(cluster, namespace, tmp_path / "operator-2.log"),
    )
    for operator in operators:
        liveness[operator] = f"http://127.0.0.1:{free_port()}/healthz"
        operator.start("--leader-elect", "--leader-election-namespace", namespace,
                       "--liveness", liveness[operator])  # fmt: skip
    yield operators
    for operator in operators:
        operator.stop()
    kubectl("delete", "lease", LEASE, "-n", namespace, "--ignore-not-found")


def leader_and_standby(
    kubectl: Kubectl, namespace: str, pair: tuple[Operator, Operator]
) -> tuple[Operator, Operator]:
    leader = wait_holder(kubectl, namespace, list(pair))
    standby = pair[1] if leader is pair[0] else pair[0]
    wait_for("the standby standing by",
             lambda: True if "Standing by" in standby.output() else None,
             timeout=60, describe=standby.output)  # fmt: skip
    return leader, standby


def test_leader_killed_mid_rollout_standby_finishes_it_within_bounds(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    pair: tuple[Operator, Operator],
) -> None:
    leader, standby = leader_and_standby(kubectl, namespace, pair)
    manifest = pool_manifest("web", account, emulator, replicas=3)
    manifest["spec"]["image"]["marketplace"]["version"] = OLD
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", leader)
    assert STARTED in leader.output()
    assert never_acted(standby), standby.output()

    bounds = RolloutBounds(emulator, namespace, replicas=3, surge=1, unavailable=0)
    manifest["spec"]["image"]["marketplace"]["version"] = NEW
    apply(kubectl, namespace, manifest)
    wait_for("a VM on the new version", lambda: True if any(
        vm["exactVersion"] == NEW for vm in bounds.poll()
    ) else None, timeout=60, describe=leader.output)  # fmt: skip
    writes_at_kill = azure_writes(emulator)
    killed = time.monotonic()
    leader.kill()

    def held_by_standby() -> bool | None:
        bounds.poll()
        return True if lease_holder(kubectl, namespace) == identity(standby) else None

    wait_for("the standby holding the Lease", held_by_standby, timeout=60,
             describe=standby.output)  # fmt: skip
    acquired = time.monotonic()
    wait_for("the standby writing to Azure", lambda: True if (
        bounds.poll() and azure_writes(emulator) > writes_at_kill
    ) else None, timeout=60, describe=standby.output)  # fmt: skip
    progressed = time.monotonic()
    wait_for("every VM on the new version", lambda: True if (
        len(vms := bounds.poll()) == 3 and all(vm["exactVersion"] == NEW for vm in vms)
    ) else None, timeout=120, describe=standby.output)  # fmt: skip
    pool = wait_condition(kubectl, namespace, "web", "Ready", standby)

    vms = bounds.poll()
    assert {vm["name"] for vm in emulator.all_vms()} == {vm["name"] for vm in vms}
    assert all(vm["tags"]["vmroll.io_pool-uid"] == pool["metadata"]["uid"] for vm in vms)
    assert {i["name"] for i in pool["status"]["instances"]} == {vm["name"] for vm in vms}
    assert f"{identity(leader)} stopped renewing it" in standby.output(), standby.output()
    print(
        f"\nSIGKILL failover: Lease taken {acquired - killed:.1f} s after the kill, "
        f"first Azure write by the new leader {progressed - killed:.1f} s after it"
    )


def test_leader_stopped_releases_the_lease_and_standby_takes_over_at_once(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    pair: tuple[Operator, Operator],
    liveness: dict[Operator, str],
) -> None:
    leader, standby = leader_and_standby(kubectl, namespace, pair)
    manifest = pool_manifest("web", account, emulator, replicas=1)
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", leader)
    assert never_acted(standby), standby.output()
    assert healthy(liveness[standby]), "a standby answers its liveness probe"

    stopped = time.monotonic()
    code = leader.stop()
    exited = time.monotonic()
    assert code == 0, leader.output()
    assert f"Released Lease {namespace}/{LEASE}" in leader.output()
    wait_for("the standby holding the Lease",
             lambda: True if lease_holder(kubectl, namespace) == identity(standby) else None,
             timeout=60, describe=standby.output)  # fmt: skip
    acquired = time.monotonic()
    assert "(it was released)" in standby.output(), standby.output()
    events = lease_events(kubectl, namespace)
    for message in (f"{identity(leader)} became leader",
                    f"{identity(leader)} stopped leading and released the Lease",
                    f"{identity(standby)} became leader"):  # fmt: skip
        assert ("Normal", "LeaderElection", message) in events, events
    wait_for("kopf's liveness endpoint on the new leader", lambda: healthy(liveness[standby]),
             timeout=60, describe=standby.output)  # fmt: skip

    manifest["spec"]["replicas"] = 2
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", standby)
    assert len(emulator.vms(namespace)) == 2
    print(
        f"\nSIGTERM failover: leader exited {exited - stopped:.1f} s after SIGTERM, "
        f"Lease taken {acquired - stopped:.1f} s after SIGTERM"
    )


def test_leader_whose_lease_is_taken_stops_at_once_with_code_3(
    kubectl: Kubectl, namespace: str, pair: tuple[Operator, Operator]
) -> None:
    leader, standby = leader_and_standby(kubectl, namespace, pair)
    taken = {"spec": {"holderIdentity": "intruder", "leaseDurationSeconds": 3600}}
    kubectl("patch", "lease", LEASE, "-n", namespace, "--type=merge", "-p", json.dumps(taken))

    assert leader.process is not None
    code = wait_for("the leader exiting", leader.process.poll, timeout=30,
                    describe=leader.output)  # fmt: skip
    assert code == 3, leader.output()
    assert "it now names intruder" in leader.output()
    lost = f"{identity(leader)} stopped acting and exits (it now names intruder)"
    assert ("Warning", "LeadershipLost", lost) in lease_events(kubectl, namespace)
    assert standby.process is not None
    assert standby.process.poll() is None
    assert lease_holder(kubectl, namespace) == "intruder"


def test_leader_frozen_past_the_lease_stops_on_waking_and_the_standby_leads(
    kubectl: Kubectl,
    namespace: str,
    account: str,
    emulator: EmulatorProcess,
    pair: tuple[Operator, Operator],
) -> None:
    leader, standby = leader_and_standby(kubectl, namespace, pair)
    manifest = pool_manifest("web", account, emulator, replicas=1)
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", leader)
    assert leader.process is not None

    leader.process.send_signal(signal.SIGSTOP)
    try:
        wait_for("the standby holding the Lease",
                 lambda: True if lease_holder(kubectl, namespace) == identity(standby) else None,
                 timeout=60, describe=standby.output)  # fmt: skip
    finally:
        leader.process.send_signal(signal.SIGCONT)
    code = wait_for("the old leader exiting", leader.process.poll, timeout=30,
                    describe=leader.output)  # fmt: skip

    assert code == 3, leader.output()
    assert "not renewed for 10 s" in leader.output()
    lost = f"{identity(leader)} stopped acting and exits (not renewed for 10 s)"
    assert ("Warning", "LeadershipLost", lost) in lease_events(kubectl, namespace)
    manifest["spec"]["replicas"] = 2
    apply(kubectl, namespace, manifest)
    wait_condition(kubectl, namespace, "web", "Ready", standby)
    assert len(emulator.vms(namespace)) == 2
