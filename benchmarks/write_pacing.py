"""Issue 12 item 2's figure: P pools of R VMs applied at once in one resource group, time until
every pool is Ready, against the ideal set by Azure's write buckets, and the 429s Azure served.

The local stack as users run it (`DevStack`, `vmroll run` with its default flags), on the built-in
catalog with one change: the westeurope quotas raised so that P x R Standard_D2s_v5 VMs fit. The
emulator enforces ARM's and Compute's throttling with Azure's numbers (its defaults). All pools
are applied with one `kubectl apply` (repeated for those a timed-out admission webhook refused,
on a loaded machine); the clock starts before it and stops when the last pool is
Ready (polled every second), each pool's Ready time printed as it comes.

The ideal: ARM's writes bucket (200, refilled 10 a second) lets the first 200 creates go at once
and the rest at 10 a second, Compute's Put VM (1,500 at 500 a minute) does not bind below 1,500;
then one create's latency (catalog latency x timeScale) and the pool's minReadySeconds.

    .venv/bin/python benchmarks/write_pacing.py [--pools 50] [--replicas 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml
from _stack import (
    Emulator,
    Pools,
    apply_until_admitted,
    bench_stack,
    is_ready,
    load_average,
    pool_manifest,
    source_version,
    wait_operator_up,
)

from vmroll.emulator.catalog import default_catalog_data, parse_catalog

TIMEOUT_SECONDS = 1800.0
APPLY_SECONDS = 600.0
ARM_WRITES, ARM_REFILL = 200, 10.0


def bench_catalog(directory: Path, vcpus: int) -> Path:
    data = default_catalog_data()
    for subscription in data["subscriptions"]:
        for quota in subscription.get("quotas", {}).values():
            quota["totalRegionalCores"] = vcpus
            quota["families"] = {family: vcpus for family in quota.get("families", {})}
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=50)
    parser.add_argument("--replicas", type=int, default=10)
    args = parser.parse_args()
    vms = args.pools * args.replicas
    print(f"{source_version()}; {load_average()}")
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        catalog_path = bench_catalog(workdir, 4 * vms + 100)
        catalog = parse_catalog(yaml.safe_load(catalog_path.read_text()), str(catalog_path))
        with bench_stack(catalog_path) as dev:
            emulator, pools = Emulator(dev.credentials), Pools(dev.kubeconfig)
            wait_operator_up(pools)
            names = [f"fleet-{index:03d}" for index in range(args.pools)]
            manifests = [pool_manifest(name, args.replicas) for name in names]
            path = workdir / "fleet.yaml"
            path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
            before = emulator.requests()
            started = time.monotonic()
            apply_until_admitted(dev, path, seconds=APPLY_SECONDS)
            ready: dict[str, float] = {}
            while len(ready) < len(names):
                if time.monotonic() - started > TIMEOUT_SECONDS:
                    raise SystemExit(f"only {len(ready)} of {len(names)} pools Ready")
                time.sleep(1.0)
                for name in names:
                    if name not in ready and is_ready(pools.get(name)):
                        ready[name] = time.monotonic() - started
                        print(f"  {name} Ready at {ready[name]:.1f}s", flush=True)
            total = max(ready.values())
            served = emulator.requests() - before
            throttled = emulator.throttled_by_policy()
            load = load_average()
    create = catalog.latencies.create * catalog.time_scale
    min_ready = float(manifests[0]["spec"]["strategy"]["minReadySeconds"])
    ideal = max(0, vms - ARM_WRITES) / ARM_REFILL + create + min_ready
    creates = served.total("VirtualMachines_CreateOrUpdate")
    print(f"{args.pools} pools x {args.replicas} VMs: all Ready in {total:.1f}s")
    print(
        f"ideal {ideal:.1f}s ((VMs - {ARM_WRITES}) / {ARM_REFILL:g} per s + create {create:g}s "
        f"+ minReadySeconds {min_ready:g}s); ratio {total / ideal:.2f}"
    )
    print(f"first pool Ready at {min(ready.values()):.1f}s; creates sent {creates}")
    print(f"429s served: {sum(throttled.values())} {throttled}")
    print(f"load average at the end: {load}")


if __name__ == "__main__":
    main()
