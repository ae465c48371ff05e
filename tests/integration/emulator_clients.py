"""How integration tests connect to the emulator: SDK credentials and clients, vmroll's own
gateway connection, a TLS context that trusts the emulator's CA, an admin API session, and
what the budget tests share: a small ARM deletes bucket, a pool's VM to delete.

Kept apart from conftest.py so that tests which start their own emulator (a restart, a second
principal) build their clients by name, the same way the fixtures do.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

import aiohttp
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.marketplaceordering.aio import MarketplaceOrderingAgreements

from vmroll.azure import (
    AccountConnection,
    AzureEndpoint,
    AzureGateways,
    CaBundleFile,
    ComputeGateway,
    ServicePrincipalSecret,
)
from vmroll.azure.budget import BudgetSettings, Limit
from vmroll.azure.observer import RetryCause
from vmroll.azure.vms import PoolVm, vm_resource_id
from vmroll.emulator.catalog import Bucket, Catalog
from vmroll.emulator.server import Emulator, EmulatorCredentials

POLLING_INTERVAL = 0.02
Lend = Callable[[AccountConnection], Awaitable[ComputeGateway]]
"""The `lend` fixture: a connection's gateway, borrowed from `AzureGateways` for the test."""


def make_credential(creds: EmulatorCredentials) -> ClientSecretCredential:
    """A client-secret credential with the emulator as authority and its CA trusted."""
    return ClientSecretCredential(
        creds.tenant_id,
        creds.client_id,
        creds.client_secret,
        authority=creds.authority_host,
        disable_instance_discovery=True,
        connection_verify=creds.ca_bundle,
    )


def make_compute_client(
    creds: EmulatorCredentials, credential: ClientSecretCredential
) -> ComputeManagementClient:
    """A compute client on the emulator's ARM endpoint, polling operations every
    `POLLING_INTERVAL` seconds."""
    return ComputeManagementClient(
        credential,
        creds.subscription_id,
        base_url=creds.resource_manager_endpoint,
        credential_scopes=[creds.credential_scope],
        connection_verify=creds.ca_bundle,
        polling_interval=POLLING_INTERVAL,
    )


def make_terms_client(
    creds: EmulatorCredentials, credential: ClientSecretCredential
) -> MarketplaceOrderingAgreements:
    """A marketplace-ordering client on the emulator's ARM endpoint."""
    return MarketplaceOrderingAgreements(
        credential,
        creds.subscription_id,
        base_url=creds.resource_manager_endpoint,
        credential_scopes=[creds.credential_scope],
        connection_verify=creds.ca_bundle,
    )


def connection_of(creds: EmulatorCredentials, *, secret: str | None = None) -> AccountConnection:
    """The connection vmroll's gateway uses for these credentials (or for another `secret`)."""
    return AccountConnection(
        subscription_id=creds.subscription_id,
        tenant_id=creds.tenant_id,
        auth=ServicePrincipalSecret(
            creds.client_id, creds.client_secret if secret is None else secret
        ),
        endpoint=AzureEndpoint(
            resource_manager=creds.resource_manager_endpoint,
            authority_host=creds.authority_host,
            ca_bundle=CaBundleFile(creds.ca_bundle),
        ),
    )


def ssl_context(emulator: Emulator) -> ssl.SSLContext:
    """A client TLS context that trusts the emulator's CA, for plain HTTPS requests."""
    return ssl.create_default_context(cafile=emulator.credentials.ca_bundle)


def admin_session(emulator: Emulator) -> aiohttp.ClientSession:
    """A session for the admin API: the emulator's CA trusted, its admin token sent."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ssl_context(emulator)),
        headers=emulator.credentials.admin_headers,
    )


class Counted:
    """The requests the operator's metrics count, by operation and status."""

    def __init__(self) -> None:
        self.requests: dict[str, dict[str, int]] = {}

    def request(self, operation: str, status: str) -> None:
        statuses = self.requests.setdefault(operation, {})
        statuses[status] = statuses.get(status, 0) + 1

    def retry_wait(self, cause: RetryCause, seconds: float) -> None:
        pass

    def budget_wait(self, seconds: float) -> None:
        pass

    def budget_exhausted(self) -> None:
        pass


def refusing_gateways(woken: list[str]) -> AzureGateways:
    """Gateways whose write budget keeps no reserve and lets no write wait: a write that meets
    an empty bucket is refused at once, and each owner a token is then set aside for (its
    ticket's turn) is appended to `woken`."""
    return AzureGateways(
        budget_settings=BudgetSettings(reserve=0.0, max_wait=0.0), token_set_aside=woken.append
    )


async def until_woken(woken: list[str]) -> None:
    """Until the write budget has woken an owner, 5 s at most."""
    for _ in range(100):
        if woken:
            return
        await asyncio.sleep(0.05)


def with_deletes_bucket(catalog: Catalog, deletes: Limit) -> Catalog:
    """`catalog` with ARM's deletes bucket of `deletes`, small enough for a test to empty."""
    bucket = Bucket(capacity=int(deletes.capacity), refill_per_second=deletes.refill_per_second)
    throttling = catalog.throttling.model_copy(update={"deletes": bucket})
    return catalog.model_copy(update={"throttling": throttling})


def pool_vm(emulator: Emulator, pool: str) -> PoolVm:
    """The one VM of `pool` in the emulator's resource group, as its pool lists it."""
    creds = emulator.credentials
    name = f"{pool}-0"
    resource_id = vm_resource_id(creds.subscription_id, creds.resource_group, name)
    return PoolVm(
        name=name, resource_id=resource_id, resource_group=creds.resource_group, pool_uid=pool,
        provisioning_state="Succeeded", zone=None, revision="r1", image_version=None, tags={},
    )  # fmt: skip
