"""What the benchmarks that talk to the emulator alone share: `vmroll emulator serve` as a
process of its own (so that its CPU is not the benchmark's), and the body of a VM to create in it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any


async def serve_emulator(data_dir: Path, catalog: Path) -> asyncio.subprocess.Process:
    """`vmroll emulator serve` on a free port, once it has printed that it listens."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vmroll.cli", "emulator", "serve", "--port", "0",
        "--data-dir", str(data_dir), "--catalog", str(catalog),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    await process.stdout.readline()
    return process


def vm_body(location: str, subnet_id: str, name: str) -> dict[str, Any]:
    """A Linux VM from the catalog's Ubuntu image, its OS disk deleted with it."""
    nic = {"name": "nic", "properties": {"primary": True, "ipConfigurations": [
        {"name": "ip", "properties": {"subnet": {"id": subnet_id}}}]}}  # fmt: skip
    return {
        "location": location,
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {
                "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                   "sku": "server", "version": "latest"},
                "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"},
            },
            "osProfile": {"computerName": name, "adminUsername": "azureuser",
                          "linuxConfiguration": {"disablePasswordAuthentication": True,
                                                 "ssh": {"publicKeys": []}}},
            "networkProfile": {"networkApiVersion": "2020-11-01",
                               "networkInterfaceConfigurations": [nic]},
        },
    }  # fmt: skip
