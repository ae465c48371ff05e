"""How many VM GETs and VM lists per second the emulator answers over HTTPS, with real clients.

Starts `vmroll emulator serve` as a process (its own CPU, as in dev and e2e) with a catalog that
disables throttling and quotas and makes operations instant, creates `--vms` VMs, then for each
client (raw aiohttp, and the real async azure-mgmt-compute SDK with azure-identity) runs
`--concurrency` workers doing VM get or VM list for `--seconds`, and prints requests per second
and latency.

    .venv/bin/python benchmarks/emulator_throughput.py [--vms 20] [--concurrency 16] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from _emulator_process import serve_emulator
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.emulator.catalog import default_catalog_data

API_VERSION = "2026-04-01"


def write_catalog(directory: Path, page_size: int) -> Path:
    data = default_catalog_data()
    data.update(timeScale=0.0001, lroRetryAfterSeconds=0, pageSize=page_size)
    data["throttling"] = {"enabled": False}
    for subscription in data["subscriptions"]:
        subscription["quotas"] = {}
    path = directory / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def vm_body(creds: dict[str, Any]) -> dict[str, Any]:
    return {
        "location": creds["location"],
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_B2s"},
            "storageProfile": {
                "imageReference": {
                    "publisher": "Canonical",
                    "offer": "ubuntu-24_04-lts",
                    "sku": "server",
                    "version": "latest",
                }
            },
            "osProfile": {"adminUsername": "azureuser"},
            "networkProfile": {
                "networkApiVersion": "2020-11-01",
                "networkInterfaceConfigurations": [
                    {
                        "name": "nic",
                        "properties": {
                            "ipConfigurations": [
                                {"name": "ip", "properties": {"subnet": {"id": creds["subnetId"]}}}
                            ]
                        },
                    }
                ],
            },
        },
    }


async def measure(
    label: str, call: Callable[[], Awaitable[None]], concurrency: int, seconds: float
) -> None:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    print(
        f"{label:<28} {len(latencies) / elapsed:8.0f} req/s   "
        f"p50 {statistics.median(ordered) * 1000:6.1f} ms   "
        f"p99 {ordered[int(len(ordered) * 0.99) - 1] * 1000:6.1f} ms   n={len(latencies)}"
    )


async def run(vms: int, concurrency: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        server = await serve_emulator(
            directory / "data", write_catalog(directory, page_size=max(vms, 1))
        )
        try:
            creds = json.loads((directory / "data" / "credentials.json").read_text())
            await benchmark(creds, vms, concurrency, seconds)
        finally:
            server.terminate()
            await server.wait()


async def benchmark(creds: dict[str, Any], vms: int, concurrency: int, seconds: float) -> None:
    credential = ClientSecretCredential(
        creds["tenantId"], creds["clientId"], creds["clientSecret"],
        authority=creds["authorityHost"], disable_instance_discovery=True,
        connection_verify=creds["caBundle"],
    )  # fmt: skip
    client = ComputeManagementClient(
        credential, creds["subscriptionId"], base_url=creds["resourceManagerEndpoint"],
        connection_verify=creds["caBundle"], polling_interval=0.01,
    )  # fmt: skip
    group = creds["resourceGroup"]
    async with credential, client:
        for index in range(vms):
            poller = await client.virtual_machines.begin_create_or_update(
                group, f"bench-{index}", vm_body(creds)
            )
            await poller.result()
        token = (await credential.get_token("https://management.azure.com/.default")).token
        base = (
            f"{creds['resourceManagerEndpoint']}/subscriptions/{creds['subscriptionId']}"
            f"/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines"
        )
        context = ssl.create_default_context(cafile=creds["caBundle"])
        connector = aiohttp.TCPConnector(ssl=context, limit=concurrency)
        headers = {"Authorization": f"Bearer {token}"}
        params = {"api-version": API_VERSION}
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

            async def raw_get() -> None:
                async with session.get(f"{base}/bench-0", params=params) as response:
                    await response.read()

            async def raw_list() -> None:
                async with session.get(base, params=params) as response:
                    await response.read()

            print(f"{vms} VMs, {concurrency} concurrent workers, {seconds:g} s per run")
            await measure("aiohttp  VM get", raw_get, concurrency, seconds)
            await measure(f"aiohttp  VM list ({vms}/page)", raw_list, concurrency, seconds)

        async def sdk_get() -> None:
            await client.virtual_machines.get(group, "bench-0")

        async def sdk_list() -> None:
            async for _ in client.virtual_machines.list(group):
                pass

        await measure("SDK      VM get", sdk_get, concurrency, seconds)
        await measure(f"SDK      VM list ({vms}/page)", sdk_list, concurrency, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(run(args.vms, args.concurrency, args.seconds))


if __name__ == "__main__":
    main()
