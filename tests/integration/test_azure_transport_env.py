"""What vmroll's HTTPS transport (azure/transport.py) takes from the environment, against the
emulator with the real SDK: the proxy of `HTTPS_PROXY`, and no `.netrc` login beside the bearer
token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.compute.aio import ComputeManagementClient
from emulator_clients import POLLING_INTERVAL, connection_of

from vmroll.azure import AzureGateways
from vmroll.azure.clients import ClientOptions
from vmroll.emulator.server import Emulator
from vmroll.plan.ownership import PoolIdentity

pytestmark = pytest.mark.integration

WEB = PoolIdentity(namespace="team", name="web", uid="uid-web")


class TunnelProxy:
    """An HTTP proxy that only tunnels (`CONNECT`), which is how HTTPS goes through a proxy;
    it records the target of every tunnel."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self._handlers: list[asyncio.Task[None]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.append(task)
        request_line = (await reader.readline()).decode()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        method, target, _ = request_line.split(" ", 2)
        assert method == "CONNECT"
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    async def wait_closed(self) -> None:
        await asyncio.gather(*self._handlers)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[TunnelProxy, str]]:
    tunnels = TunnelProxy()
    server = await asyncio.start_server(tunnels.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield tunnels, f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await tunnels.wait_closed()
        await server.wait_closed()


async def create_vm(compute: ComputeManagementClient, emulator: Emulator, body: Any) -> None:
    """Before the environment is changed: the SDK's own transport reads it too."""
    group = emulator.credentials.resource_group
    await (await compute.virtual_machines.begin_create_or_update(group, "web-0", body)).result()


async def read_group(emulator: Emulator) -> int:
    """Every VM of the group listed and its view read, through a gateway of its own (closed
    after: its connections end); how many views said the VM runs."""
    gateways = AzureGateways(client_options=ClientOptions(polling_interval=POLLING_INTERVAL))
    try:
        async with gateways.borrow(
            connection_of(emulator.credentials), location=emulator.credentials.location
        ) as gateway:
            listed = await gateway.list_group_vms(emulator.credentials.resource_group)
            runtimes = [await gateway.get_vm_runtime(vm) for vm in listed]
            return sum(1 for r in runtimes if r is not None and r.power_state == "running")
    finally:
        await gateways.close()


async def test_requests_go_through_the_proxy_of_the_environment(
    emulator: Emulator,
    proxy: tuple[TunnelProxy, str],
    monkeypatch: pytest.MonkeyPatch,
    compute_client: ComputeManagementClient,
    vm_body: Any,
) -> None:
    await create_vm(compute_client, emulator, vm_body())
    tunnels, address = proxy
    monkeypatch.setenv("HTTPS_PROXY", address)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert await read_group(emulator) == 1

    host = emulator.base_url.removeprefix("https://")
    assert tunnels.tunnels
    assert set(tunnels.tunnels) == {host}


async def test_a_host_the_environment_exempts_is_not_proxied(
    emulator: Emulator,
    proxy: tuple[TunnelProxy, str],
    monkeypatch: pytest.MonkeyPatch,
    compute_client: ComputeManagementClient,
    vm_body: Any,
) -> None:
    await create_vm(compute_client, emulator, vm_body())
    tunnels, address = proxy
    monkeypatch.setenv("HTTPS_PROXY", address)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    assert await read_group(emulator) == 1

    assert tunnels.tunnels == []


async def test_a_netrc_login_for_the_arm_host_is_not_sent(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    compute_client: ComputeManagementClient,
    vm_body: Any,
) -> None:
    """aiohttp refuses a request with both a `.netrc` login and an Authorization header: with
    its `trust_env`, such an entry for ARM's host failed every request."""
    await create_vm(compute_client, emulator, vm_body())
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-a-bearer-token\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))

    assert await read_group(emulator) == 1
