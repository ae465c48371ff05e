"""Issue 12 item 3's figure: the resource group's lists per minute with N settled pools in it.

Starts the local stack as users run it (`DevStack`, `vmroll run` with its default flags: a
settled pool passes every 60 s) on the built-in catalog with its westeurope quotas raised to fit
the fleet (nothing else changed: a list page holds 50 VMs), applies `--pools` copies of
examples/local/pool.yaml with `--replicas` VMs each in the one resource group, waits until all
are Ready, lets them settle for `SETTLE_SECONDS`, then counts on the emulator's admin API
(`GET /_emulator/requests`) what the operator asks of ARM over `--steady-seconds`:
`VirtualMachines_List` requests (pages; Compute's High-cost get, 300 a minute per subscription
and region), the image lookups, the instance views, all ARM requests; and the operator's CPU
time over the window (/proc/<pid>/stat).

Run it from a checkout with that checkout's venv; to compare with another commit, run this file
with the other checkout's venv python (the operator measured is the one that python imports,
which the output names).

    .venv/bin/python benchmarks/shared_reads.py [--pools 30] [--replicas 1] [--steady-seconds 180]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from _stack import (
    Emulator,
    Pools,
    apply_until_admitted,
    bench_stack,
    conditions_line,
    cpu_seconds,
    is_ready,
    load_average,
    manifest_file,
    operator_pid,
    pool_manifest,
    wait_operator_up,
    wait_until,
)

import vmroll
from vmroll.emulator.catalog import default_catalog_data

READY_TIMEOUT_SECONDS = 600.0
SETTLE_SECONDS = 20.0
"""After all are Ready, how long before the window opens (the last progressing passes end)."""
LIST = "VirtualMachines_List"


def operator_source() -> str:
    """The checkout whose operator runs, and its commit."""
    checkout = Path(vmroll.__file__).resolve().parents[2]
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return f"{checkout} at commit {commit}"


def bench_catalog(directory: Path, vcpus: int) -> Path:
    """The built-in catalog with quotas for `vcpus` (Standard_D2s_v5: 2 a VM)."""
    data = default_catalog_data()
    for subscription in data["subscriptions"]:
        for quota in subscription.get("quotas", {}).values():
            raised = max(quota.get("totalRegionalCores", 0), vcpus)
            quota["totalRegionalCores"] = raised
            quota["families"] = {family: raised for family in quota.get("families", {})}
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=30)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--steady-seconds", type=float, default=180.0)
    args = parser.parse_args()
    print(f"operator: {operator_source()}; {load_average()}", flush=True)

    with (
        tempfile.TemporaryDirectory() as workdir,
        bench_stack(bench_catalog(Path(workdir), 2 * args.pools * args.replicas + 8)) as dev,
    ):
        pools = Pools(dev.kubeconfig)
        emulator = Emulator(dev.credentials)
        wait_operator_up(pools)
        names = [f"shared{n:03d}" for n in range(args.pools)]
        started = time.monotonic()
        for name in names:
            apply_until_admitted(
                dev, manifest_file(pool_manifest(name, args.replicas), Path(workdir)), seconds=60.0
            )
        for name in names:
            try:
                wait_until(f"pool {name} Ready", lambda n=name: is_ready(pools.get(n)),
                           READY_TIMEOUT_SECONDS, interval=1.0)  # fmt: skip
            except TimeoutError as error:
                raise SystemExit(f"{error}; {conditions_line(pools.get(name))}") from None
        print(f"{args.pools} pools x {args.replicas} VMs Ready in "
              f"{time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
        time.sleep(SETTLE_SECONDS)

        pid = operator_pid(dev)
        before, cpu_before, opened = emulator.requests(), cpu_seconds(pid), time.monotonic()
        time.sleep(args.steady_seconds)
        delta = emulator.requests() - before
        cpu = cpu_seconds(pid) - cpu_before
        minutes = (time.monotonic() - opened) / 60

        images = sum(
            delta.total(op) for op in delta.by_operation if op.startswith("VirtualMachineImages_")
        )
        print(f"steady window {minutes * 60:.0f} s, {args.pools} settled pools in one group, "
              f"{load_average()}:")  # fmt: skip
        print(f"  {LIST} per minute: {delta.total(LIST) / minutes:.1f}")
        print(f"  image lookups per minute: {images / minutes:.1f}")
        instance_views = delta.total("VirtualMachines_InstanceView")
        print(f"  instance views per minute: {instance_views / minutes:.1f}")
        print(f"  ARM requests per minute: {delta.arm_total() / minutes:.1f}")
        print(f"  operator CPU: {cpu:.1f} s in {minutes * 60:.0f} s")
        print("\n".join(delta.lines()))


if __name__ == "__main__":
    main()
