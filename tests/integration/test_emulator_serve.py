"""`vmroll emulator serve` as a user runs it: a process, credentials.json, and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.compute.aio import ComputeManagementClient

pytestmark = pytest.mark.integration

COMMAND = [sys.executable, "-m", "vmroll.cli", "emulator", "serve", "--port", "0"]


async def _wait_for_listening(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    assert line.startswith(b"vmroll emulator listening on https://"), line
    return line.decode().split()[-1]


async def test_serve_writes_credentials_answers_the_sdk_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    process = await asyncio.create_subprocess_exec(
        *COMMAND, "--data-dir", str(data_dir), stdout=asyncio.subprocess.PIPE
    )
    try:
        base_url = await _wait_for_listening(process)
        creds = json.loads((data_dir / "credentials.json").read_text())
        credential = ClientSecretCredential(
            creds["tenantId"],
            creds["clientId"],
            creds["clientSecret"],
            authority=creds["authorityHost"],
            disable_instance_discovery=True,
            connection_verify=creds["caBundle"],
        )
        client = ComputeManagementClient(
            credential,
            creds["subscriptionId"],
            base_url=creds["resourceManagerEndpoint"],
            connection_verify=creds["caBundle"],
        )
        async with credential, client:
            listed = [vm async for vm in client.virtual_machines.list(creds["resourceGroup"])]
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=60)

    assert creds["resourceManagerEndpoint"] == base_url
    assert not base_url.endswith(":0")
    assert Path(creds["caBundle"]) == data_dir / "ca.crt"
    assert creds["subnetId"].endswith("/subnets/default")
    assert listed == []
    assert code == 0


async def test_a_bad_catalog_exits_2_naming_the_field(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("tenantId: t\nsubscriptions: []\nlocations: []\n")
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "--data-dir",
        str(tmp_path / "data"),
        "--catalog",
        str(catalog),
        stderr=asyncio.subprocess.PIPE,
    )

    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 2
    assert b"subscriptions: List should have at least 1 item" in stderr
    assert str(catalog).encode() in stderr


async def test_sigint_stops_cleanly_and_saves_the_state(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "--data-dir",
        str(tmp_path / "data"),
        "--state",
        str(state_file),
        stdout=asyncio.subprocess.PIPE,
    )
    await _wait_for_listening(process)

    process.send_signal(signal.SIGINT)
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 0
    assert b"vmroll emulator stopped" in stdout
    assert json.loads(state_file.read_text())["vms"] == []
