"""Capture-to-rolled time (issue 10) on the built-in catalog: from an ImageCapture applied to
the pool that follows its definition at `latest` having every VM on the captured version.

Starts the local stack as `vmroll dev` does (built-in catalog, timeScale 0.05: the copy takes
9 s, each region 15 s), then runs the README's walkthrough with its examples: the pool of
examples/local/pool-golden.yaml (`--replicas`) and the configured VM of
examples/local/configured-vm.yaml, both Ready; the VM's pool deleted (Retain leaves the VM); then
examples/local/capture.yaml applied with the VM filled in. From that instant it polls (every
0.2 s, through the Kubernetes API, no kubectl process per poll) the capture's status and the
pool's history, and prints when each capture phase was first seen, when each region's replica
completed, when the pool's rollout started and when it finished, with the ARM requests the
emulator served in each stretch by operation (the pool's own steady reads included, as they
would be in Azure). The pool notices a new `latest` at most once per `checkInterval` (1m, the
least allowed), which the gap between the westeurope replica and the rollout's start shows.

    .venv/bin/python benchmarks/capture_rollout.py [--replicas 3] [--max-surge 1] [--runs 1]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from _stack import (
    REPO,
    Emulator,
    Pools,
    Requests,
    apply_until_admitted,
    bench_stack,
    is_ready,
    load_average,
    source_version,
    wait_operator_up,
    wait_until,
)
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from vmroll.api.base import GROUP, VERSION
from vmroll.api.capture import PLURAL as CAPTURE_PLURAL
from vmroll.devstack.stack import DevStack

LOCAL = REPO / "examples" / "local"
NAMESPACE = "default"
POOL = "web-golden"


@dataclass
class Timeline:
    """What was first seen when, in seconds after the capture was applied."""

    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, what: str, at: float) -> None:
        self.marks.setdefault(what, at)


class Captures:
    def __init__(self, kubeconfig: Path) -> None:
        api_client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        self._api = client.CustomObjectsApi(api_client)

    def get(self, name: str) -> dict[str, Any]:
        try:
            found = self._api.get_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, CAPTURE_PLURAL, name
            )
        except ApiException as error:
            if error.status == 404:
                return {}
            raise
        assert isinstance(found, dict)
        return found


def write(document: dict[str, Any], workdir: Path, name: str) -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump_all([document], sort_keys=False))
    return path


def configured_vm(dev: DevStack, pools: Pools, workdir: Path, run: int) -> str:
    """A configured VM as the walkthrough makes one: a one-VM Retain pool, deleted."""
    config_map, pool = yaml.safe_load_all((LOCAL / "configured-vm.yaml").read_text())
    name = f"configured-{run}"
    pool["metadata"]["name"] = name
    dev.kubectl_run("apply", "-f", str(write(config_map, workdir, "cloud-init.yaml")))
    apply_until_admitted(dev, write(pool, workdir, f"{name}.yaml"), seconds=60)
    wait_until(f"pool {name} Ready", lambda: is_ready(pools.get(name)), 300)
    found = pools.get(name)
    assert found is not None
    vm: str = found["status"]["instances"][0]["name"]
    pools.delete(name)
    wait_until(f"pool {name} gone", lambda: pools.get(name) is None, 120)
    return vm


def capture_and_roll(
    dev: DevStack, pools: Pools, captures: Captures, emulator: Emulator, vm: str, run: int,
    workdir: Path, timeout: float,
) -> tuple[Timeline, str, list[Requests]]:  # fmt: skip
    """Apply the capture; poll until the pool has rolled onto its version."""
    document = yaml.safe_load((LOCAL / "capture.yaml").read_text().replace("CONFIGURED_VM", vm))
    name = f"golden-{run}"
    document["metadata"]["name"] = name
    path = write(document, workdir, f"{name}.yaml")
    snapshots = [emulator.requests()]
    started = time.monotonic()
    apply_until_admitted(dev, path, seconds=60)
    timeline = Timeline()
    version = ""
    while True:
        now = time.monotonic() - started
        if now > timeout:
            raise TimeoutError(f"{name}: the pool did not roll within {timeout:.0f}s: {timeline}")
        status = captures.get(name).get("status") or {}
        version = status.get("version") or version
        if status.get("phase"):
            timeline.mark(f"capture {status['phase']}", now)
        for region in status.get("regions") or []:
            if region.get("state") == "Completed":
                timeline.mark(f"replica {region['name']} Completed", now)
        if is_ready(captures.get(name)) and "capture Ready" not in timeline.marks:
            timeline.mark("capture Ready", now)
            snapshots.append(emulator.requests())
        history = ((pools.get(POOL) or {}).get("status") or {}).get("history") or []
        newest = history[0] if history else {}
        if version and newest.get("imageVersion") == version:
            timeline.mark("pool rollout started", now)
            if newest.get("outcome") == "Succeeded":
                timeline.mark("pool rolled", now)
                snapshots.append(emulator.requests())
                return timeline, version, snapshots
        time.sleep(0.2)


def report(
    timeline: Timeline, version: str, snapshots: list[Requests], replicas: int, location: str
) -> None:
    print(f"captured {version}; {replicas} VMs rolled onto it (seconds after the apply):")
    for what, at in sorted(timeline.marks.items(), key=lambda item: item[1]):
        print(f"  {at:7.1f}  {what}")
    marks = timeline.marks
    replicas_done = {
        what.removeprefix("replica ").removesuffix(" Completed").replace(" ", "").lower(): at
        for what, at in marks.items()
        if what.startswith("replica ")
    }
    started, rolled = marks["pool rollout started"], marks["pool rolled"]
    print(
        f"  capture Ready {marks['capture Ready']:.1f}s; the pool's rollout started at "
        f"{started:.1f}s ({started - replicas_done[location]:+.1f}s from its region's replica, "
        f"{started - max(replicas_done.values()):+.1f}s from the last one: vmroll takes a "
        "version as usable once its provisioningState is Succeeded, which the emulator "
        f"reports when the last region has replicated) and took {rolled - started:.1f}s: "
        f"capture-to-rolled {rolled:.1f}s"
    )
    stretches = ("apply -> capture Ready", "capture Ready -> pool rolled")
    for label, (before, after) in zip(stretches, itertools.pairwise(snapshots), strict=True):
        delta = after - before
        print(f"  ARM requests, {label}: {delta.arm_total()}")
        for line in delta.lines():
            print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--max-surge", type=int, default=1, help="1 as the example")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="per run, seconds")
    args = parser.parse_args()

    print(f"{source_version()}; {load_average()}")
    with tempfile.TemporaryDirectory() as temporary, bench_stack() as dev:
        workdir = Path(temporary)
        emulator, pools, captures = (
            Emulator(dev.credentials),
            Pools(dev.kubeconfig),
            Captures(dev.kubeconfig),
        )
        wait_operator_up(pools)
        pool = yaml.safe_load((LOCAL / "pool-golden.yaml").read_text())
        pool["spec"]["replicas"] = args.replicas
        pool["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = args.max_surge
        apply_until_admitted(dev, write(pool, workdir, "pool.yaml"), seconds=60)
        wait_until("the golden pool Ready", lambda: is_ready(pools.get(POOL)), 300)
        for run in range(args.runs):
            vm = configured_vm(dev, pools, workdir, run)
            timeline, version, snapshots = capture_and_roll(
                dev, pools, captures, emulator, vm, run, workdir, args.timeout
            )
            report(timeline, version, snapshots, args.replicas, pool["spec"]["location"])
            print(f"  {load_average()}", flush=True)


if __name__ == "__main__":
    main()
