"""Operator CPU per 1,000 VMs of a resource group's list, through the operator's own path,
without Kubernetes.

Issue 12: at 10,000 VMs py-spy put 14 % of the operator's samples in JSON decoding, each list
page decoded by the SDK's pipeline and again by vmroll (`operator/vmroll/azure/vms.py`
`list_group_vms`). This script isolates a list's cost. It starts `vmroll emulator serve` as a
process (its CPU is not ours: only this process's is counted), the built-in catalog with pages
of 50 VMs as ARM's, creates instant, ARM's buckets raised and Compute's off, creates `--vms`
VMs with the SDK, then lists the group `--rounds` times with `ComputeGateway.list_group_vms` on
a gateway borrowed from `AzureGateways` (the clients, credential, transport and request
policies the operator builds, reporting to `OperatorMetrics`), one list after another; the
operator's read pacer still paces the pages at ARM's 25 reads a second.

Prints the process CPU (`time.process_time`, user + system, every thread) per 1,000 listed VMs
over the lists alone, then, as the floor that is not the operator's to cut, the CPU of the
same pages fetched with aiohttp alone (one session, the same TLS context and bearer token,
each page read and decoded as JSON once, its `nextLink` followed).

    PYTHONPATH=operator .venv/bin/python benchmarks/list_pages.py [--vms 200] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from _emulator_process import serve_emulator
from _stack import load_average, source_version
from azure.mgmt.compute.operations._operations import build_virtual_machines_list_request
from instance_views import connection_of, create_vms

import vmroll
from vmroll.azure import AzureGateways
from vmroll.azure.clients import ClientOptions
from vmroll.azure.credentials import build_credential
from vmroll.emulator.catalog import default_catalog_data
from vmroll.metrics.registry import OperatorMetrics

PAGE_SIZE = 50


def write_catalog(directory: Path) -> Path:
    data = default_catalog_data()
    data.update(timeScale=0.0001, lroRetryAfterSeconds=0, pageSize=PAGE_SIZE)
    throttling = data["throttling"]
    for bucket in ("reads", "writes"):
        throttling[bucket] = {"capacity": 100_000, "refillPerSecond": 100_000}
    throttling["compute"]["enabled"] = False
    for subscription in data["subscriptions"]:
        subscription["quotas"] = {}
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def bare_lists(creds: dict[str, Any], rounds: int) -> tuple[float, int]:
    """The CPU of `rounds` lists with aiohttp alone, each page decoded once; the VMs listed."""
    connection = connection_of(creds)
    credential = build_credential(connection)
    try:
        token = (await credential.get_token(connection.endpoint.arm_scope)).token
    finally:
        await credential.close()
    first = (
        creds["resourceManagerEndpoint"]
        + build_virtual_machines_list_request(
            resource_group_name=creds["resourceGroup"], subscription_id=creds["subscriptionId"]
        ).url
    )
    context = ssl.create_default_context(cafile=creds["caBundle"])
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(ssl=context)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def list_once() -> int:
            listed, url = 0, first
            while url:
                async with session.get(url) as response:
                    page = json.loads(await response.read())
                listed += len(page["value"])
                url = page.get("nextLink")
            return listed

        await list_once()  # a connection open, as for the operator's lists
        cpu = time.process_time()
        listed = 0
        for _ in range(rounds):
            listed += await list_once()
        return time.process_time() - cpu, listed


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        server = await serve_emulator(directory / "data", write_catalog(directory))
        gateways = AzureGateways(
            client_options=ClientOptions(polling_interval=0.05), observer=OperatorMetrics()
        )
        try:
            creds = json.loads((directory / "data" / "credentials.json").read_text())
            connection = connection_of(creds)
            group = creds["resourceGroup"]
            await create_vms(gateways, connection, creds, args.vms)
            async with gateways.borrow(connection, location=creds["location"]) as gateway:
                # One list first: the token and the TLS connection are not a list's cost.
                await gateway.list_group_vms(group)
                listed = 0
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(args.rounds):
                    listed += len(await gateway.list_group_vms(group))
                cpu = time.process_time() - cpu
                wall = time.perf_counter() - wall
            floor, floor_listed = await bare_lists(creds, args.rounds)
        finally:
            await gateways.close()
            server.terminate()
            await server.wait()
    print(f"{source_version()}, operator source {Path(vmroll.__file__).parent}")
    print(load_average())
    pages = args.rounds * -(-args.vms // PAGE_SIZE)
    print(f"{args.vms} VMs, {args.rounds} lists of pages of {PAGE_SIZE} ({pages} pages)")
    print(f"VMs listed: {listed} in {wall:.1f} s wall")
    print(f"operator process CPU: {cpu:.2f} s, {cpu / listed * 1e6:.0f} ms per 1,000 VMs listed")
    print(
        f"aiohttp alone, the same {floor_listed} VMs: "
        f"{floor / floor_listed * 1e6:.0f} ms of CPU per 1,000 VMs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    # As `vmroll run` logs: INFO, but azure-core's loggers at WARNING (handlers/operator.py).
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("azure").setLevel(logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
