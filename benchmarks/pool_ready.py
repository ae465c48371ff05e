"""Issue 4's figures: a 10-VM pool from `kubectl apply` to Ready, ARM requests per steady-state
pass, and the operator's memory, on the local stack at the emulator's default latencies.

Starts the stack as users run it (`DevStack`: control plane, `vmroll emulator serve` with its
built-in catalog, CRDs, the `emulator` AzureAccount, `vmroll run` with its default flags), then
`--runs` times applies examples/local/pool.yaml with `--replicas` VMs under a fresh name and
times `kubectl apply` -> Ready=True for the pool's generation (polled every 0.2 s), checking
that the emulator then holds that many Succeeded VMs. Every pool but the last is deleted (and
its VMs gone) before the next run.

Steady state: the last pool, once Ready, is left alone for about `--steady-seconds` (default
just over the operator's 600 s instance-view refresh, so that its amortized cost is in the
figure). Passes are counted by `VirtualMachines_List`: every pass of
`vmroll.reconcile.pool_pass.PoolPass` lists the resource group exactly once (after resolving the
image, before reading instance views), and nothing else lists it. The window opens on the
emulator's request counters (`GET /_emulator/requests`, polled every 0.25 s) right after a pass's
list and closes right after the first list once `--steady-seconds` have passed, so it holds
whole passes; their number is checked against the operator's pacing (a settled pool is passed
every `RunConfig.resync_seconds`, 60 s by default: `vmroll.handlers.pools._delay`). Requests per
pass = ARM requests in the window (the token endpoint excluded) / passes. Memory: VmRSS and
VmHWM of the `vmroll run` process from /proc/<pid>/status once the operator is up, after each
Ready and at the end of the steady window.

    .venv/bin/python benchmarks/pool_ready.py [--replicas 10] [--runs 3] [--steady-seconds 610]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _stack import (
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
from vmroll.emulator.catalog import default_catalog_data, parse_catalog
from vmroll.handlers.run_config import RunConfig
from vmroll.reconcile.inputs import PassSettings

READY_TIMEOUT_SECONDS = 300.0
LIST = "VirtualMachines_List"
SETTLE_SECONDS = 10.0
"""After Ready, how long before the steady window opens (the last progressing pass ends)."""


def time_to_ready(
    dev: DevStack, pools: Pools, emulator: Emulator, name: str, replicas: int, workdir: Path
) -> float:
    manifest = pool_manifest(name, replicas)
    started = time.monotonic()
    apply(dev, manifest, workdir)
    try:
        ready_at = wait_until(
            f"pool {name} Ready", lambda: is_ready(pools.get(name)), READY_TIMEOUT_SECONDS
        )
    except TimeoutError as error:
        raise SystemExit(f"{error}; conditions: {conditions_line(pools.get(name))}") from None
    pool = pools.get(name)
    assert pool is not None
    vms = pool_vms(emulator.vms(), pool["metadata"]["uid"])
    states = count_states(vms)
    if len(vms) != replicas or any(not key.startswith("Succeeded/") for key in states):
        raise SystemExit(f"pool {name} Ready but the emulator holds {dict(states)}")
    return ready_at - started


def after_next_pass(emulator: Emulator, resync: float) -> Requests:
    """The counters just after the operator's next pass listed the resource group."""
    listed = emulator.requests().total(LIST)
    deadline = time.monotonic() + 2 * resync
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = emulator.requests()
        if now.total(LIST) > listed:
            return now
    raise SystemExit(f"no pass in {2 * resync:.0f}s: the operator stopped passing the pool")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steady-seconds", type=float, default=610.0)
    args = parser.parse_args()
    resync = RunConfig().resync_seconds
    refresh = PassSettings().runtime_refresh

    print(f"{source_version()}; {load_average()}")
    with bench_stack() as dev, tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        emulator, pools = Emulator(dev.credentials), Pools(dev.kubeconfig)
        pid = operator_pid(dev)
        wait_operator_up(pools)
        idle = memory_mib(pid)
        print(f"operator pid {pid}, account Ready, no pool yet: {_memory(pid)}")
        durations: list[float] = []
        rss_after_ready: list[float] = []
        name = ""
        for run in range(args.runs):
            if name:
                delete_and_wait(pools, emulator, name)
            name = f"ready-{run}"
            durations.append(time_to_ready(dev, pools, emulator, name, args.replicas, workdir))
            rss_after_ready.append(memory_mib(pid)["VmRSS"])
            print(f"run {run + 1}: apply -> Ready {durations[-1]:.2f}s, {_memory(pid)}", flush=True)

        time.sleep(SETTLE_SECONDS)
        before = after_next_pass(emulator, resync)
        opened = time.monotonic()
        time.sleep(args.steady_seconds)
        window = (after_next_pass(emulator, resync) - before, time.monotonic() - opened)
        steady_memory = memory_mib(pid)
        throttled = emulator.throttled_by_policy()
        load = load_average()

    delta, seconds = window
    passes = delta.total(LIST)
    catalog = parse_catalog(default_catalog_data(), "built-in catalog")
    create = catalog.latencies.create * catalog.time_scale
    min_ready = float(pool_manifest("any", 1)["spec"]["strategy"]["minReadySeconds"])
    print()
    print(f"{args.replicas}-VM pool, built-in catalog, {args.runs} runs; {load}")
    print(
        f"{'apply -> Ready':<34} min {min(durations):6.2f}s  median "
        f"{statistics.median(durations):6.2f}s  max {max(durations):6.2f}s"
    )
    print(
        f"{'  ideal (create + minReady)':<34} {create + min_ready:6.2f}s = "
        f"{catalog.latencies.create:g}s x timeScale {catalog.time_scale:g} + {min_ready:g}s"
    )
    print(
        f"{'steady window':<34} {seconds:.0f}s, {passes} passes counted "
        f"(one VirtualMachines_List each; pacing predicts {seconds / resync:.1f})"
    )
    if passes:
        print(
            f"{'ARM requests per steady pass':<34} {delta.arm_total() / passes:.2f} "
            f"({delta.arm_total()} ARM requests / {passes} passes; token requests "
            f"{delta.total('Identity_Token')}, not counted)"
        )
    print(
        f"  (of which instance views, re-read every {refresh:.0f}s per VM: "
        f"{args.replicas * resync / refresh:.2f}/pass expected in a window that long)"
    )
    print("requests in the steady window (operation, total, by status):")
    for line in delta.lines():
        print(line)
    print(f"{'429s served in the whole run':<34} {throttled or 'none'} (by throttling policy)")
    print(f"{'operator RSS, up, no pool':<34} VmRSS {idle['VmRSS']:.0f} MiB")
    print(f"{'operator RSS after Ready':<34} median {statistics.median(rss_after_ready):.0f} MiB")
    print(
        f"{'operator at end of steady window':<34} VmRSS {steady_memory['VmRSS']:.0f} MiB, "
        f"VmHWM (peak) {steady_memory['VmHWM']:.0f} MiB"
    )


def _memory(pid: int) -> str:
    found = memory_mib(pid)
    return f"VmRSS {found['VmRSS']:.0f} MiB, VmHWM {found['VmHWM']:.0f} MiB"


if __name__ == "__main__":
    main()
