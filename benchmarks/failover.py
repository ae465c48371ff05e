"""Issue 8 item 4's figures: how long a standby `vmroll run --leader-elect` takes to act once
the leader is SIGKILLed, or stopped with SIGTERM, in the middle of a rollout.

Starts the local stack without its operator (`bench_stack(run_operator=False)`: control plane,
`vmroll emulator serve` with its built-in catalog, CRDs, the `emulator` AzureAccount), then two
`vmroll run --leader-elect --leader-election-namespace default` processes with default flags
(and those that `vmroll dev` passes to trust the emulator).
Each run applies examples/local/pool.yaml with `--replicas` VMs pinned at OLD, waits for Ready,
pins NEW, and once a VM on NEW exists stops the process that holds the Lease `default/vmroll`
(SIGKILL and SIGTERM alternate). From that instant it times, polling every 0.1 s: the stopped
process's exit; the Lease's holderIdentity naming the other process; the first ARM request
after the stopped process exited (nobody else talks to the emulator: the new leader's first
pass over the pool); the first ARM write (the emulator's counters of operations that change
something), which also waits for what the rollout waits for (a create, minReadySeconds).
It then starts a new standby, waits for the rollout to end on exactly `--replicas` VMs, never
having seen more than replicas + maxSurge, and deletes the pool.

    .venv/bin/python benchmarks/failover.py [--replicas 4] [--runs 3]
"""

from __future__ import annotations

import argparse
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _stack import (
    Emulator,
    Pools,
    apply,
    bench_stack,
    conditions_line,
    delete_and_wait,
    is_ready,
    load_average,
    pool_manifest,
    pool_vms,
    source_version,
    spawn_vmroll,
    wait_operator_up,
    wait_until,
)
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from vmroll.devstack.stack import TRUST_EMULATOR, DevStack

OLD, NEW = "24.04.202609160", "24.04.202610220"
LEASE = ("vmroll", "default")
ELECT = ("run", *TRUST_EMULATOR, "--leader-elect", "--leader-election-namespace", "default")
TIMEOUT_SECONDS = 300.0


class Lease:
    def __init__(self, dev: DevStack) -> None:
        api_client = config.new_client_from_config(config_file=str(dev.kubeconfig))  # type: ignore[no-untyped-call]
        self._api = client.CoordinationV1Api(api_client)

    def holder(self) -> str:
        try:
            lease = self._api.read_namespaced_lease(*LEASE)
        except ApiException as error:
            if error.status == 404:
                return ""
            raise
        return (lease.spec.holder_identity if lease.spec else None) or ""


def identity(process: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}_{process.pid}"


def failover(
    dev: DevStack,
    operators: list[subprocess.Popen[bytes]],
    run: int,
    how: signal.Signals,
    replicas: int,
    workdir: Path,
) -> tuple[float, ...]:
    emulator, pools, lease = Emulator(dev.credentials), Pools(dev.kubeconfig), Lease(dev)
    name = f"failover-{run}"
    manifest = pool_manifest(name, replicas, version=OLD)
    apply(dev, manifest, workdir)
    wait_until(f"{name} Ready", lambda: is_ready(pools.get(name)), TIMEOUT_SECONDS)
    pool = pools.get(name)
    assert pool is not None
    uid = pool["metadata"]["uid"]
    most = 0

    def vms() -> list[dict[str, object]]:
        nonlocal most
        found = pool_vms(emulator.vms(), uid)
        most = max(most, len(found))
        return found

    apply(dev, pool_manifest(name, replicas, version=NEW), workdir)
    wait_until("a VM on NEW", lambda: any(vm["exactVersion"] == NEW for vm in vms()), 120, 0.1)
    leader = next(p for p in operators if identity(p) == lease.holder())
    standby = next(p for p in operators if p is not leader)
    stopped = time.monotonic()
    leader.send_signal(how)
    leader.wait(timeout=60)
    exited = time.monotonic()
    requests = emulator.requests()
    taken = wait_until("the standby holding the Lease",
                       lambda: lease.holder() == identity(standby), 60, 0.1)  # fmt: skip
    passed = wait_until("a request by the new leader",
                        lambda: emulator.requests().arm_total() != requests.arm_total(),
                        60, 0.1)  # fmt: skip
    acted = wait_until("a write by the new leader",
                       lambda: emulator.requests().writes() != requests.writes(),
                       60, 0.1)  # fmt: skip
    operators[operators.index(leader)] = spawn_vmroll(dev, *ELECT)
    try:
        wait_until(f"{name} rolled out and Ready", lambda: (
            is_ready(pools.get(name)) and len(found := vms()) == replicas
            and all(vm["exactVersion"] == NEW for vm in found)
        ), TIMEOUT_SECONDS, 0.2)  # fmt: skip
    except TimeoutError as error:
        raise SystemExit(f"{error}; conditions: {conditions_line(pools.get(name))}") from None
    if most > replicas + 1:
        raise SystemExit(f"{name}: {most} VMs at once, above replicas + maxSurge")
    delete_and_wait(pools, emulator, name)
    return tuple(moment - stopped for moment in (exited, taken, passed, acted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{source_version()}; {load_average()}")
    figures: dict[signal.Signals, list[tuple[float, ...]]] = {}
    with bench_stack(run_operator=False) as dev, tempfile.TemporaryDirectory() as temporary:
        operators = [spawn_vmroll(dev, *ELECT), spawn_vmroll(dev, *ELECT)]
        try:
            wait_operator_up(Pools(dev.kubeconfig))
            for run in range(2 * args.runs):
                how = signal.SIGKILL if run % 2 == 0 else signal.SIGTERM
                found = failover(dev, operators, run, how, args.replicas, Path(temporary))
                figures.setdefault(how, []).append(found)
                print(f"run {run + 1} {how.name}: {_figures(found)}", flush=True)
        finally:
            for process in operators:
                process.terminate()
                process.wait(timeout=30)
    print(f"\n{load_average()}\nmedians over {args.runs} runs, from the signal:")
    for how, runs in figures.items():
        medians = tuple(statistics.median(column) for column in zip(*runs, strict=True))
        print(f"  {how.name:<8} {_figures(medians)}")


def _figures(found: tuple[float, ...]) -> str:
    exited, taken, passed, acted = found
    return (
        f"leader exited {exited:.2f}s, Lease taken {taken:.2f}s, new leader's first request "
        f"{passed:.2f}s, first write {acted:.2f}s"
    )


if __name__ == "__main__":
    main()
