"""Issue 8 item 5's figures: how big a scrape of `vmroll run --metrics` is, in bytes and series,
for a pool of `--replicas` VMs, before, during and after a rollout.

Starts the local stack as users run it (`DevStack`, `vmroll run --metrics 127.0.0.1:<port>`),
scrapes `/metrics` once the operator is up with no pool, applies examples/local/pool.yaml pinned
to an older Ubuntu version with `--replicas` VMs, scrapes it Ready, bumps the version and scrapes
every 0.5 s during the rollout (the largest scrape is reported: two image versions and the surge
VMs are then in the labels) and once Ready again. Series are the sample lines of the text
exposition (histogram buckets included), counted with prometheus_client's parser; bytes are
the response body. The catalog is the built-in one made faster (`timeScale` 0.01).

    .venv/bin/python benchmarks/metrics_scrape.py [--replicas 10]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import yaml
from _stack import (
    Pools,
    apply,
    bench_stack,
    is_ready,
    pool_manifest,
    source_version,
    wait_operator_up,
    wait_until,
)
from prometheus_client.parser import text_string_to_metric_families

from vmroll.emulator.catalog import default_catalog_data

OLD, NEW = "24.04.202609160", "24.04.202610220"
TIME_SCALE = 0.01


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(url: str) -> tuple[int, int, Counter[str]]:
    """Body bytes, series, and series per metric family."""
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    families = Counter(
        {f.name: len(f.samples) for f in text_string_to_metric_families(body.decode())}
    )
    return len(body), sum(families.values()), families


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=10)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    rows: list[tuple[str, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="vmroll-bench-metrics-") as directory:
        workdir = Path(directory)
        data = default_catalog_data()
        data["timeScale"] = TIME_SCALE
        catalog = workdir / "catalog.yaml"
        catalog.write_text(yaml.safe_dump(data))
        with bench_stack(catalog, operator_args=["--metrics", f"127.0.0.1:{port}"]) as dev:
            pools = Pools(dev.kubeconfig)
            wait_operator_up(pools)
            size, series, _ = scrape(url)
            rows.append(("operator up, no pool", size, series))

            manifest = pool_manifest("metrics", args.replicas, version=OLD)
            apply(dev, manifest, workdir)
            wait_until("the pool Ready", lambda: is_ready(pools.get("metrics")), 300)
            wait_until("its figures", lambda: 'pool="metrics"' in _text(url), 60)
            size, series, _ = scrape(url)
            rows.append((f"{args.replicas} VMs Ready", size, series))

            manifest["spec"]["image"]["marketplace"]["version"] = NEW
            apply(dev, manifest, workdir)
            largest = (0, 0, Counter[str]())
            deadline = time.monotonic() + 600
            time.sleep(1)
            while not is_ready(pools.get("metrics")) and time.monotonic() < deadline:
                largest = max(largest, scrape(url), key=lambda s: s[0])
                time.sleep(0.5)
            rows.append(("largest during the rollout", largest[0], largest[1]))
            time.sleep(3)
            size, series, families = scrape(url)
            rows.append((f"{args.replicas} VMs Ready after the rollout", size, series))

    print(f"\nmetrics scrape, {source_version()}, pool of {args.replicas} VMs")
    print(f"| {'moment':<40} | {'bytes':>7} | {'series':>6} |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 8}|")
    for moment, size, series in rows:
        print(f"| {moment:<40} | {size:>7} | {series:>6} |")
    print("\nseries per family after the rollout:")
    for name, count in sorted(families.items()):
        print(f"  {name:<45} {count:>4}")


def _text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
        return text


if __name__ == "__main__":
    main()
