"""Shared fixtures for integration tests: a real emulator over HTTPS and the real Azure SDK clients.

Fixtures (all function-scoped, so each test gets a fresh, empty emulator):

- `emulator_catalog`: the built-in catalog made fast for tests: `timeScale` 0.001 (a 180 s
  create takes 0.18 s), no `Retry-After` on LRO answers (the SDK then polls every
  `POLLING_INTERVAL` seconds), ARM's default throttling. Override it in a test module to change
  the emulator's world, e.g. `emulator_catalog.model_copy(update={"page_size": 2})`.
- `emulator_clock`: the emulator's clock, `time.time`. Override it with `manual_clock` (a
  `ManualClock`: call `.advance(seconds)`) to hold operations in progress deterministically.
- `emulator`: a running in-process `vmroll.emulator.server.Emulator` built from
  `emulator_catalog`, data in `tmp_path / "emulator"`. Use `emulator.credentials` (typed, as in
  credentials.json: subscription, resource group, location, subnet id, CA bundle),
  `emulator.base_url`, and helpers: `vms()`, `implied_resources()`, `request_counts()`,
  `reset_counters()`, `set_faults(Faults(...))`, `credentials_for(principal)`,
  `issue_token(principal, lifetime)`. The catalog has principals `vmroll-operator`
  (Contributor on the subscription; the default credentials), `vmroll-reader` (Reader on
  rg-vmroll) and `vmroll-nobody` (no role).
- `credential`: `azure.identity.aio.ClientSecretCredential` for the default principal, with the
  emulator as authority, instance discovery disabled and the emulator's CA as `connection_verify`.
- `compute_client`: `azure.mgmt.compute.aio.ComputeManagementClient` on that credential, with the
  emulator as `base_url`, ARM's credential scope, the CA bundle, and a short polling interval.
- `terms_client`: `azure.mgmt.marketplaceordering.aio.MarketplaceOrderingAgreements`, likewise.
- `gateways` / `lend` / `gateway`: vmroll's own `AzureGateways` (short polling interval, closed
  after the test), the production factory the operator keeps in its state; `await
  lend(connection)` borrows a connection's `ComputeGateway` for VMs of the catalog's region
  (`emulator.credentials.location`) from it until the test ends (as a
  pass borrows one for the pass); `gateway` is the one of the default principal.

- `arm`: a raw HTTPS client (`ArmHttp`) holding a bearer token of the default principal, for
  what the SDK hides: status codes, headers, `nextLink`. `await arm.call("GET", path)` returns
  `(status, headers, json_or_None)`; `api-version` defaults to the SDK's.
- `client_for`: `async with client_for("vmroll-reader") as client:` a compute client signed in
  as another catalog principal.
- `vm_body`: a factory of valid VM create bodies (Ubuntu latest, the catalog's subnet).

`emulator_clients` (a plain module beside this one, imported by name) builds the same for another
principal or another emulator: `make_credential(creds)`, `make_compute_client(creds, credential)`,
`make_terms_client(creds, credential)`, `connection_of(creds)` and `ssl_context(emulator)`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.marketplaceordering.aio import MarketplaceOrderingAgreements
from emulator_clients import (
    POLLING_INTERVAL,
    Lend,
    connection_of,
    make_compute_client,
    make_credential,
    make_terms_client,
    ssl_context,
)

from vmroll.azure import AzureGateways, ComputeGateway
from vmroll.azure.clients import ClientOptions
from vmroll.azure.settings import AccountConnection
from vmroll.emulator.catalog import Catalog, load_catalog
from vmroll.emulator.server import Emulator, running_emulator
from vmroll.emulator.vm_routes import API_VERSIONS

UBUNTU_LATEST = {
    "publisher": "Canonical",
    "offer": "ubuntu-24_04-lts",
    "sku": "server",
    "version": "latest",
}


def fast_catalog() -> Catalog:
    return load_catalog().model_copy(update={"time_scale": 0.001, "lro_retry_after_seconds": 0})


class ArmHttp:
    """Plain HTTPS requests to the emulator's ARM surface, with a bearer token."""

    def __init__(
        self, emulator: Emulator, session: aiohttp.ClientSession, token: str | None
    ) -> None:
        self.emulator = emulator
        self.session = session
        self.token = token

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        api_version: str | None = API_VERSIONS[-1],
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        query = dict(params or {})
        if api_version is not None:
            query["api-version"] = api_version
        all_headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        all_headers.update(headers or {})
        url = path if path.startswith("https://") else self.emulator.base_url + path
        async with self.session.request(
            method, url, json=json, params=query, headers=all_headers
        ) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, dict(response.headers), body


@pytest.fixture
async def arm(emulator: Emulator) -> AsyncIterator[ArmHttp]:
    connector = aiohttp.TCPConnector(ssl=ssl_context(emulator))
    async with aiohttp.ClientSession(connector=connector) as session:
        yield ArmHttp(emulator, session, emulator.issue_token("vmroll-operator"))


class ManualClock:
    """A clock that moves only when a test says so: operations stay in progress until then."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Paced:
    """vmroll's clock and sleep for tests of its pacing against an emulator on `ManualClock`:
    a sleep (or `advance`) moves the emulator's clock too, so its buckets refill meanwhile."""

    def __init__(self, emulator_clock: ManualClock) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._emulator_clock = emulator_clock

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self._emulator_clock.advance(seconds)


@pytest.fixture
def emulator_catalog() -> Catalog:
    return fast_catalog()


@pytest.fixture
def emulator_clock() -> Callable[[], float]:
    return time.time


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def emulator(
    tmp_path: Path, emulator_catalog: Catalog, emulator_clock: Callable[[], float]
) -> AsyncIterator[Emulator]:
    async with running_emulator(
        tmp_path / "emulator", catalog=emulator_catalog, clock=emulator_clock
    ) as running:
        yield running


@pytest.fixture
def client_for(
    emulator: Emulator,
) -> Callable[[str], AbstractAsyncContextManager[ComputeManagementClient]]:
    """Open a compute client authenticated as another catalog principal (name or client id)."""

    @asynccontextmanager
    async def open_client(principal: str) -> AsyncIterator[ComputeManagementClient]:
        creds = emulator.credentials_for(principal)
        async with (
            make_credential(creds) as credential,
            make_compute_client(creds, credential) as client,
        ):
            yield client

    return open_client


@pytest.fixture
async def credential(emulator: Emulator) -> AsyncIterator[ClientSecretCredential]:
    async with make_credential(emulator.credentials) as created:
        yield created


@pytest.fixture
async def compute_client(
    emulator: Emulator, credential: ClientSecretCredential
) -> AsyncIterator[ComputeManagementClient]:
    async with make_compute_client(emulator.credentials, credential) as client:
        yield client


@pytest.fixture
async def terms_client(
    emulator: Emulator, credential: ClientSecretCredential
) -> AsyncIterator[MarketplaceOrderingAgreements]:
    async with make_terms_client(emulator.credentials, credential) as client:
        yield client


@pytest.fixture
async def gateways() -> AsyncIterator[AzureGateways]:
    created = AzureGateways(client_options=ClientOptions(polling_interval=POLLING_INTERVAL))
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
async def lend(emulator: Emulator, gateways: AzureGateways) -> AsyncIterator[Lend]:
    region = emulator.credentials.location
    async with AsyncExitStack() as borrowed:

        async def borrow(connection: AccountConnection) -> ComputeGateway:
            return await borrowed.enter_async_context(gateways.borrow(connection, location=region))

        yield borrow


@pytest.fixture
async def gateway(emulator: Emulator, lend: Lend) -> ComputeGateway:
    return await lend(connection_of(emulator.credentials))


VmBody = Callable[..., dict[str, Any]]


@pytest.fixture
def vm_body(emulator: Emulator) -> VmBody:
    """A factory of valid VM create bodies in the emulator's resource group and subnet.

    Keyword arguments: `size`, `image` (an imageReference), `tags`, `delete_option` (for the NIC
    and OS disk), `location`.
    """
    creds = emulator.credentials

    def build(
        *,
        size: str = "Standard_D2s_v5",
        image: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        delete_option: str = "Delete",
        location: str | None = None,
    ) -> dict[str, Any]:
        return {
            "location": location or creds.location,
            "tags": tags or {},
            "properties": {
                "hardwareProfile": {"vmSize": size},
                "storageProfile": {
                    "imageReference": image or dict(UBUNTU_LATEST),
                    "osDisk": {"createOption": "FromImage", "deleteOption": delete_option},
                },
                "osProfile": {
                    "adminUsername": "azureuser",
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "ssh": {
                            "publicKeys": [
                                {
                                    "path": "/home/azureuser/.ssh/authorized_keys",
                                    "keyData": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEmulator",
                                }
                            ]
                        },
                    },
                },
                "networkProfile": {
                    "networkApiVersion": "2020-11-01",
                    "networkInterfaceConfigurations": [
                        {
                            "name": "nic",
                            "properties": {
                                "primary": True,
                                "deleteOption": delete_option,
                                "ipConfigurations": [
                                    {
                                        "name": "ipconfig",
                                        "properties": {"subnet": {"id": creds.subnet_id}},
                                    }
                                ],
                            },
                        }
                    ],
                },
            },
        }

    return build
