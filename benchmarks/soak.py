"""Issue 14 item 5's figures: does an operator that runs for weeks hold flat memory?

Starts the local stack as users run it (`DevStack`, `vmroll run --metrics 127.0.0.1:<port>`)
with the built-in catalog made faster (`timeScale` 0.01) and a second principal, then for
`--minutes` (default 60) churns what an operator accumulates state for:
- pools: in each cycle `--pools` pools (1 VM each) are created, waited for Ready, deleted and
  waited for gone, while one steady pool stays throughout;
- accounts: each cycle's pools use a fresh AzureAccount (a copy of the `emulator` account) that
  is deleted after them, so every cycle leaves a deleted account's connection behind;
- credentials: every `--rotate-seconds` the `emulator` account is switched to the other
  principal (client ID and the Secret it names), as an operator rotating a secret would do.
Every `--interval` seconds (default 60) it prints the operator process's VmRSS (from
/proc/<pid>/status), its open file descriptors (/proc/<pid>/fd) and what the operator reports
keeping (`vmroll_tracked_entries`: pool memories and locks, connections, SDK clients, image
resolutions, asyncio tasks). The summary gives the RSS slope (least squares, KiB/min) over the
second half of the run, after the warm-up, and the same for file descriptors.

    .venv/bin/python benchmarks/soak.py [--minutes 60] [--pools 3] [--rotate-seconds 120]
"""

from __future__ import annotations

import argparse
import base64
import copy
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from _stack import (
    Pools,
    apply,
    bench_stack,
    is_ready,
    load_average,
    operator_pid,
    pool_manifest,
    source_version,
    wait_operator_up,
    wait_until,
)
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from vmroll.api.account import PLURAL as ACCOUNT_PLURAL
from vmroll.api.base import GROUP, VERSION
from vmroll.devstack.manifests import ACCOUNT_NAME, SECRET_KEY, SECRET_NAME, SYSTEM_NAMESPACE
from vmroll.emulator.catalog import default_catalog_data

TIME_SCALE = 0.01
ROTATED = {
    "name": "vmroll-rotated",
    "clientId": "1b1e5c4e-0000-4000-8000-00000000c0f1",
    "objectId": "5f2c7f4e-0000-4000-8000-00000000b0f1",
    "clientSecret": "vmroll-rotated-secret",
}
ROTATED_SECRET = "azure-rotated-credentials"


@dataclass
class Sample:
    minute: float
    rss_kib: int
    fds: int
    tracked: dict[str, float]


@dataclass
class Churn:
    cycles: int = 0
    pools: int = 0
    accounts: int = 0
    rotations: int = 0
    failures: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def catalog_file(workdir: Path) -> Path:
    data = default_catalog_data()
    data["timeScale"] = TIME_SCALE
    data["principals"].append(ROTATED)
    subscription = data["subscriptions"][0]["id"]
    data["roleAssignments"].append(
        {
            "principal": ROTATED["name"],
            "role": "Contributor",
            "scope": f"/subscriptions/{subscription}",
        }
    )
    path = workdir / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "VmRSS":
            return int(value.split()[0])
    raise RuntimeError(f"no VmRSS for process {pid}")


def tracked(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == "vmroll_tracked_entries":
            return {s.labels["kind"]: s.value for s in family.samples}
    return {}


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points; 0 for fewer than two."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


class Cluster:
    """Accounts and Secrets, through the Kubernetes API from this process."""

    def __init__(self, kubeconfig: Path) -> None:
        api_client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        self.objects = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    def account(self, name: str) -> dict[str, Any] | None:
        try:
            found = self.objects.get_cluster_custom_object(GROUP, VERSION, ACCOUNT_PLURAL, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        assert isinstance(found, dict)
        return found

    def create_account(self, name: str, spec: dict[str, Any]) -> None:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AzureAccount",
                "metadata": {"name": name}, "spec": spec}  # fmt: skip
        self.objects.create_cluster_custom_object(GROUP, VERSION, ACCOUNT_PLURAL, body)

    def delete_account(self, name: str) -> None:
        self.objects.delete_cluster_custom_object(GROUP, VERSION, ACCOUNT_PLURAL, name)

    def patch_account_auth(self, client_id: str, secret_name: str) -> None:
        patch = {"spec": {"auth": {"clientSecret": {
            "clientId": client_id, "secretRef": {"name": secret_name}}}}}  # fmt: skip
        self.objects.patch_cluster_custom_object(
            GROUP, VERSION, ACCOUNT_PLURAL, ACCOUNT_NAME, patch
        )

    def create_secret(self, name: str, value: str) -> None:
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, namespace=SYSTEM_NAMESPACE),
            data={SECRET_KEY: base64.b64encode(value.encode()).decode()},
        )
        self.core.create_namespaced_secret(SYSTEM_NAMESPACE, body)

    def secret_client_id(self) -> str:
        account = self.account(ACCOUNT_NAME)
        assert account is not None
        client_id: str = account["spec"]["auth"]["clientSecret"]["clientId"]
        return client_id


def churn(
    dev: Any, pools: Pools, cluster: Cluster, args: argparse.Namespace, workdir: Path,
    deadline: float, counts: Churn,
) -> None:  # fmt: skip
    """Cycles of accounts and pools created and deleted, and rotations, until `deadline`."""
    template = cluster.account(ACCOUNT_NAME)
    assert template is not None
    spec = copy.deepcopy(template["spec"])
    original = (spec["auth"]["clientSecret"]["clientId"], SECRET_NAME)
    rotated = (ROTATED["clientId"], ROTATED_SECRET)
    next_rotation = time.monotonic() + args.rotate_seconds
    while time.monotonic() < deadline:
        cycle = counts.cycles
        account = f"soak-{cycle}"
        cluster.create_account(account, copy.deepcopy(spec))
        names = [f"soak-{cycle}-{i}" for i in range(args.pools)]
        for name in names:
            manifest = pool_manifest(name, 1)
            manifest["spec"]["accountRef"]["name"] = account
            apply(dev, manifest, workdir)
        try:
            for name in names:
                wait_until(f"pool {name} Ready", _ready(pools, name), 300, 1.0)
        except TimeoutError as error:
            counts.failures.append(str(error))
        for name in names:
            pools.delete(name)
        for name in names:
            wait_until(f"pool {name} gone", _gone(pools, name), 300, 1.0)
        cluster.delete_account(account)
        wait_until(f"account {account} gone", _account_gone(cluster, account), 120, 1.0)
        counts.cycles += 1
        counts.pools += len(names)
        counts.accounts += 1
        if time.monotonic() >= next_rotation:
            current = cluster.secret_client_id()
            target = rotated if current == original[0] else original
            cluster.patch_account_auth(*target)
            counts.rotations += 1
            next_rotation = time.monotonic() + args.rotate_seconds


def _ready(pools: Pools, name: str) -> Callable[[], bool]:
    return lambda: is_ready(pools.get(name))


def _gone(pools: Pools, name: str) -> Callable[[], bool]:
    return lambda: pools.get(name) is None


def _account_gone(cluster: Cluster, name: str) -> Callable[[], bool]:
    return lambda: cluster.account(name) is None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--pools", type=int, default=3, help="pools created per cycle")
    parser.add_argument("--rotate-seconds", type=float, default=120.0)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    samples: list[Sample] = []
    counts = Churn()
    with tempfile.TemporaryDirectory(prefix="vmroll-bench-soak-") as directory:
        workdir = Path(directory)
        catalog = catalog_file(workdir)
        with bench_stack(catalog, operator_args=["--metrics", f"127.0.0.1:{port}"]) as dev:
            pools = Pools(dev.kubeconfig)
            cluster = Cluster(dev.kubeconfig)
            wait_operator_up(pools)
            cluster.create_secret(ROTATED_SECRET, ROTATED["clientSecret"])
            apply(dev, pool_manifest("steady", 2), workdir)
            wait_until("the steady pool Ready", lambda: is_ready(pools.get("steady")), 300)
            pid = operator_pid(dev)
            started = time.monotonic()
            deadline = started + args.minutes * 60
            done = threading.Event()
            print(f"{'minute':>6} {'RSS KiB':>9} {'fds':>5}  tracked entries", flush=True)

            def sample() -> None:
                while True:
                    minute = (time.monotonic() - started) / 60
                    one = Sample(minute, rss_kib(pid), len(list(Path(f"/proc/{pid}/fd").iterdir())),
                                 tracked(url))  # fmt: skip
                    samples.append(one)
                    kinds = " ".join(f"{k}={v:g}" for k, v in sorted(one.tracked.items()))
                    churned = f"cycles {counts.cycles}, rotations {counts.rotations}"
                    print(f"{minute:6.1f} {one.rss_kib:9d} {one.fds:5d}  {kinds}  ({churned})",
                          flush=True)  # fmt: skip
                    if done.wait(args.interval):
                        return

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                churn(dev, pools, cluster, args, workdir, deadline, counts)
                time.sleep(max(0.0, deadline - time.monotonic()))
            finally:
                done.set()
                sampler.join()
            final = tracked(url)

    second_half = [s for s in samples if s.minute >= args.minutes / 2]
    rss_slope = slope([(s.minute, s.rss_kib) for s in second_half])
    fd_slope = slope([(s.minute, s.fds) for s in second_half])
    print(f"\nsoak, {source_version()}, {args.minutes:g} min, {load_average()}")
    print(f"churn: {counts.cycles} cycles, {counts.pools} pools and {counts.accounts} accounts "
          f"created and deleted, {counts.rotations} credential rotations")  # fmt: skip
    first, last = samples[0], samples[-1]
    print(f"RSS: {first.rss_kib} KiB at minute {first.minute:.1f}, {last.rss_kib} KiB at minute "
          f"{last.minute:.1f}, peak {max(s.rss_kib for s in samples)} KiB")  # fmt: skip
    print(f"RSS slope over the second half ({len(second_half)} samples): {rss_slope:+.1f} KiB/min")
    print(f"fds: {first.fds} -> {last.fds}, slope over the second half {fd_slope:+.2f}/min")
    print(f"tracked entries at the end: {final}")
    for failure in counts.failures:
        print(f"not Ready in time: {failure}")


if __name__ == "__main__":
    main()
