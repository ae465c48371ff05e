"""Operator CPU per VM instance view read, through the operator's own path, without Kubernetes.

Issue 12: at 1,000 pools x 10 VMs every healthy VM's view is read again every 600 s, ~17 a
second, and each one cost ~3 ms of operator CPU. This script isolates that cost. It starts
`vmroll emulator serve` as a process (its CPU is not ours: only this process's is counted), the
built-in catalog with creates made instant and ARM's buckets and Compute's per-VM Get limit
raised (a VM's view is read `--rounds` times in seconds here, not once per 600 s); the
operator's own read pacer still paces its reads at ARM's 25 a second, as in production. It
creates `--pools` x 10 VMs with the SDK, then reads their instance views `--rounds` times
the way a pool's pass does (`operator/vmroll/reconcile/pool_pass.py` `_read_runtimes`): per
pool, `runtimes_due` over its memory, a read allowance taken, `ComputeGateway.get_vm_runtime`
on a gateway borrowed from `AzureGateways` (the clients, credential, transport and request
policies the operator builds, reporting to `OperatorMetrics`), the runtime kept. A pool's pass
starts every 10 / `--rate` seconds: 17 views a second by default, 10,000 VMs' views every 600 s,
below ARM's refill, as at 1,000 x 10 at rest (a higher rate makes the reads wait for the
pacer). Each round is 600 s later on the pools' clock, from one of the refresh moments on, so
that every view is due.

Prints the process CPU (`time.process_time`, user + system, every thread) per view over the
reads alone, the wall time, and with `--profile` a cProfile of the reads: the top entries by
cumulative time and by own time, timed by the process's CPU (not wall time, which a loaded
machine inflates). Then, as the floor
that is not the operator's to cut, the CPU of the same GETs sent with aiohttp alone, asked for
at the same rate (one session, the same TLS context and bearer token, the body read and decoded
as JSON): TLS, HTTP, the event loop's wake-ups and the loopback's kernel work.

    PYTHONPATH=operator .venv/bin/python benchmarks/instance_views.py [--pools 20] [--rounds 2]
        [--rate 17] [--profile] [--top 30]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import math
import pstats
import ssl
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from _emulator_process import serve_emulator, vm_body
from _stack import load_average, source_version
from azure.mgmt.compute.operations._operations import build_virtual_machines_instance_view_request

import vmroll
from vmroll.azure import AzureGateways, ComputeGateway
from vmroll.azure.clients import ClientOptions
from vmroll.azure.credentials import build_credential
from vmroll.azure.settings import (
    AccountConnection,
    AzureEndpoint,
    CaBundleFile,
    ServicePrincipalSecret,
)
from vmroll.azure.vms import PoolVm
from vmroll.emulator.catalog import default_catalog_data
from vmroll.metrics.registry import OperatorMetrics
from vmroll.plan.view_refresh import RefreshSchedule
from vmroll.reconcile.memory import PoolMemory, SeenRuntime
from vmroll.reconcile.observe import runtimes_due

REPLICAS = 10
SCHEDULE = RefreshSchedule(600.0)
"""`PassSettings.runtime_refresh`: how often a healthy VM's view is read again, at moments
600 s apart (plan/view_refresh.py)."""


def write_catalog(directory: Path, page_size: int) -> Path:
    data = default_catalog_data()
    data.update(timeScale=0.0001, lroRetryAfterSeconds=0, pageSize=page_size)
    throttling = data["throttling"]
    for bucket in ("reads", "writes"):
        throttling[bucket] = {"capacity": 100_000, "refillPerSecond": 100_000}
    throttling["compute"]["LowCostGet"]["resource"] = {
        "capacity": 100_000,
        "refillPerMinute": 100_000,
    }
    for subscription in data["subscriptions"]:
        subscription["quotas"] = {}
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def connection_of(creds: dict[str, Any]) -> AccountConnection:
    """The connection the operator builds from the emulator's AzureAccount."""
    return AccountConnection(
        subscription_id=creds["subscriptionId"],
        tenant_id=creds["tenantId"],
        auth=ServicePrincipalSecret(creds["clientId"], creds["clientSecret"]),
        endpoint=AzureEndpoint(
            resource_manager=creds["resourceManagerEndpoint"],
            authority_host=creds["authorityHost"],
            ca_bundle=CaBundleFile(creds["caBundle"]),
        ),
    )


async def create_vms(
    gateways: AzureGateways, connection: AccountConnection, creds: dict[str, Any], count: int
) -> None:
    """Straight through the SDK: the creates are the setup, not what is measured."""
    group = creds["resourceGroup"]
    async with gateways.clients.borrow(connection) as clients:
        operations = clients.compute.virtual_machines
        names = iter(range(count))

        async def worker() -> None:
            for index in names:
                name = f"bench-{index}"
                poller = await operations.begin_create_or_update(
                    group, name, vm_body(creds["location"], creds["subnetId"], name)
                )
                await poller.result()

        await asyncio.gather(*(worker() for _ in range(16)))


async def read_pool(
    gateway: ComputeGateway, memory: PoolMemory, owned: list[PoolVm], now: datetime
) -> int:
    """One pool's views as its pass reads them (pool_pass.py `_read_runtimes`); how many."""
    read = 0
    for vm in runtimes_due(owned, memory, now, SCHEDULE):
        if memory.may_read_runtime(vm.name, now):
            runtime = await gateway.get_vm_runtime(vm)
            read += 1
            if runtime is not None:
                memory.runtimes[vm.name] = SeenRuntime(runtime, now)
    return read


async def read_views(
    gateway: ComputeGateway,
    pools: Sequence[tuple[PoolMemory, list[PoolVm]]],
    rounds: int,
    rate: float,
) -> int:
    """Every pool's views, `rounds` times: a pool's pass started every 10 / `rate` seconds, so
    that views are asked for at `rate` a second; the views read."""
    period = SCHEDULE.period
    start = datetime.fromtimestamp(math.ceil(time.time() / period) * period, UTC)
    passes = []
    for round_ in range(rounds):
        now = start + timedelta(seconds=period * (round_ + 1))
        for memory, owned in pools:
            passes.append(asyncio.create_task(read_pool(gateway, memory, owned, now)))
            await asyncio.sleep(len(owned) / rate)
    return sum(await asyncio.gather(*passes))


async def bare_gets(creds: dict[str, Any], vms: Sequence[PoolVm], rate: float) -> float:
    """The CPU per GET of each VM's instance view (the SDK's URL) with aiohttp alone, asked for
    as the views are: 10 one after another, every 10 / `rate` seconds."""
    connection = connection_of(creds)
    credential = build_credential(connection)
    try:
        token = (await credential.get_token(connection.endpoint.arm_scope)).token
    finally:
        await credential.close()
    urls = [
        creds["resourceManagerEndpoint"]
        + build_virtual_machines_instance_view_request(
            resource_group_name=vm.resource_group,
            vm_name=vm.name,
            subscription_id=creds["subscriptionId"],
        ).url
        for vm in vms
    ]
    context = ssl.create_default_context(cafile=creds["caBundle"])
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(ssl=context)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def get(batch: Sequence[str]) -> None:
            for url in batch:
                async with session.get(url) as response:
                    json.loads(await response.read())

        await get(urls[:1])  # a connection open, as for the operator's reads
        cpu = time.process_time()
        batches = []
        for start in range(0, len(urls), REPLICAS):
            batches.append(asyncio.create_task(get(urls[start : start + REPLICAS])))
            await asyncio.sleep(REPLICAS / rate)
        await asyncio.gather(*batches)
        return (time.process_time() - cpu) / len(urls)


def profile_lines(profile: cProfile.Profile, top: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        vms = args.pools * REPLICAS
        server = await serve_emulator(directory / "data", write_catalog(directory, page_size=50))
        gateways = AzureGateways(
            client_options=ClientOptions(polling_interval=0.05), observer=OperatorMetrics()
        )
        try:
            creds = json.loads((directory / "data" / "credentials.json").read_text())
            connection = connection_of(creds)
            await create_vms(gateways, connection, creds, vms)
            async with gateways.borrow(connection, location=creds["location"]) as gateway:
                listed = await gateway.list_group_vms(creds["resourceGroup"])
                vm_list = sorted(listed, key=lambda vm: int(vm.name.split("-")[1]))
                pools = [
                    (PoolMemory(), vm_list[index : index + REPLICAS])
                    for index in range(0, vms, REPLICAS)
                ]
                # One read first: the token and the TLS connection are not a view's cost.
                await gateway.get_vm_runtime(vm_list[0])
                profile = cProfile.Profile(time.process_time) if args.profile else None
                wall, cpu = time.perf_counter(), time.process_time()
                if profile is not None:
                    profile.enable()
                read = await read_views(gateway, pools, args.rounds, args.rate)
                if profile is not None:
                    profile.disable()
                cpu = time.process_time() - cpu
                wall = time.perf_counter() - wall
            floor = await bare_gets(creds, vm_list * args.rounds, args.rate)
        finally:
            await gateways.close()
            server.terminate()
            await server.wait()
    healthy = sum(
        1
        for memory, _ in pools
        for seen in memory.runtimes.values()
        if seen.runtime.health == "healthy"
    )
    print(f"{source_version()}, operator source {Path(vmroll.__file__).parent}")
    print(load_average())
    print(
        f"{args.pools} pools x {REPLICAS} VMs, {args.rounds} rounds, views asked for at "
        f"{args.rate:g} a second{', under cProfile' if profile is not None else ''}"
    )
    print(f"views read: {read} ({healthy} VMs last seen healthy) in {wall:.1f} s wall")
    print(f"operator process CPU: {cpu:.2f} s, {cpu / read * 1000:.3f} ms per view")
    print(f"aiohttp alone, the same {read} GETs: {floor * 1000:.3f} ms of CPU each")
    if profile is not None:
        print(profile_lines(profile, args.top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--rate", type=float, default=17.0, help="views asked for a second (a pool's at once)"
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the reads")
    parser.add_argument("--top", type=int, default=30, help="profile entries printed")
    args = parser.parse_args()
    # As `vmroll run` logs: INFO, but azure-core's loggers at WARNING (handlers/operator.py).
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("azure").setLevel(logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
