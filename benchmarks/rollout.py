"""Issue 5's figures: a pinned version bump on a 30-VM pool with `maxSurge: 5`, at the emulator's
default latencies: wall time against the ideal critical path, ARM writes per VM rolled, and the
surge and availability bounds as Azure (the emulator) saw them.

Starts the stack as users run it (`DevStack`, `vmroll run` with its default flags) with the
built-in catalog changed in one way only: the westeurope quotas are raised so that
`replicas + maxSurge` Standard_D2s_v5 VMs fit (35 x 2 vCPUs exceed the built-in DSv5 quota of
64); latencies and `timeScale` stay the built-in ones. For each strategy and run: a fresh pool
from examples/local/pool.yaml, pinned to OLD, is applied and waited Ready; then the spec is
patched to NEW (`kubectl patch`), and the rollout's wall time runs from the patch to the first
poll at which the pool is Ready=True for its new generation, `updatedReplicas` equals
`replicas`, and the emulator holds exactly `replicas` Succeeded VMs on NEW. The emulator
(`GET /_emulator/vms`) and the pool are polled every 0.25 s: the most VMs of the pool in
existence (any provisioning state, deleting ones included) and the fewest available (Succeeded,
running, healthy) are recorded, and, whenever an available VM is taken down, how many had been
available for minReadySeconds then (the floor applies to those: see `Watch`), and when the pool
first said Ready with every replica updated (earlier than the emulator agrees: reported early).
ARM writes = write requests (PUT, PATCH, DELETE, POST actions; any status) the emulator counted
between the patch and the end, divided by `replicas`; every request of the last run is listed
by operation. `--timeline` prints, for every run, each change
in the pool's VMs as the emulator showed them (provisioning state x old/new version).

The ideal critical path uses only Azure's times (catalog latency x timeScale) and
minReadySeconds, as if the operator reacted instantly: with maxUnavailable 0 a batch of
maxSurge new VMs must be created and stay ready minReadySeconds before as many old ones are
deleted, and a deleting VM still exists, so the next batch starts when the deletes finish:
    RollingReplace: ceil(N / surge) x (create + minReady + delete)
    RollingReimage: create + minReady + ceil(N / surge) x (reimage + minReady) + delete
(RollingReimage with maxUnavailable 0 first creates `surge` temporary VMs as headroom, reimages
old VMs `surge` at a time, then removes the headroom.) A cadence-adjusted estimate adds what
the operator's loop costs at each step by construction: the operator learns that an operation
ended at its next LRO poll, up to the emulator's `Retry-After` later. The loop itself adds no
pause on the path: it passes again at once when operations end and when the first ready VM
reaches minReadySeconds (`vmroll.reconcile.pool_pass.PoolPass`, `Outcome.after`). The time a
pass itself takes is not included.

    .venv/bin/python benchmarks/rollout.py [--replicas 30] [--max-surge 5] [--runs 3]
        [--strategy RollingReplace --strategy RollingReimage]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from _stack import (
    NAMESPACE,
    Emulator,
    Pools,
    Requests,
    apply,
    bench_stack,
    conditions_line,
    count_states,
    delete_and_wait,
    is_ready,
    load_average,
    memory_mib,
    operator_pid,
    pool_manifest,
    pool_vms,
    source_version,
    wait_operator_up,
    wait_until,
)

from vmroll.devstack.stack import DevStack
from vmroll.emulator.catalog import Catalog, default_catalog_data, parse_catalog

OLD, NEW = "24.04.202609160", "24.04.202610220"
POLL_SECONDS = 0.25
CREATE_TIMEOUT_SECONDS = 300.0
RAISED_QUOTA_VCPUS = 1000


@dataclass(frozen=True)
class Settings:
    replicas: int
    surge: int
    unavailable: int
    min_ready: float
    timeout: float


@dataclass(frozen=True)
class Rollout:
    strategy: str
    seconds: float
    requests: Requests
    watch: Watch
    completed: bool
    note: str


def bench_catalog(directory: Path) -> tuple[Path, Catalog]:
    """The built-in catalog with quotas large enough for replicas + surge; nothing else changed."""
    data = default_catalog_data()
    for subscription in data["subscriptions"]:
        for quota in subscription.get("quotas", {}).values():
            quota["totalRegionalCores"] = RAISED_QUOTA_VCPUS
            quota["families"] = {family: RAISED_QUOTA_VCPUS for family in quota.get("families", {})}
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, parse_catalog(data, str(path))


def critical_path(strategy: str, settings: Settings, catalog: Catalog) -> tuple[float, float, str]:
    """(ideal seconds, cadence-adjusted seconds, the formula with its inputs)."""
    scale = catalog.time_scale
    create = catalog.latencies.create * scale
    delete = catalog.latencies.delete * scale
    reimage = catalog.latencies.reimage * scale
    batches = math.ceil(settings.replicas / settings.surge)
    poll = float(catalog.lro_retry_after_seconds)
    ready = settings.min_ready
    inputs = (
        f"create {catalog.latencies.create:g}s, delete {catalog.latencies.delete:g}s, reimage "
        f"{catalog.latencies.reimage:g}s x timeScale {scale:g} = {create:g}s, {delete:g}s, "
        f"{reimage:g}s; minReady {ready:g}s; batches ceil({settings.replicas}/{settings.surge}) "
        f"= {batches}; cadence: + LRO Retry-After {poll:g}s per operation on the path"
    )
    if strategy == "RollingReplace":
        ideal = batches * (create + ready + delete)
        adjusted = ideal + batches * 2 * poll
        formula = "batches x (create + minReady + delete)"
    else:
        ideal = create + ready + batches * (reimage + ready) + delete
        adjusted = ideal + (batches + 2) * poll
        formula = "create + minReady + batches x (reimage + minReady) + delete"
    return ideal, adjusted, f"{formula}; {inputs}"


def available(vm: dict[str, Any]) -> bool:
    return bool(vm["provisioningState"] == "Succeeded" and vm["healthy"])


def on_new(vm: dict[str, Any]) -> bool:
    return available(vm) and vm["exactVersion"] == NEW


@dataclass
class Watch:
    """What the emulator showed during one rollout, poll by poll.

    `seasoned_at_disruption` checks minReadySeconds from Azure's side: whenever a VM that was
    available is seen taken down (deleting, reimaging), how many VMs had then been available for
    at least minReadySeconds (less one poll interval, the resolution of these observations).
    With maxUnavailable 0 that must never be below `replicas`.
    """

    min_ready: float
    started: float
    most: int = 0
    fewest: int | None = None
    seasoned_at_disruption: int | None = None
    azure_done: float | None = None
    """When the emulator first held exactly `replicas` available VMs, all on NEW."""
    reported_done: float | None = None
    """When the pool first said Ready with every replica updated (before `azure_done`: early)."""
    timeline: list[str] = field(default_factory=list)
    available_since: dict[str, float] = field(default_factory=dict)

    def see(self, vms: list[dict[str, Any]], now: float) -> None:
        self.most = max(self.most, len(vms))
        up = {vm["name"] for vm in vms if available(vm)}
        self.fewest = min(len(up), self.fewest if self.fewest is not None else len(up))
        present = {vm["name"] for vm in vms}
        taken_down = (set(self.available_since) & present) - up
        for name in set(self.available_since) - up:
            del self.available_since[name]
        for name in up:
            self.available_since.setdefault(name, now)
        if taken_down:
            seasoned = sum(
                now - since >= self.min_ready - POLL_SECONDS
                for since in self.available_since.values()
            )
            previous = self.seasoned_at_disruption
            self.seasoned_at_disruption = seasoned if previous is None else min(previous, seasoned)
        states = Counter(
            f"{vm['provisioningState']}/{'new' if vm['exactVersion'] == NEW else 'old'}"
            for vm in vms
        )
        line = ", ".join(f"{key} {count}" for key, count in sorted(states.items()))
        if not self.timeline or not self.timeline[-1].endswith(f"| {line}"):
            self.timeline.append(f"{now - self.started:6.1f}s | {line}")


def create_pool(dev: DevStack, pools: Pools, manifest: dict[str, Any], workdir: Path) -> str:
    """Apply the pool at OLD and wait Ready; its UID."""
    name = manifest["metadata"]["name"]
    apply(dev, manifest, workdir)
    try:
        wait_until(f"pool {name} Ready", lambda: is_ready(pools.get(name)), CREATE_TIMEOUT_SECONDS)
    except TimeoutError as error:
        raise SystemExit(f"{error}; conditions: {conditions_line(pools.get(name))}") from None
    pool = pools.get(name)
    assert pool is not None
    uid: str = pool["metadata"]["uid"]
    return uid


def roll(
    dev: DevStack,
    pools: Pools,
    emulator: Emulator,
    strategy: str,
    settings: Settings,
    name: str,
    workdir: Path,
) -> Rollout:
    manifest = pool_manifest(
        name,
        settings.replicas,
        version=OLD,
        strategy={
            "type": strategy,
            "rollingUpdate": {"maxSurge": settings.surge, "maxUnavailable": settings.unavailable},
            "minReadySeconds": int(settings.min_ready),
            "progressDeadlineSeconds": int(settings.timeout),
        },
    )
    uid = create_pool(dev, pools, manifest, workdir)
    time.sleep(2 * POLL_SECONDS)
    before = emulator.requests()
    patch = {"spec": {"image": {"marketplace": {"version": NEW}}}}
    started = time.monotonic()
    dev.kubectl_run(
        "patch", "vmpool", name, "-n", NAMESPACE, "--type=merge", "-p", json.dumps(patch)
    )
    watch = Watch(settings.min_ready, started)
    deadline = started + settings.timeout
    completed, note = False, ""
    while time.monotonic() < deadline:
        vms = pool_vms(emulator.vms(), uid)
        pool = pools.get(name)
        now = time.monotonic()
        watch.see(vms, now)
        status = (pool or {}).get("status") or {}
        reported = is_ready(pool) and status.get("updatedReplicas") == settings.replicas
        if reported:
            watch.reported_done = watch.reported_done or now - started
        if len(vms) == settings.replicas and all(on_new(vm) for vm in vms):
            watch.azure_done = watch.azure_done or now - started
            if reported:
                completed = True
                break
        time.sleep(POLL_SECONDS)
    else:
        vms = pool_vms(emulator.vms(), uid)
        note = (
            f"not rolled after {settings.timeout:.0f}s: emulator {dict(count_states(vms))}; "
            f"conditions: {conditions_line(pools.get(name))}"
        )
    seconds = time.monotonic() - started
    return Rollout(strategy, seconds, emulator.requests() - before, watch, completed, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=30)
    parser.add_argument("--max-surge", type=int, default=5)
    parser.add_argument("--max-unavailable", type=int, default=0)
    parser.add_argument("--min-ready-seconds", type=float, default=5.0, help="as the example")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--strategy", action="append", choices=["RollingReplace", "RollingReimage"])
    parser.add_argument("--timeout", type=float, default=600.0, help="per rollout, seconds")
    parser.add_argument("--timeline", action="store_true", help="print each run's VM states")
    args = parser.parse_args()
    if args.max_unavailable != 0:
        parser.error("the critical path below is derived for maxUnavailable 0")
    strategies: list[str] = args.strategy or ["RollingReplace", "RollingReimage"]
    settings = Settings(
        args.replicas, args.max_surge, args.max_unavailable, args.min_ready_seconds, args.timeout
    )

    print(f"{source_version()}; {load_average()}")
    results: list[Rollout] = []
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        catalog_path, catalog = bench_catalog(workdir)
        with bench_stack(catalog_path) as dev:
            emulator, pools = Emulator(dev.credentials), Pools(dev.kubeconfig)
            wait_operator_up(pools)
            pid = operator_pid(dev)
            for strategy in strategies:
                for run in range(args.runs):
                    name = f"roll-{strategy.lower()}-{run}"
                    result = roll(dev, pools, emulator, strategy, settings, name, workdir)
                    results.append(result)
                    print(_line(result, settings), flush=True)
                    for line in result.watch.timeline if args.timeline else ():
                        print(f"    {line}")
                    if result.note:
                        print(f"  {result.note}", flush=True)
                    delete_and_wait(pools, emulator, name)
            memory = memory_mib(pid)
        load = load_average()

    print()
    print(f"{settings.replicas} VMs, maxSurge {settings.surge}, maxUnavailable "
          f"{settings.unavailable}, minReadySeconds {settings.min_ready:g}, {OLD} -> {NEW}; "
          f"{load}")  # fmt: skip
    for strategy in strategies:
        mine = [r for r in results if r.strategy == strategy]
        report(strategy, mine, settings, catalog)
    print(f"operator at the end: VmRSS {memory['VmRSS']:.0f} MiB, VmHWM {memory['VmHWM']:.0f} MiB")


def report(strategy: str, mine: list[Rollout], settings: Settings, catalog: Catalog) -> None:
    done = [r for r in mine if r.completed]
    ideal, adjusted, formula = critical_path(strategy, settings, catalog)
    print(f"{strategy}: {len(done)}/{len(mine)} rollouts completed")
    if done:
        wall = [r.seconds for r in done]
        median = statistics.median(wall)
        azure = statistics.median(r.watch.azure_done or r.seconds for r in done)
        reported = statistics.median(r.watch.reported_done or r.seconds for r in done)
        print(
            f"  wall time          min {min(wall):6.1f}s  median {median:6.1f}s  "
            f"(x{median / ideal:.2f} ideal, x{median / adjusted:.2f} cadence-adjusted); "
            f"medians: Azure side done {azure:.1f}s, Ready first {reported:.1f}s"
        )
    print(f"  ideal path         {ideal:6.1f}s   cadence-adjusted {adjusted:6.1f}s")
    print(f"    = {formula}")
    writes = statistics.median(r.requests.writes().arm_total() for r in mine) / settings.replicas
    requests = statistics.median(r.requests.arm_total() for r in mine) / settings.replicas
    print(
        f"  ARM writes / VM    median {writes:.2f}  (all ARM requests / VM median {requests:.1f})"
    )
    most = max(r.watch.most for r in mine)
    fewest = min(r.watch.fewest or 0 for r in mine)
    seasoned = [r.watch.seasoned_at_disruption for r in mine]
    floor = settings.replicas - settings.unavailable
    print(
        f"  most VMs seen      {most} (bound {settings.replicas + settings.surge}); fewest "
        f"available {fewest} (floor {floor}); fewest available >= minReadySeconds when a VM "
        f"was taken down: {min(s for s in seasoned if s is not None) if any(seasoned) else '-'}"
        f" (floor {floor})"
    )
    print("  requests of the last run (operation, total, by status):")
    for line in mine[-1].requests.lines():
        print(f"  {line}")


def _line(result: Rollout, settings: Settings) -> str:
    state = "done" if result.completed else "NOT DONE"
    watch = result.watch
    writes = result.requests.writes().arm_total()
    return (
        f"{result.strategy} {state} in {result.seconds:.1f}s (Azure side at "
        f"{watch.azure_done or 0:.1f}s, Ready first at {watch.reported_done or 0:.1f}s); "
        f"writes {writes} ({writes / settings.replicas:.2f}/VM); most VMs {watch.most}, "
        f"fewest available {watch.fewest}, at take-downs {watch.seasoned_at_disruption}"
    )


if __name__ == "__main__":
    main()
