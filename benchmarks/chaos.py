"""Issue 14's chaos figures: what a rollout costs, and whether vmroll keeps its bounds, when the
operator is killed over and over, ARM fails a sixth of its requests, and both servers restart.

Starts the local stack without its operator (`bench_stack(run_operator=False)`: control plane,
CRDs) and a second emulator of its own, `vmroll emulator serve --state` with the built-in catalog
(timeScale 0.05: a create takes 9 s), so that it can be restarted on the same port and state; an
AzureAccount `chaos` points at it. `vmroll run` is started as `vmroll dev` starts it.

Two rollouts of examples/local/pool.yaml (`--replicas` VMs, pinned OLD -> NEW, `--strategy`,
`--max-surge`, `--max-unavailable`, minReadySeconds 5), one after the other on the same stack:
- calm: no fault, no kill; the baseline.
- chaos: the emulator answers about 17 % of ARM requests with 429/500/503, connection resets,
  writes carried out whose answer is lost, and long-running operations that end Failed (seeded);
  the operator is SIGKILLed `--kills` times at moments drawn from the seed (every 2-8 s) and
  started again 0-1 s later; kube-apiserver is restarted over the same etcd, and the emulator with
  `--state`, each once, at random places among the first half of the kills.

For each: time from the spec change to Ready for the current generation with exactly `replicas`
VMs on NEW (polled every 0.5 s); ARM write requests (every attempt the emulator received, refused
or not) and writes carried out (answered 2xx, or applied and their answer lost) per VM rolled;
amplification = chaos / calm. The emulator checks the bounds on every change it applies
(`/_emulator/invariants`: never more than replicas + maxSurge VMs, never fewer available than
replicas - maxUnavailable, never more than replicas of one revision, no write to a VM the pool
does not own); the violations it recorded are printed and must be 0. Request counters of an
emulator run are read before it is restarted and added up. A pool that stalls (rolls back, say)
ends the run there, with its conditions printed.

    .venv/bin/python benchmarks/chaos.py [--replicas 10] [--max-surge 2] [--max-unavailable 0]
        [--strategy RollingReplace] [--kills 20] [--seed N]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from _stack import (
    Pools,
    Requests,
    apply,
    bench_log,
    bench_stack,
    conditions_line,
    is_ready,
    load_average,
    pool_manifest,
    pool_vms,
    source_version,
    spawn_vmroll,
    wait_until,
)

from vmroll.devstack.manifests import SYSTEM_NAMESPACE
from vmroll.devstack.restartable_emulator import RestartableEmulator
from vmroll.devstack.stack import TRUST_EMULATOR, DevStack
from vmroll.emulator.catalog import default_catalog_data
from vmroll.emulator.faults import CHAOS_RULES

OLD, NEW = "24.04.202609160", "24.04.202610220"
ACCOUNT = "chaos"
CONVERGE_TIMEOUT_SECONDS = 900.0
WRITES = ("VirtualMachines_CreateOrUpdate", "VirtualMachines_Delete", "VirtualMachines_Reimage")


class ChaosEmulator(RestartableEmulator):
    """The restartable emulator with the built-in catalog; its request counters are kept across
    restarts (each run counts from zero)."""

    def __init__(self, directory: Path) -> None:
        self.counted = Requests({})
        super().__init__(directory, default_catalog_data(), bench_log())

    def run_requests(self) -> Requests:
        snapshot = self.admin("GET", "requests")
        return Requests({op: dict(body["byStatus"]) for op, body in snapshot["operations"].items()})

    def requests(self) -> Requests:
        """Every request since the first start, all runs added up."""
        return _plus(self.counted, self.run_requests())

    def vms(self) -> list[dict[str, Any]]:
        vms: list[dict[str, Any]] = self.admin("GET", "vms")["value"]
        return vms

    def restart(self) -> None:
        self.counted = self.requests()
        super().restart()


def _plus(a: Requests, b: Requests) -> Requests:
    total: dict[str, dict[str, int]] = {op: dict(st) for op, st in a.by_operation.items()}
    for op, statuses in b.by_operation.items():
        for status, count in statuses.items():
            total.setdefault(op, {})[status] = total.get(op, {}).get(status, 0) + count
    return Requests(total)


def install_account(dev: DevStack, emulator: ChaosEmulator, workdir: Path) -> None:
    creds = emulator.credentials
    secret = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "chaos-credentials", "namespace": SYSTEM_NAMESPACE},
        "data": {"clientSecret": base64.b64encode(creds["clientSecret"].encode()).decode()},
    }  # fmt: skip
    account = {
        "apiVersion": "vmroll.io/v1alpha1", "kind": "AzureAccount",
        "metadata": {"name": ACCOUNT},
        "spec": {
            "subscriptionId": creds["subscriptionId"], "tenantId": creds["tenantId"],
            "auth": {"clientSecret": {"clientId": creds["clientId"], "secretRef": {
                "name": "chaos-credentials", "namespace": SYSTEM_NAMESPACE, "key": "clientSecret",
            }}},
            "allowedNamespaces": {"selector": {}}, "allowedResourceGroups": ["*"],
            "endpoints": {"resourceManager": creds["resourceManagerEndpoint"],
                          "authorityHost": creds["authorityHost"],
                          "caBundle": {"pem": Path(creds["caBundle"]).read_text()}},
        },
    }  # fmt: skip
    path = workdir / "chaos-account.yaml"
    path.write_text(yaml.safe_dump_all([secret, account]))
    dev.kubectl_run("apply", "-f", str(path))


class OperatorProcess:
    def __init__(self, dev: DevStack) -> None:
        self.dev = dev
        self.process = spawn_vmroll(dev, "run", *TRUST_EMULATOR)
        self.kills = 0
        self.exits: list[int] = []

    def revive(self) -> None:
        code = self.process.poll()
        if code is not None:
            self.exits.append(code)
            self.process = spawn_vmroll(self.dev, "run", *TRUST_EMULATOR)

    def kill(self, rng: random.Random) -> None:
        self.revive()
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.kills += 1
        time.sleep(rng.uniform(0, 1))
        self.process = spawn_vmroll(self.dev, "run", *TRUST_EMULATOR)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class NotConverging(Exception):
    """The pool stalled (rolled back, say): it will not reach the target without a spec change."""


def converged(pools: Pools, emulator: ChaosEmulator, name: str, replicas: int) -> bool:
    pool = pools.get(name)
    conditions = (pool or {}).get("status", {}).get("conditions", [])
    if any(c["type"] == "Stalled" and c["status"] == "True" for c in conditions):
        raise NotConverging(conditions_line(pool))
    if not is_ready(pool):
        return False
    assert pool is not None
    vms = pool_vms(emulator.vms(), pool["metadata"]["uid"])
    return len(vms) == replicas and all(vm["exactVersion"] == NEW for vm in vms)


def rollout(
    dev: DevStack,
    pools: Pools,
    emulator: ChaosEmulator,
    args: argparse.Namespace,
    name: str,
    workdir: Path,
    storm: Callable[[Callable[[], bool]], None] | None,
) -> dict[str, Any]:
    strategy = {"type": args.strategy, "rollingUpdate": {
        "maxSurge": args.max_surge, "maxUnavailable": args.max_unavailable}}  # fmt: skip
    manifest = pool_manifest(name, args.replicas, version=OLD, strategy=strategy)
    manifest["spec"]["accountRef"]["name"] = ACCOUNT
    apply(dev, manifest, workdir)
    wait_until(f"{name} Ready on {OLD}", lambda: is_ready(pools.get(name)), 300)
    pool = pools.get(name)
    assert pool is not None
    emulator.admin("POST", "invariants", {
        "name": name, "selector": {"vmroll.io_pool-uid": pool["metadata"]["uid"]},
        "maxOwned": args.replicas + args.max_surge,
        "minAvailable": args.replicas - args.max_unavailable, "replicas": args.replicas,
    })  # fmt: skip
    before = emulator.requests()
    manifest["spec"]["image"]["marketplace"]["version"] = NEW
    started = time.monotonic()
    apply(dev, manifest, workdir)

    def done() -> bool:
        return converged(pools, emulator, name, args.replicas)

    try:
        if storm is not None:
            storm(done)
        ended = wait_until(f"{name} on {NEW}", done, CONVERGE_TIMEOUT_SECONDS, interval=0.5)
    except (TimeoutError, NotConverging):
        print(f"  {name} did not converge: {conditions_line(pools.get(name))}", flush=True)
        raise
    delta = emulator.requests() - before
    watch = next(w for w in emulator.admin("GET", "invariants")["watches"] if w["name"] == name)
    attempts = sum(delta.total(op) for op in WRITES)
    carried = sum(
        n for op in WRITES for status, n in delta.by_operation.get(op, {}).items()
        if status == "0" or status.startswith("2")
    )  # fmt: skip
    return {
        "seconds": ended - started, "attempts": attempts / args.replicas,
        "carried": carried / args.replicas, "watch": watch, "requests": delta,
        "injected": emulator.injected(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--max-surge", type=int, default=2)
    parser.add_argument("--max-unavailable", type=int, default=0)
    parser.add_argument("--strategy", default="RollingReplace")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    print(f"chaos benchmark, {source_version()}, seed {seed}; {load_average()}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="vmroll-chaos-"))
    with bench_stack(run_operator=False) as dev:
        assert dev.control_plane is not None, "the benchmark restarts its own control plane"
        control_plane = dev.control_plane
        emulator = ChaosEmulator(workdir)
        install_account(dev, emulator, workdir)
        operator = OperatorProcess(dev)
        pools = Pools(dev.kubeconfig)
        done_log: list[str] = []
        try:
            calm = rollout(dev, pools, emulator, args, "calm", workdir, None)
            print(f"calm rollout: {calm['seconds']:.1f}s", flush=True)
            pools.delete("calm")
            wait_until("the calm pool gone", lambda: pools.get("calm") is None, 300, 0.5)

            def storm(finished: Callable[[], bool]) -> None:
                emulator.with_faults({"seed": seed, "rules": list(CHAOS_RULES)})
                plan: list[str] = ["kill"] * args.kills
                half = max(1, args.kills // 2)
                for action in rng.sample(["apiserver", "emulator"], 2):
                    plan.insert(rng.randrange(half), action)
                for action in plan:
                    time.sleep(rng.uniform(2, 8))
                    during = not finished()
                    if action == "kill":
                        operator.kill(rng)
                    elif action == "apiserver":
                        control_plane.restart_apiserver()
                    else:
                        emulator.restart()
                    operator.revive()
                    done_log.append(f"{action}{'' if during else ' (after convergence)'}")

            chaos = rollout(dev, pools, emulator, args, "storm", workdir, storm)
            emulator.with_faults({"seed": seed, "rules": []})
        finally:
            operator.stop()
            emulator.stop()
    print_figures(args, seed, calm, chaos, done_log, operator)


def print_figures(
    args: argparse.Namespace,
    seed: int,
    calm: dict[str, Any],
    chaos: dict[str, Any],
    done_log: list[str],
    operator: OperatorProcess,
) -> None:
    during = [line for line in done_log if "after" not in line]
    violations = len(chaos["watch"]["violations"]) + len(chaos["watch"]["unownedWrites"])
    print(f"\n{args.strategy}, {args.replicas} VMs, maxSurge {args.max_surge}, "
          f"maxUnavailable {args.max_unavailable}, seed {seed}")  # fmt: skip
    print(f"{'':<44} {'calm':>10} {'chaos':>10} {'x':>6}")
    for label, key in (("time to converge (s)", "seconds"),
                       ("ARM write requests per VM rolled", "attempts"),
                       ("ARM writes carried out per VM rolled", "carried")):  # fmt: skip
        ratio = chaos[key] / calm[key] if calm[key] else float("nan")
        print(f"{label:<44} {calm[key]:>10.2f} {chaos[key]:>10.2f} {ratio:>6.2f}")
    print(f"operator SIGKILLs survived: {operator.kills} ({sum(1 for x in during if x == 'kill')} "
          f"before convergence); exits on its own: {operator.exits}")  # fmt: skip
    print(f"restarts: {[x for x in done_log if not x.startswith('kill')]}")
    print(f"ARM faults injected during the chaos rollout: {chaos['injected']}")
    print(f"peak owned {chaos['watch']['peakOwned']} (bound {args.replicas + args.max_surge}), "
          f"fewest available {chaos['watch']['minAvailable']} "
          f"(floor {args.replicas - args.max_unavailable}); calm: peak "
          f"{calm['watch']['peakOwned']}, fewest {calm['watch']['minAvailable']}")  # fmt: skip
    print(f"invariant violations: {violations}")
    if violations:
        print(json.dumps(chaos["watch"], indent=1))
    print("chaos rollout's ARM requests:")
    print("\n".join(chaos["requests"].lines()))


if __name__ == "__main__":
    main()
