"""How fast `vmroll devcluster up` gets a ready control plane from cached binaries, and its cost.

Runs the command as a user would (a subprocess, in a throwaway state directory) several times
and prints the wall time from command to ready (min / median), the time `down` takes, the
resident memory of etcd and kube-apiserver once ready, and the versions of the binaries.

    .venv/bin/python benchmarks/devcluster_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vmroll.devcluster import ensure_binaries
from vmroll.devcluster.versions import ETCD, KUBE_APISERVER, KUBECTL

VMROLL = [sys.executable, "-m", "vmroll.cli", "devcluster"]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def versions(bin_dir: Path) -> dict[str, str]:
    def first_line(*argv: str) -> str:
        output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        return output.strip().splitlines()[0]

    return {
        ETCD: first_line(str(bin_dir / ETCD), "--version"),
        KUBE_APISERVER: first_line(str(bin_dir / KUBE_APISERVER), "--version"),
        KUBECTL: first_line(str(bin_dir / KUBECTL), "version", "--client"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs

    binaries = ensure_binaries()
    for name, version in versions(binaries.bin_dir).items():
        print(f"{name:15} {version}")

    starts: list[float] = []
    stops: list[float] = []
    memory: dict[str, list[float]] = {ETCD: [], KUBE_APISERVER: []}
    with tempfile.TemporaryDirectory(prefix="vmroll-bench-") as state:
        env = {**os.environ, "VMROLL_STATE_DIR": state}
        for _ in range(runs):
            starts.append(run([*VMROLL, "up", "--name", "bench"], env))
            for binary, samples in memory.items():
                pid = int((Path(state) / "bench" / f"{binary}.pid").read_text())
                samples.append(rss_mib(pid))
            stops.append(run([*VMROLL, "down", "--name", "bench"], env))

    print(f"runs: {runs} on {os.cpu_count()} CPUs")
    print(f"up (command to ready): min {min(starts):.2f}s  median {statistics.median(starts):.2f}s")
    print(f"down:                  min {min(stops):.2f}s  median {statistics.median(stops):.2f}s")
    for binary, samples in memory.items():
        print(f"RSS once ready, {binary}: median {statistics.median(samples):.0f} MiB")


if __name__ == "__main__":
    main()
