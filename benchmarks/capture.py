"""ARM calls and wall time of one image capture (issue 10), on the built-in catalog.

Starts the emulator in process with the built-in catalog (timeScale 0.05: the copy takes 9 s and
each region 15 s), creates a VM with the real SDK, then runs the ImageCapture pass exactly as
the operator's handler runs it (reconcile/capture_pass.py over the real capture gateway and
azure-identity, each pass waiting the delay the previous one asked for), without Kubernetes:
status patches are merged into the next pass's object. Counts every ARM request the emulator
served between the first pass and Ready (token requests left out), by operation. With
`--builder` the source is a builder VM the pass creates from the marketplace Ubuntu image with a
cloud-init (the create takes 9 s), waits for, captures and deletes, instead of a VM created first.

    .venv/bin/python benchmarks/capture.py [--regions 2] [--runs 3] [--polling-interval 1]
        [--builder]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _emulator_process import vm_body
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.compute.aio import ComputeManagementClient

from vmroll.api.capture import ImageCapture
from vmroll.azure import AzureGateways
from vmroll.azure.capture_gateway import borrow_captures
from vmroll.azure.clients import ClientOptions
from vmroll.azure.settings import (
    AccountConnection,
    AzureEndpoint,
    CaBundleFile,
    ServicePrincipalSecret,
)
from vmroll.emulator.catalog import load_catalog
from vmroll.emulator.server import Emulator, running_emulator
from vmroll.reconcile.capture_pass import CapturePass
from vmroll.reconcile.inputs import TemplateInputs

REGIONS = ("westeurope", "eastus", "northeurope", "westus")
BUILDER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwXr7qJ8Ue6bS2dGf0a9bT4XqvD2Fh1nQj7k3mPz5Lc b"


class MergedStatus:
    """The status as the API server would hold it after each merge patch."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = {}

    async def patch_status(self, patch: Mapping[str, Any]) -> None:
        merged = {**self.status, **patch}
        self.status = {k: v for k, v in merged.items() if v is not None}

    def event(self, type_: str, reason: str, message: str) -> None:
        print(f"  event {type_} {reason}: {message[:80]}")


async def source_vm(emulator: Emulator, name: str) -> str:
    c = emulator.credentials
    credential = ClientSecretCredential(
        c.tenant_id, c.client_id, c.client_secret, authority=c.authority_host,
        disable_instance_discovery=True, connection_verify=c.ca_bundle,
    )  # fmt: skip
    compute = ComputeManagementClient(
        credential, c.subscription_id, base_url=c.resource_manager_endpoint,
        credential_scopes=["https://management.azure.com/.default"],
        connection_verify=c.ca_bundle, polling_interval=0.2,
    )  # fmt: skip
    body = vm_body("westeurope", c.subnet_id, name)
    async with credential, compute:
        poller = await compute.virtual_machines.begin_create_or_update(c.resource_group, name, body)
        return str((await poller.result()).id)


def connection(emulator: Emulator) -> AccountConnection:
    """The connection the operator builds from the emulator's AzureAccount."""
    c = emulator.credentials
    return AccountConnection(
        subscription_id=c.subscription_id,
        tenant_id=c.tenant_id,
        auth=ServicePrincipalSecret(c.client_id, c.client_secret),
        endpoint=AzureEndpoint(
            resource_manager=c.resource_manager_endpoint,
            authority_host=c.authority_host,
            ca_bundle=CaBundleFile(c.ca_bundle),
        ),
    )


def builder_source(emulator: Emulator) -> dict[str, Any]:
    return {"builder": {
        "location": "westeurope",
        "image": {"marketplace": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                  "sku": "server"}},
        "template": {"vmSize": "Standard_D2s_v5", "subnetId": emulator.credentials.subnet_id,
                     "sshPublicKeys": [{"keyData": BUILDER_KEY}],
                     "customData": {"secretRef": {"name": "init", "key": "customData"}}},
    }}  # fmt: skip


async def one_run(
    regions: int, polling_interval: float, version: str, builder: bool
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        async with running_emulator(Path(directory), catalog=load_catalog()) as emulator:
            source = (
                builder_source(emulator)
                if builder
                else {"virtualMachineId": await source_vm(emulator, "configured")}
            )
            inputs = TemplateInputs((BUILDER_KEY,), b"#cloud-config\n") if builder else None
            emulator.reset_counters()
            c = emulator.credentials
            image = (f"/subscriptions/{c.subscription_id}/resourceGroups/rg-vmroll/providers/"
                     "Microsoft.Compute/galleries/vmrollGallery/images/ubuntu-web")  # fmt: skip
            spec = {
                "accountRef": {"name": "emulator"},
                "resourceGroup": "rg-vmroll",
                "source": source,
                "target": {"imageId": image, "version": version,
                           "regions": [{"name": r} for r in REGIONS[:regions]]},
            }  # fmt: skip
            meta = {"name": "golden", "namespace": "bench", "generation": 1, "uid": version}
            gateways = AzureGateways(
                client_options=ClientOptions(polling_interval=polling_interval)
            )
            sink, passes, started = MergedStatus(), 0, time.monotonic()
            try:
                while True:
                    body: dict[str, Any] = {"metadata": meta, "spec": spec}
                    if sink.status:
                        body["status"] = sink.status
                    async with borrow_captures(
                        gateways, connection(emulator), location="westeurope", owner=version
                    ) as gateway:
                        result = await CapturePass(
                            ImageCapture.model_validate(body), gateway, sink, sink,
                            datetime.now(UTC), progress_seconds=2.0, stalled_seconds=600.0,
                            builder_inputs=inputs,
                        ).run()  # fmt: skip
                    passes += 1
                    if result.settled or sink.status.get("phase") == "Failed":
                        break
                    await asyncio.sleep(result.delay)
            finally:
                await gateways.close()
            seconds = time.monotonic() - started
            counts = emulator.request_counts()["operations"]
            calls = {k: v["total"] for k, v in counts.items() if not k.startswith("Identity")}
            return {"phase": sink.status.get("phase"), "passes": passes, "seconds": seconds,
                    "calls": calls}  # fmt: skip


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=2, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--polling-interval", type=float, default=1.0)
    parser.add_argument("--builder", action="store_true", help="capture a builder VM")
    args = parser.parse_args()
    runs = []
    for index in range(args.runs):
        print(f"run {index + 1}/{args.runs}")
        version = f"2.0.{index}"
        runs.append(await one_run(args.regions, args.polling_interval, version, args.builder))
        run = runs[-1]
        total = sum(run["calls"].values())
        print(f"  {run['phase']} in {run['seconds']:.1f} s, {run['passes']} passes, "
              f"{total} ARM calls: {dict(sorted(run['calls'].items()))}")  # fmt: skip
    totals = [sum(run["calls"].values()) for run in runs]
    print(f"regions {args.regions}: ARM calls per capture median {statistics.median(totals)} "
          f"(min {min(totals)}, max {max(totals)}); wall time median "
          f"{statistics.median(run['seconds'] for run in runs):.1f} s")  # fmt: skip
    return 0 if all(run["phase"] == "Succeeded" for run in runs) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
